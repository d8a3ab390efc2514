"""New posts per hour over the last 48 hours, as an inline SVG bar chart. Pure.

Made for the status page, where 1,000 boards mean 48,000 bars on one page: the counting runs
in C (sort and bisect, no Python loop over the posts) and a bar's markup depends only on its
hour and count, so each distinct bar is formatted once per page and reused.

Each hour is one `<rect>` (the only rects in the chart: the baseline is a path) with its count
in `data-count` and a `<title>` ("02-05 14:00 · 3"), so a browser (and a test) can read every bar
without a script.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import repeat
from operator import getitem, sub

SPARK_HOURS = 48
_HOUR = timedelta(hours=1)
_BAR, _STEP, _HEIGHT = 2, 3, 24  # px: bar width, bar pitch, chart height


def hourly_counts(
    first_seen: Iterable[datetime], now: datetime, hours: int = SPARK_HOURS
) -> list[int]:
    """New posts per clock hour (UTC hours, which are Korea's too), oldest first; the last
    bucket is the hour `now` is in, so far. Times after `now` (clock skew) are not counted.

    Sorted once (linear for times already in order) and cut with bisect at the hour starts."""
    if hours <= 0:
        raise ValueError(f"hours must be positive, not {hours}")
    starts = _hour_starts(now.astimezone(UTC).replace(minute=0, second=0, microsecond=0), hours)
    times = sorted(first_seen)
    del times[bisect_right(times, now) :]
    edges = list(map(bisect_left, repeat(times, hours), starts))
    edges.append(len(times))
    return list(map(sub, edges[1:], edges))


@lru_cache(maxsize=16)
def _hour_starts(current: datetime, hours: int) -> tuple[datetime, ...]:
    """The starts of the `hours` hours ending with the one starting at `current`."""
    return tuple(current - (hours - 1 - i) * _HOUR for i in range(hours))


class Sparklines:
    """Draws the sparklines of one page: `svg(hourly_counts(...))` per board.

    `title` labels the chart ("최근 48시간 시간별 새 글") and `unit` follows its total ("건").
    Bars are labelled "02-05 14:00 · 3" in `tz`, in any language, and assume the counts end
    with the hour `now` is in. The markup keeps to one byte a character (ASCII and "·"; the
    title's Korean becomes character references): on a Korean page that halves the memory the
    48,000 bars of 1,000 boards take while the page is assembled, a quarter of its rendering
    time.
    """

    def __init__(self, now: datetime, tz: tzinfo, *, title: str, unit: str) -> None:
        current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        self._title, self._unit = _ascii(title), _ascii(unit)
        self._columns = [
            _Column(i, start.astimezone(tz).strftime("%m-%d %H:00"))
            for i, start in enumerate(_hour_starts(current, SPARK_HOURS))
        ]
        self._charts: dict[tuple[int, ...], str] = {}  # counts -> <svg>

    def svg(self, counts: Sequence[int]) -> str:
        """The chart of `counts`; boards with the same counts (often: no post at all in 48
        hours) share one string."""
        key = tuple(counts)
        chart = self._charts.get(key)
        if chart is None:
            chart = self._charts[key] = self._draw(key)
        return chart

    def _draw(self, counts: tuple[int, ...]) -> str:
        # A bar is `count` units tall and the group scales units to the board's peak (and flips
        # y, so bars stand on the bottom edge without a `y` each): a bar's markup then depends
        # only on its hour and count, and each hour's column keeps the bars it has drawn, so
        # one `map` in C picks a board's 48 bars with no Python loop.
        while len(self._columns) < len(counts):  # a chart longer than 48 hours: plain labels
            self._columns.append(_Column(len(self._columns), str(len(self._columns))))
        peak = max(counts, default=0) or 1
        width = len(counts) * _STEP
        label = f"{self._title}: {sum(counts)}{self._unit}"
        return (
            f'<svg class="spark" width="{width}" height="{_HEIGHT}" '
            f'viewBox="0 0 {width} {_HEIGHT}" role="img" aria-label="{label}">'
            f'<title>{label}</title><path class="base" d="M0 {_HEIGHT - 0.5}H{width}"/>'
            f'<g transform="matrix(1 0 0 -{_HEIGHT / peak:.4g} 0 {_HEIGHT})">'
            f"{''.join(map(getitem, self._columns, counts))}</g></svg>"
        )


class _Column(dict[int, str]):
    """One hour's bars by count, each drawn the first time a board needs it."""

    def __init__(self, index: int, hour: str) -> None:
        super().__init__()
        self._index, self._hour = index, hour

    def __missing__(self, count: int) -> str:
        bar = self[count] = (
            f'<rect x="{self._index * _STEP}" width="{_BAR}" height="{count}" '
            f'data-count="{count}"><title>{self._hour} · {count}</title></rect>'
        )
        return bar


def _ascii(text: str) -> str:
    """`text` (already escaped for HTML) with every non-ASCII character as a reference."""
    return text.encode("ascii", "xmlcharrefreplace").decode("ascii")
