"""Text to excerpts, and board dates to datetimes. Pure, stdlib only.

Bytes to text (decode_html) lives in relay.core.decoding and is re-exported here.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, tzinfo

# Re-exported: callers written before decoding.py existed import these from here.
from relay.core.decoding import Decoded as Decoded
from relay.core.decoding import decode_html as decode_html
from relay.core.decoding import header_charset as header_charset
from relay.core.decoding import normalize_charset as normalize_charset

_SPACE = re.compile(r"\s+")


def fold_whitespace(text: str) -> str:
    """Runs of whitespace (including &nbsp; = \\xa0 and zero-width spaces) become one space."""
    if "\u200b" in text or "\ufeff" in text:
        text = text.replace("\u200b", " ").replace("\ufeff", " ")
    return " ".join(text.split())  # str.split() knows \xa0 and every Unicode space


def excerpt(text: str, limit: int) -> str:
    """At most `limit` characters of plain text, cut at a word boundary with "…"."""
    text = fold_whitespace(text)
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:·-–—") + "…"


# --- board dates -------------------------------------------------------------------------------

_RELATIVE = re.compile(r"(\d+)\s*(초|분|시간|일|주|개월|달)\s*전")
_RELATIVE_UNITS = {"초": 1, "분": 60, "시간": 3600, "일": 86400, "주": 7 * 86400}
_FULL = re.compile(
    r"(?P<y>\d{4}|\d{2})\s*[.\-/년]\s*(?P<m>\d{1,2})\s*[.\-/월]\s*(?P<d>\d{1,2})(?:\s*일)?\.?"
    r"(?:\s+(?:\([^)]*\)\s*)?(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
)
_MONTH_DAY = re.compile(
    r"(?<![\d.])(?P<m>\d{1,2})\s*[.\-/월]\s*(?P<d>\d{1,2})\s*일?"
    r"(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2}))?(?![\d.:])"
)
_CLOCK = re.compile(r"(?<![\d:])(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?![\d:])")


def parse_board_date(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    """A date as boards print it, as an aware datetime in `tz`; None if it is not a date.

    `2025.02.05`, `25.02.05`, `2025-02-05 15:32`, `2025년 2월 5일`, `02-05` (this year, or last
    year if that would be in the future), `15:32` (today), `3분 전`, `방금`, `어제`, `어제 15:32`.
    Patterns are explicit: dateutil reads `25.02.05` as 2005-02-25 and knows no `분 전`.
    """
    text = fold_whitespace(text)
    if not text:
        return None
    local_now = now.astimezone(tz)
    if text.startswith("방금") or text in ("now", "just now"):
        return local_now
    relative = _RELATIVE.search(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        if unit in ("개월", "달"):
            return local_now - timedelta(days=30 * amount)
        return local_now - timedelta(seconds=amount * _RELATIVE_UNITS[unit])
    for word, days in (("그저께", 2), ("그제", 2), ("어제", 1), ("오늘", 0)):
        if text.startswith(word):
            on = (local_now - timedelta(days=days)).date()
            clock = _CLOCK.search(text)
            at = _time(clock) if clock else time(0, 0)
            return datetime.combine(on, at or time(0, 0), tzinfo=tz)
    full = _FULL.search(text)
    if full:
        year = int(full.group("y"))
        if year < 100:
            year += 2000 if year <= local_now.year % 100 + 1 else 1900
        return _build(year, int(full.group("m")), int(full.group("d")), full, tz)
    month_day = _MONTH_DAY.fullmatch(text) or _MONTH_DAY.match(text)
    if month_day:
        month, day = int(month_day.group("m")), int(month_day.group("d"))
        when = _build(local_now.year, month, day, month_day, tz)
        if when is not None and when.date() > local_now.date():
            when = _build(local_now.year - 1, month, day, month_day, tz)
        return when
    clock = _CLOCK.fullmatch(text)
    if clock:
        at = _time(clock)
        if at is None:
            return None
        when = datetime.combine(local_now.date(), at, tzinfo=tz)
        # A time printed "today" that is still ahead of us is from a clock skew: keep it today.
        return when
    return None


def _time(match: re.Match[str]) -> time | None:
    hour, minute = int(match.group("H")), int(match.group("M"))
    second = int(match.groupdict().get("S") or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


def _build(year: int, month: int, day: int, match: re.Match[str], tz: tzinfo) -> datetime | None:
    try:
        at = _time(match) if match.groupdict().get("H") else time(0, 0)
        if at is None:
            return None
        return datetime(year, month, day, at.hour, at.minute, at.second, tzinfo=tz)
    except ValueError:
        return None
