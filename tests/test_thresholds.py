"""relay.core.thresholds: a post held until a poll shows it hot, announced once, never again.

The poll-by-poll scenarios drive the decision the way the pipeline will: rows in, ids out, and
the announced rows flipped before the next poll.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from relay.core.thresholds import (
    NO_THRESHOLDS,
    Counts,
    HeldPost,
    Hold,
    Thresholds,
    crossed,
    decide_held,
    on_first_sight,
    passes,
)

HOT = Thresholds(min_votes=10)


def held(*post_ids: str, route: str = "@deals") -> list[HeldPost]:
    return [HeldPost("deals", post_id, route, Hold.HELD) for post_id in post_ids]


def poll(rows: list[HeldPost], counts: dict[str, Counts], limits: Thresholds) -> tuple[str, ...]:
    """One poll as the pipeline runs it: decide, then flip the announced rows."""
    announced = decide_held(rows, counts, limits)
    rows[:] = [replace(r, state=Hold.ANNOUNCED) if r.post_id in announced else r for r in rows]
    return announced


PASSES: list[tuple[str, Counts, Thresholds, bool]] = [
    ("no thresholds pass everything", Counts(), NO_THRESHOLDS, True),
    ("votes at the threshold", Counts(votes=10), HOT, True),
    ("votes below", Counts(votes=9), HOT, False),
    ("unknown count meets no threshold", Counts(views=10_000), HOT, False),
    ("all must pass: one short", Counts(votes=50, comments=4), Thresholds(10, None, 5), False),
    ("all must pass: both", Counts(votes=50, comments=5), Thresholds(10, None, 5), True),
    ("views", Counts(views=1000), Thresholds(min_views=1000), True),
    ("zero threshold is met by zero", Counts(comments=0), Thresholds(min_comments=0), True),
]


@pytest.mark.parametrize(
    ("counts", "limits", "expected"), [c[1:] for c in PASSES], ids=[c[0] for c in PASSES]
)
def test_passes(counts: Counts, limits: Thresholds, expected: bool) -> None:
    assert passes(counts, limits) is expected


def test_first_sight_announces_a_post_that_already_passes() -> None:
    assert on_first_sight(Counts(votes=12), HOT) is Hold.ANNOUNCED
    assert on_first_sight(Counts(votes=3), HOT) is Hold.HELD
    assert on_first_sight(Counts(), NO_THRESHOLDS) is Hold.ANNOUNCED


def test_crossed_is_the_transition_only() -> None:
    assert crossed(Counts(votes=3), Counts(votes=10), HOT)
    assert not crossed(Counts(votes=10), Counts(votes=11), HOT)  # already passing before
    assert not crossed(Counts(votes=3), Counts(votes=9), HOT)
    assert crossed(None, Counts(votes=10), HOT)  # first seen, passing


def test_a_held_post_is_announced_on_the_poll_that_shows_it_crossing_and_never_again() -> None:
    rows = held("101", "102")
    assert poll(rows, {"101": Counts(votes=2), "102": Counts(votes=0)}, HOT) == ()
    assert poll(rows, {"101": Counts(votes=9), "102": Counts(votes=1)}, HOT) == ()
    assert poll(rows, {"101": Counts(votes=14), "102": Counts(votes=3)}, HOT) == ("101",)
    assert [r.state for r in rows] == [Hold.ANNOUNCED, Hold.HELD]
    # Still hot, then a dip and a climb back: the state row says it was announced.
    assert poll(rows, {"101": Counts(votes=20), "102": Counts(votes=3)}, HOT) == ()
    assert poll(rows, {"101": Counts(votes=5), "102": Counts(votes=3)}, HOT) == ()
    assert poll(rows, {"101": Counts(votes=30), "102": Counts(votes=10)}, HOT) == ("102",)
    assert poll(rows, {"101": Counts(votes=30), "102": Counts(votes=99)}, HOT) == ()


def test_a_post_that_left_the_polled_pages_is_not_announced_and_stays_held() -> None:
    rows = held("101", "102")
    assert poll(rows, {"102": Counts(votes=50)}, HOT) == ("102",)  # 101 is gone from the pages
    assert rows[0].state is Hold.HELD
    # Back on the pages (a post above it was deleted) and hot: announced then.
    assert poll(rows, {"101": Counts(votes=50)}, HOT) == ("101",)


def test_combined_thresholds_wait_for_every_count() -> None:
    limits = Thresholds(min_votes=10, min_comments=5)
    rows = held("7")
    assert poll(rows, {"7": Counts(votes=40, comments=1)}, limits) == ()
    assert poll(rows, {"7": Counts(votes=40, comments=5)}, limits) == ("7",)


def test_announced_ids_come_oldest_first_and_once() -> None:
    rows = held("9999", "47209", "10000") + held("47209")
    counts = {pid: Counts(votes=99) for pid in ("9999", "47209", "10000")}
    assert decide_held(rows, counts, HOT) == ("9999", "10000", "47209")


def test_rows_of_two_routes_are_refused() -> None:
    with pytest.raises(ValueError, match="several routes"):
        decide_held(held("1") + held("2", route="@other"), {}, HOT)


def test_negative_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="^min_votes: -1"):
        Thresholds(min_votes=-1)
    assert not NO_THRESHOLDS.active and HOT.active
