"""Text to excerpts, and board dates to datetimes. Pure, stdlib only.

Bytes to text (decode_html) lives in relay.core.decoding and is re-exported here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, tzinfo

# Re-exported: callers written before decoding.py existed import these from here.
from relay.core.decoding import Decoded as Decoded
from relay.core.decoding import decode_html as decode_html
from relay.core.decoding import header_charset as header_charset
from relay.core.decoding import normalize_charset as normalize_charset

# Bidirectional formatting controls: embeddings and overrides (U+202A-U+202E), isolates
# (U+2066-U+2069) and the marks (LRM, RLM, ALM). A U+202E in a title shows "gpj.exe" as
# "exe.jpg": nothing a board's reader needs survives their removal, and readers are not fooled.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def fold_whitespace(text: str) -> str:
    """Displayed text, cleaned: runs of whitespace (including &nbsp; = \\xa0 and zero-width
    spaces) become one space, and bidi controls are removed (every title, author, excerpt and
    article text from a page passes through here)."""
    if "\u200b" in text or "\ufeff" in text:
        text = text.replace("\u200b", " ").replace("\ufeff", " ")
    folded = " ".join(text.split())  # str.split() knows \xa0 and every Unicode space
    if folded.isprintable():  # the common case: no control of any kind is left
        return folded
    return " ".join(_BIDI_CONTROLS.sub("", folded).split())


def strip_bidi(text: str) -> str:
    """`text` without bidi controls (U+202E and friends can disguise a title)."""
    return _BIDI_CONTROLS.sub("", text)


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


# What a browser drops or ignores in a URL before it reads the scheme (WHATWG URL: C0 controls
# and spaces at the ends, tab and newlines anywhere), plus every other control, the bidi
# controls and invisible format characters: "java\tscript:" is javascript: to a browser.
_URL_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
SAFE_SCHEMES = ("https", "http")  # what may leave the relay; https first: the regex tries in order
# scheme://[userinfo@]host[:port] then the end or a path, query or fragment. A backslash (which
# browsers read as "/") or a second "@" in the authority is refused rather than guessed at.
_HTTP_URL = re.compile(
    "(" + "|".join(SAFE_SCHEMES) + r")://(?:[^/?#\\@\s]*@)?"
    r"(?:\[[0-9a-f:.]+\]|[^/?#\\@\s:\[\]]+)(?::\d*)?(?:[/?#]|$)",
    re.IGNORECASE,
)


def safe_http_url(url: str) -> str | None:
    """`url` as an absolute http(s) URL with a host, or None: the one gate that every link a
    reader may follow (post links, images, feed links) passes.

    Controls and invisible characters are removed first and the ends stripped, as a browser
    does before it reads the scheme (so "java\\tscript:", "\\x01javascript:" and "JavaScript:"
    are all caught), and what is checked is exactly what is returned: inner spaces stay (a
    browser percent-encodes them). The scheme, compared case-insensitively against
    SAFE_SCHEMES, comes back in lower case. javascript:, data:, vbscript:, file: and relative
    or host-less URLs give None.
    """
    if url.isprintable() and not url.startswith(" ") and not url.endswith(" "):
        cleaned = url  # the common case (isprintable is False for controls and format chars)
    else:
        cleaned = _URL_INVISIBLE.sub("", url).strip()
    match = _HTTP_URL.match(cleaned)
    if match is None:
        return None
    scheme = match.group(1)
    return cleaned if scheme.islower() else scheme.lower() + cleaned[len(scheme) :]


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


# A board's clock (or its PHP time zone) may run a little ahead of ours: a printed moment at
# most this far ahead of the poll is the poll's own moment. Reading "15:32" seen at 15:30 as
# yesterday would date the post a day wrong; anything further ahead names an earlier day.
CLOCK_SKEW = timedelta(minutes=10)


def parse_board_date(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    """A date as boards print it, as an aware datetime in `tz`; None if it is not a date.

    `2025.02.05`, `25.02.05`, `2025-02-05 15:32`, `2025년 2월 5일`, `02-05`, `15:32`, `3분 전`,
    `방금`, `어제`, `어제 15:32`. Patterns are explicit: dateutil reads `25.02.05` as
    2005-02-25 and knows no `분 전`.

    A printed date never lands after `now` (the poll): forms without a year or a day (`02-05`,
    `15:32`) are the latest moment they can name not after the poll (`15:32` seen at 00:30 is
    yesterday's, `12-31` seen on Jan 1 last year's), within CLOCK_SKEW of it the poll itself;
    a form that names its day (`2025.02.06`, `오늘 23:00`) and is still ahead is the poll.
    """
    text = fold_whitespace(text)
    if not text:
        return None
    local_now = now.astimezone(tz)
    try:
        when = _printed(text, local_now, tz)
    except OverflowError:  # "99999999일 전": before year 1, not a date
        return None
    return None if when is None else not_after(when, local_now)


def not_after(moment: datetime, now: datetime) -> datetime:
    """`moment`, or `now` if it is later: what a board printed cannot have happened yet.
    Compared as instants (two datetimes in one zone compare by wall time, wrong across DST)."""
    return now if _ahead(moment, now) > timedelta(0) else moment


def _ahead(moment: datetime, now: datetime) -> timedelta:
    return moment.astimezone(UTC) - now.astimezone(UTC)


def _printed(text: str, local_now: datetime, tz: tzinfo) -> datetime | None:
    """The moment `text` names, resolved against the poll; it may still be ahead of it."""
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
    if month_day:  # this year's, else last year's (02-29 may exist in only one of them)
        month, day = int(month_day.group("m")), int(month_day.group("d"))
        for year in (local_now.year, local_now.year - 1):
            when = _build(year, month, day, month_day, tz)
            if when is not None and _ahead(when, local_now) <= CLOCK_SKEW:
                return when
        return None
    clock = _CLOCK.fullmatch(text)
    if clock:  # today's, else yesterday's
        at = _time(clock)
        if at is None:
            return None
        when = datetime.combine(local_now.date(), at, tzinfo=tz)
        if _ahead(when, local_now) > CLOCK_SKEW:
            when = datetime.combine(local_now.date() - timedelta(days=1), at, tzinfo=tz)
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
