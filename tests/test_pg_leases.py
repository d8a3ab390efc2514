"""Board leases in a real PostgreSQL (tests/pgserver.py): fair shares as instances come and go,
takeover after expiry, the fencing token, release on a clean stop, renewals, and expiry by
the database's clock only.

Each test gets a state of its own (a schema, migrated by the state's own migrations) on the
session's server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import time_machine

from relay.adapters.postgres.db import Database
from relay.adapters.postgres.leases import PostgresLeases
from relay.core.coordination import InstanceId
from relay.core.state_url import PostgresUrl

BOARDS = [f"b{i:02d}" for i in range(30)]
LEASE = 30.0


@pytest.fixture
def url(pg_url: str) -> Iterator[str]:
    yield pg_url
    for db in _opened:
        db.close()
    _opened.clear()


_opened: list[Database] = []


def coordination(url: str) -> PostgresLeases:
    db = Database(PostgresUrl(url), None)
    _opened.append(db)
    return PostgresLeases(db)


def instance(n: int) -> InstanceId:
    return InstanceId(f"host-{n}", "host", 1000 + n)


def round_of(leases: PostgresLeases, me: InstanceId, lease: float = LEASE, **kw: Any) -> set[str]:
    leases.heartbeat(me, lease)
    return set(leases.take_leases(me, BOARDS, lease, **kw))


def sql(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def test_a_lone_instance_holds_every_board(url: str) -> None:
    leases = coordination(url)
    held = leases.take_leases(instance(1), BOARDS, LEASE)
    assert set(held) == set(BOARDS)
    assert all(lease.token == 1 and lease.owner == "host-1" for lease in held.values())


def test_instances_joining_one_by_one_end_with_fair_shares_and_no_board_twice(url: str) -> None:
    leases = coordination(url)
    one, two, three = instance(1), instance(2), instance(3)
    assert round_of(leases, one) == set(BOARDS)
    leases.heartbeat(two, LEASE)
    held: dict[str, set[str]] = {}
    for _ in range(12):  # the excess is given back a few boards a round, never all at once
        before = held.get("one", set(BOARDS))
        held["one"] = round_of(leases, one)
        assert len(before) - len(held["one"]) <= max(1, (len(before) - 15) // 2)
        held["two"] = round_of(leases, two)
        assert not held["one"] & held["two"]
    assert len(held["one"]) == len(held["two"]) == 15
    leases.heartbeat(three, LEASE)
    for _ in range(12):
        for name, me in (("one", one), ("two", two), ("three", three)):
            held[name] = round_of(leases, me)
    assert [len(held[n]) for n in ("one", "two", "three")] == [10, 10, 10]
    assert set().union(*held.values()) == set(BOARDS)
    assert sum(len(h) for h in held.values()) == 30  # disjoint


def test_spare_limits_what_is_given_back_and_in_that_order(url: str) -> None:
    leases = coordination(url)
    one, two = instance(1), instance(2)
    round_of(leases, one)
    leases.heartbeat(two, LEASE)
    held = round_of(leases, one, spare=["b07", "b03", "zz"])
    assert set(BOARDS) - held == {"b07", "b03"}  # excess 15, half of it allowed, only spares


def test_a_dead_instances_boards_are_taken_after_expiry_with_a_new_token(url: str) -> None:
    leases = coordination(url)
    dead, alive = instance(1), instance(2)
    first = leases.take_leases(dead, BOARDS, 2.0)
    leases.heartbeat(dead, 2.0)
    leases.heartbeat(alive, 2.0)
    assert leases.take_leases(alive, BOARDS, 2.0) == {}  # all held, and not expired
    time.sleep(2.3)
    leases.heartbeat(alive, 2.0)
    taken = leases.take_leases(alive, BOARDS, 2.0)
    assert set(taken) == set(BOARDS)  # the dead one is no longer counted: a share of 30
    assert all(taken[b].token == first[b].token + 1 for b in BOARDS)
    assert all(taken[b].owner == "host-2" for b in BOARDS)


def test_the_token_grows_on_every_change_of_owner_and_not_on_renewals(url: str) -> None:
    leases = coordination(url)
    one, two = instance(1), instance(2)
    tokens = [leases.take_leases(one, ["b00"], LEASE)["b00"].token]
    tokens.append(leases.take_leases(one, ["b00"], LEASE)["b00"].token)  # renewed
    leases.release_leases(one)
    tokens.append(leases.take_leases(two, ["b00"], LEASE)["b00"].token)
    leases.release_leases(two)
    tokens.append(leases.take_leases(one, ["b00"], LEASE)["b00"].token)
    assert tokens == [1, 1, 2, 3]


def test_renewal_moves_the_expiry_by_the_database_clock(url: str) -> None:
    leases = coordination(url)
    me = instance(1)
    first = leases.take_leases(me, ["b00"], 5.0)["b00"]
    time.sleep(0.3)
    again = leases.take_leases(me, ["b00"], 5.0)["b00"]
    assert again.expires - first.expires >= timedelta(seconds=0.25)
    assert again.taken == first.taken and again.token == first.token
    (now,) = sql(url, "SELECT now()")[0]
    assert timedelta(seconds=4) < again.expires - now <= timedelta(seconds=5)


def test_a_clean_stop_hands_every_board_back_at_once(url: str) -> None:
    leases = coordination(url)
    one, two = instance(1), instance(2)
    round_of(leases, one)
    round_of(leases, two)  # nothing free yet: one holds all 30
    leases.release_leases(one)
    assert round_of(leases, two) == set(BOARDS)  # no waiting for expiry
    assert [i.name for i in leases.instances(LEASE)] == ["host-2"]


def test_an_instance_clock_far_ahead_cannot_steal_or_expire_a_lease(url: str) -> None:
    leases = coordination(url)
    one, two = instance(1), instance(2)
    round_of(leases, one)
    with time_machine.travel(time.time() + 7200, tick=True):  # two's clock: 2 h ahead
        assert round_of(leases, two) == set()
        held = leases.take_leases(one, BOARDS, LEASE)  # renews, whatever the clocks say
    (now,) = sql(url, "SELECT now()")[0]
    assert held and all(lease.expires - now <= timedelta(seconds=LEASE) for lease in held.values())


def test_instances_show_their_boards_and_lease_ages(url: str) -> None:
    leases = coordination(url)
    one, two = instance(1), instance(2)
    round_of(leases, one, lease=2.0)
    round_of(leases, two, lease=2.0)
    found = {i.name: i for i in leases.instances(2.0)}
    assert set(found) == {"host-1", "host-2"}
    assert found["host-1"].boards == tuple(BOARDS) and found["host-2"].boards == ()
    assert all(i.alive for i in found.values())
    info = found["host-1"]
    assert all(
        timedelta(0) <= info.as_of - lease.taken < timedelta(seconds=5) for lease in info.leases
    )
    time.sleep(2.2)
    found = {i.name: i for i in leases.instances(2.0)}
    assert not any(i.alive for i in found.values())
    assert found["host-1"].boards == ()  # expired leases are nobody's


def test_a_board_only_one_instance_has_is_taken_whatever_its_share(url: str) -> None:
    """Instances with different board lists: A has b0 and b1, B has b1 and b2. B's fair share
    of its two boards among two instances is one; holding b1, it would never take b2, which
    nobody else can poll. A board left free for a whole lease is taken anyway, and kept."""
    a, b = coordination(url), coordination(url)
    one, two = instance(1), instance(2)
    lease = 1.0

    def round_of_both() -> tuple[set[str], set[str]]:
        for leases, me in ((a, one), (b, two)):
            leases.heartbeat(me, lease)
        held_a = set(a.take_leases(one, ["b0", "b1"], lease))
        return held_a, set(b.take_leases(two, ["b1", "b2"], lease))

    held_a, held_b = round_of_both()
    assert not held_a & held_b
    deadline = time.monotonic() + 10
    while held_a | held_b != {"b0", "b1", "b2"} and time.monotonic() < deadline:
        time.sleep(0.3)
        held_a, held_b = round_of_both()
    assert "b2" in held_b and "b0" in held_a and not held_a & held_b
    assert held_a | held_b == {"b0", "b1", "b2"}
    for _ in range(8):  # kept: an orphan is never given back to nobody
        time.sleep(0.3)
        held_a, held_b = round_of_both()
        assert "b2" in held_b and "b0" in held_a and not held_a & held_b
