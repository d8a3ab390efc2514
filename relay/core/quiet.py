"""The quiet-board rule: a board that answers every poll but has shown no new post for much
longer than usual is probably dead in a way no error shows (a moved board, a login wall that
renders an empty list, a list that stopped updating). Pure: times in, a verdict out.

`usual_gap` learns a board's rhythm from the first-seen times of its posts, `quiet_state`
judges the silence since the last new post against it (or against a fixed limit). What to do
with a verdict (one admin alarm, one recovery message, the page, metrics) is the caller's.

The learned limit is the largest of:
- three times the 90th percentile of the gaps between arrivals: a busy board is expected
  back within a few of its usual gaps;
- the longest gap in the window: a board quiet every night or every weekend has shown that
  silence is normal for it, and an alarm at 4 a.m. every day would teach people to ignore it;
- a floor of six hours, so that a board posting every few minutes does not alarm over lunch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from relay.core.durations import parse_duration

QuietSetting = Literal["auto", "off"] | float  # float: a fixed limit in seconds
Basis = Literal["off", "fixed", "auto", "learning", "no posts"]

WINDOW = timedelta(days=30)
MIN_ARRIVALS = 5  # fewer distinct arrivals in the window: too little history to learn from
PERCENTILE = 0.9
FACTOR = 3
FLOOR = timedelta(hours=6)
# Posts first seen within this of each other arrived in one poll (a board's first poll records
# its whole list at once): their zero gaps say nothing about the board's rhythm.
SAME_POLL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class QuietVerdict:
    """Whether a board is quiet now, and the facts an alarm or the status page shows."""

    quiet: bool
    basis: Basis  # where the limit came from; "learning": too little history for "auto"
    limit: timedelta | None  # the silence allowed; None when off, learning or no posts
    last_new: datetime | None  # when the last new post was first seen
    silent_for: timedelta | None  # now - last_new (never negative)
    since: datetime | None  # when the board became quiet (last_new + limit), if quiet


def parse_quiet_after(value: object) -> QuietSetting:
    """A `quiet_after` config value: "auto", "off", or a duration ("36h", 86400).

    Raises ValueError saying what is accepted."""
    if isinstance(value, str) and value.strip().lower() in ("auto", "off"):
        return "auto" if value.strip().lower() == "auto" else "off"
    try:
        return parse_duration(value)
    except ValueError as e:
        raise ValueError(f'{e}; quiet_after is "auto", "off" or a duration such as "2d"') from None


def usual_gap(
    first_seen: Sequence[datetime], now: datetime, *, window: timedelta = WINDOW
) -> timedelta | None:
    """The longest silence that is still usual for a board, or None with too little history.

    The window is the `window` before the board's latest post (not before `now`): a dead
    board's own silence must not push its history out of the window, or the alarm would
    clear itself a month after the board died. Posts first seen after `now` are ignored.
    """
    times = sorted(t for t in first_seen if t <= now)
    if not times:
        return None
    start = times[-1] - window
    arrivals: list[datetime] = []
    for moment in times:
        if moment < start:
            continue
        if arrivals and moment - arrivals[-1] < SAME_POLL:
            continue  # the same poll's batch
        arrivals.append(moment)
    if len(arrivals) < MIN_ARRIVALS:
        return None
    gaps = sorted(later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False))
    # Nearest rank: the gap that PERCENTILE of all gaps are no longer than.
    typical = gaps[math.ceil(PERCENTILE * len(gaps)) - 1]
    return max(typical * FACTOR, gaps[-1], FLOOR)


def quiet_state(
    last_new: datetime | None,
    now: datetime,
    setting: QuietSetting,
    *,
    history: Sequence[datetime] = (),
) -> QuietVerdict:
    """Is the board quiet at `now`? `last_new` is when its last new post was first seen;
    `history` holds its posts' first-seen times, needed only for "auto".

    A board with no new post yet is never quiet: there is nothing to measure from.
    """
    silent_for = max(now - last_new, timedelta(0)) if last_new is not None else None
    if setting == "off":
        return QuietVerdict(False, "off", None, last_new, silent_for, None)
    if last_new is None or silent_for is None:
        return QuietVerdict(False, "no posts", None, None, None, None)
    basis: Basis
    if isinstance(setting, str):
        if setting != "auto":
            raise ValueError(f'quiet setting must be "auto", "off" or seconds, not {setting!r}')
        learned, basis = usual_gap(history, now), "auto"
        if learned is None:
            return QuietVerdict(False, "learning", None, last_new, silent_for, None)
        limit = learned
    else:
        limit, basis = timedelta(seconds=setting), "fixed"
    quiet = silent_for > limit
    since = last_new + limit if quiet else None
    return QuietVerdict(quiet, basis, limit, last_new, silent_for, since)
