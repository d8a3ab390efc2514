"""A row's date as the board shows it, refined where the cell says more than it prints.

Skins print only the day for older rows and put the time elsewhere: in the cell's `title`
attribute (sketchbook5: `title="10:21"` under `2026.11.30`, or a full timestamp), or in a
`<time datetime>`. Pure: a selectolax row in, an aware datetime in the board's zone out,
never after the poll (`now`): a refinement or a `<time datetime>` ahead of it is the poll.
"""

from __future__ import annotations

import re
from datetime import datetime, time, tzinfo

from selectolax.lexbor import LexborNode

from relay.core.text import fold_whitespace, not_after, parse_board_date

_CLOCK_ONLY = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?")


def row_date(
    row: LexborNode, date_selectors: tuple[str, ...], now: datetime, tz: tzinfo
) -> datetime | None:
    found = _row_date(row, date_selectors, now, tz)
    return None if found is None else not_after(found, now.astimezone(tz))


def _row_date(
    row: LexborNode, date_selectors: tuple[str, ...], now: datetime, tz: tzinfo
) -> datetime | None:
    node = _first(row, date_selectors)
    if node is not None:
        nodes = [node]
    else:  # no date selector hit: a <time>, else any cell or small element, last first
        nodes = row.css("time") + list(reversed(row.css("td") or row.css("span, em, small, p")))
    for cell in nodes:
        shown = parse_board_date(_text(cell), now, tz)
        inner = cell.css_first("time[datetime]")
        hint = (
            cell.attributes.get("datetime")
            or (inner.attributes.get("datetime") if inner is not None else None)
            or cell.attributes.get("title")
            or ""
        )
        hinted = (_iso(hint, tz) or parse_board_date(hint, now, tz)) if hint else None
        if shown is None:
            if hinted is not None:
                return hinted
            continue
        # A title attribute may hold the full timestamp behind a date-only cell; it only
        # refines that day (skins also put "1 시간 전" there, coarser than the cell's 17:05).
        # sketchbook5 puts only the time there (title="10:21") under "2026.11.30".
        if hinted is not None and shown.time() == time(0):
            if _CLOCK_ONLY.fullmatch(hint.strip()):
                return shown.replace(hour=hinted.hour, minute=hinted.minute, second=hinted.second)
            if hinted.date() == shown.date():
                return hinted
        return shown
    return None


def _iso(text: str, tz: tzinfo) -> datetime | None:
    """A `<time datetime>` value (ISO 8601), in the board's zone; None if it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.astimezone(tz) if moment.tzinfo else moment.replace(tzinfo=tz)


def _first(scope: LexborNode, selectors: tuple[str, ...]) -> LexborNode | None:
    for selector in selectors:
        node = scope.css_first(selector)
        if node is not None:
            return node
    return None


def _text(node: LexborNode) -> str:
    return fold_whitespace(node.text(deep=True, separator=" ") or "")
