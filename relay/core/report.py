"""Plain-text tables for a person at a terminal. Pure.

Korean syllables take two terminal columns: widths are measured with East Asian Width, so
the columns of `relay check` line up under 번호 제목 글쓴이 날짜.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime, tzinfo

from relay.core.models import PollOutcome, Post


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def clip(text: str, limit: int) -> str:
    """Cut to `limit` columns, with "…" when cut."""
    if width(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        w = width(ch)
        if used + w > limit - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, max_width: int = 60) -> str:
    cells = [[clip(c, max_width) for c in row] for row in rows]
    widths = [max([width(h)] + [width(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (widths[i] - width(v)) for i, v in enumerate(values)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def when(moment: datetime | None, tz: tzinfo, *, with_time: bool = True) -> str:
    if moment is None:
        return "-"
    local = moment.astimezone(tz)
    if with_time and (local.hour or local.minute):
        return local.strftime("%Y-%m-%d %H:%M")
    return local.strftime("%Y-%m-%d")


def posts_table(board_id: str, posts: Sequence[Post], tz: tzinfo) -> str:
    """The parsed rows of one list page: what `relay check` shows per board."""
    # The counts in columns of their own ("[3]" after a title reads as part of it); views
    # and votes only where the skin prints them.
    shown = [("views", any(p.views is not None for p in posts))]
    shown.append(("votes", any(p.votes is not None for p in posts)))
    counted = [name for name, present in shown if present]
    rows = []
    for post in posts:
        number = "공지" if post.notice else ("»" if post.number is None else str(post.number))
        counts = [_blank(getattr(post, name)) for name in counted]
        first = [board_id, post.id, number, when(post.published, tz), post.author]
        rows.append([*first, post.category, str(post.comments), *counts, post.title])
    headings = ["board", "id", "number", "date", "author", "category", "comments"]
    return table([*headings, *counted, "title"], rows)


def _blank(value: int | None) -> str:
    return "" if value is None else str(value)


def describe_outcome(outcome: PollOutcome) -> str:
    """One line for people: "ok: 2 new, 1 page, 140 ms" or "failed (layout): ..."."""
    if not outcome.ok:
        return f"failed ({outcome.reason}): {outcome.error[:300]}"
    if outcome.unchanged:
        return f"ok: unchanged, {outcome.elapsed_ms} ms"
    return (
        f"ok: {len(outcome.new)} new, {outcome.updated} edited, {outcome.pages} page(s), "
        f"{outcome.elapsed_ms} ms"
    )
