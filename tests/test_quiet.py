"""relay.core.quiet: when a board that keeps answering has been silent for longer than usual.

Scenarios are tables of boards' histories on an injected clock (`T0` plus offsets): no test
reads the real time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from relay.core.quiet import (
    FLOOR,
    QuietSetting,
    parse_quiet_after,
    quiet_state,
    usual_gap,
)

T0 = datetime(2025, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def every(step: timedelta, count: int, start: datetime = T0) -> list[datetime]:
    return [start + step * n for n in range(count)]


def hourly_with_nights(days: int) -> list[datetime]:
    """Posts every hour from 08:00 to 23:00, none at night (an 9-hour gap every day)."""
    return [T0 + D * d + H * h for d in range(days) for h in range(8, 24)]


BASELINE = [T0] * 30  # a board's first poll records its whole list at one instant


@dataclass(frozen=True)
class Case:
    history: list[datetime]
    expected: timedelta | None


GAP_CASES = {
    "busy board: every 10 minutes gives the floor": Case(
        every(10 * timedelta(minutes=1), 400), FLOOR
    ),
    "every 4 hours: three times the usual gap": Case(every(4 * H, 60), 12 * H),
    "weekly board": Case(every(7 * D, 5), 21 * D),
    "quiet every night: the nightly gap is usual": Case(hourly_with_nights(10), 9 * H),
    "too little history": Case(every(D, 4), None),
    "first poll's batch is one arrival": Case(BASELINE + every(D, 3, T0 + D), None),
    "batch then enough arrivals": Case(BASELINE + every(2 * D, 5, T0 + 2 * D), 6 * D),
    "no posts at all": Case([], None),
    "unsorted input": Case(list(reversed(every(4 * H, 60))), 12 * H),
}


@pytest.mark.parametrize("case", GAP_CASES.values(), ids=GAP_CASES.keys())
def test_usual_gap(case: Case) -> None:
    now = max(case.history, default=T0) + H
    assert usual_gap(case.history, now) == case.expected


def test_the_90th_percentile_ignores_rare_long_gaps_but_the_longest_still_counts() -> None:
    # 19 gaps of 1 hour and one of 2 hours: p90 is 1 h (x3 = 3 h) but the longest is 2 h,
    # so the floor decides; with a 7-hour outlier the longest gap decides.
    times = every(H, 20) + [T0 + 21 * H]
    assert usual_gap(times, T0 + 30 * H) == FLOOR
    assert usual_gap([*times, T0 + 28 * H], T0 + 30 * H) == 7 * H


def test_only_the_window_before_the_last_post_counts() -> None:
    # Long ago the board posted weekly; for the last 30 days it has posted every 4 hours.
    old = every(7 * D, 10, T0 - 120 * D)
    recent = every(4 * H, 150, T0)
    assert usual_gap(old + recent, recent[-1] + H) == 12 * H
    # A board dead for two months keeps the rhythm it had: its silence does not erase it.
    assert usual_gap(recent, recent[-1] + 60 * D) == 12 * H
    assert usual_gap(recent, recent[-1], window=timedelta(hours=12)) is None  # 4 arrivals


def test_posts_first_seen_after_now_are_ignored() -> None:
    history = every(4 * H, 60)
    assert usual_gap([*history, T0 + 400 * D], history[-1] + H) == 12 * H


@dataclass(frozen=True)
class Verdict:
    quiet: bool
    basis: str
    limit: timedelta | None
    since: datetime | None


LAST = T0 + 10 * D  # the board's last new post in the scenarios below
STATE_CASES: dict[str, tuple[list[datetime], timedelta, QuietSetting, Verdict]] = {
    "auto, within the usual gap": (
        every(4 * H, 61, LAST - 240 * H),
        11 * H,
        "auto",
        Verdict(False, "auto", 12 * H, None),
    ),
    "auto, beyond the usual gap": (
        every(4 * H, 61, LAST - 240 * H),
        13 * H,
        "auto",
        Verdict(True, "auto", 12 * H, LAST + 12 * H),
    ),
    "auto, weekly board after 20 days": (
        every(7 * D, 5, LAST - 28 * D),
        20 * D,
        "auto",
        Verdict(False, "auto", 21 * D, None),
    ),
    "auto, weekly board after 22 days": (
        every(7 * D, 5, LAST - 28 * D),
        22 * D,
        "auto",
        Verdict(True, "auto", 21 * D, LAST + 21 * D),
    ),
    "auto, too little history is never quiet": (
        every(D, 4, LAST - 3 * D),
        365 * D,
        "auto",
        Verdict(False, "learning", None, None),
    ),
    "off is never quiet": (
        every(H, 100, LAST - 99 * H),
        365 * D,
        "off",
        Verdict(False, "off", None, None),
    ),
    "fixed limit exceeded": ([], 2 * H, 3600.0, Verdict(True, "fixed", H, LAST + H)),
    "fixed limit not reached": (
        [],
        30 * timedelta(minutes=1),
        3600.0,
        Verdict(False, "fixed", H, None),
    ),
}


@pytest.mark.parametrize(
    ("history", "silence", "setting", "expected"), STATE_CASES.values(), ids=STATE_CASES.keys()
)
def test_quiet_state(
    history: list[datetime], silence: timedelta, setting: QuietSetting, expected: Verdict
) -> None:
    now = LAST + silence
    verdict = quiet_state(LAST, now, setting, history=history)
    assert Verdict(verdict.quiet, verdict.basis, verdict.limit, verdict.since) == expected
    assert verdict.last_new == LAST and verdict.silent_for == silence


def test_a_quiet_board_recovers_when_a_post_comes() -> None:
    history = every(4 * H, 61, LAST - 240 * H)
    clock = LAST + 20 * H
    assert quiet_state(LAST, clock, "auto", history=history).quiet
    fresh = clock + timedelta(minutes=5)  # a new post is first seen
    later = fresh + timedelta(minutes=1)
    recovered = quiet_state(fresh, later, "auto", history=[*history, fresh])
    assert not recovered.quiet and recovered.since is None
    assert recovered.silent_for == timedelta(minutes=1)


def test_no_new_post_yet_is_not_quiet() -> None:
    for setting in ("auto", 60.0):
        verdict = quiet_state(None, T0 + 365 * D, setting)
        assert (verdict.quiet, verdict.basis, verdict.silent_for) == (False, "no posts", None)


def test_a_board_clock_ahead_of_ours_is_not_negative_silence() -> None:
    verdict = quiet_state(T0 + H, T0, 60.0)
    assert verdict.silent_for == timedelta(0) and not verdict.quiet


@pytest.mark.parametrize(
    ("value", "setting"),
    [("auto", "auto"), (" OFF ", "off"), ("36h", 36 * 3600.0), (86400, 86400.0), ("2d", 172800.0)],
)
def test_parse_quiet_after(value: object, setting: QuietSetting) -> None:
    assert parse_quiet_after(value) == setting


@pytest.mark.parametrize("value", ["sometimes", 0, -5, True, "", None])
def test_parse_quiet_after_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="quiet_after"):
        parse_quiet_after(value)


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="quiet setting"):
        quiet_state(T0, T0 + H, "sometimes")  # type: ignore[arg-type]
