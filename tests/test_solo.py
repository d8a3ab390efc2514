"""Solo, the coordination of a state one process owns: every board held from the first
round, never lost, never changing hands, and nobody else to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relay.core.coordination import InstanceId, fair_share, to_release
from relay.core.solo import NEVER, Solo

ME = InstanceId("solo", "here", 1)


def test_every_board_asked_for_is_held_for_good_with_token_zero() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    solo = Solo(lambda: now[0])
    first = solo.take_leases(ME, ["a", "b"], 30.0, spare=["a"])  # nothing is ever given back
    now[0] += timedelta(days=400)
    again = solo.take_leases(ME, ["a", "b", "c"], 30.0)
    assert set(first) == {"a", "b"} and set(again) == {"a", "b", "c"}
    assert all(lease.token == 0 and lease.expires == NEVER for lease in again.values())
    assert again["a"].taken == first["a"].taken  # renewals do not move when it was taken
    assert again["c"].taken == now[0]
    assert not solo.shared and solo.instances(30.0) == []


def test_a_board_removed_then_added_back_is_held_anew() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    solo = Solo(lambda: now[0])
    solo.take_leases(ME, ["a", "b"], 30.0)
    now[0] += timedelta(hours=1)
    assert set(solo.take_leases(ME, ["b"], 30.0)) == {"b"}
    assert solo.take_leases(ME, ["a", "b"], 30.0)["a"].taken == now[0]
    solo.release_leases(ME)
    assert solo.take_leases(ME, ["a"], 30.0)["a"].taken == now[0]


def test_fair_shares_and_the_excess_given_back_a_half_at_a_time() -> None:
    assert [fair_share(30, n) for n in (0, 1, 2, 3, 4, 7)] == [30, 30, 15, 10, 8, 5]
    held = [f"b{i:02d}" for i in range(30)]
    assert len(to_release(held, 10, None)) == 10  # half of the 20 above the share
    assert len(to_release(held[:11], 10, None)) == 1  # at least one
    assert to_release(held[:10], 10, None) == []
    assert to_release(held, 15, ["b29", "zz", "b03"]) == ["b29", "b03"]  # spares only, in order
