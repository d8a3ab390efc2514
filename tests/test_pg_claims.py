"""Delivery claims and the shared pace in a real PostgreSQL (tests/pgserver.py): two instances
never hold one chat, a chat's deliveries stay with one instance in order, a dead instance's
claims expire and are taken over, renewals keep them, a clean stop hands them back, edits are
claimed once, and the pace one instance books or is told (429) holds the other.

Each test gets a state of its own on the session's server (conftest `pg_url`); each
instance is a state object of its own, with its own pool, as a process would have.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pgclaims import queue, sql

from relay.adapters.postgres import PostgresState
from relay.adapters.postgres.claims import BOT_ROW, PostgresClaims
from relay.core.coordination import InstanceId
from relay.core.state_url import parse_postgres_url

STATES: list[PostgresState] = []


@pytest.fixture
def url(pg_url: str) -> Iterator[str]:
    """A fresh state (migrated by opening it); every instance opened on it is closed after."""
    claims(pg_url, 0)
    yield pg_url
    while STATES:
        STATES.pop().close()


def instance(n: int) -> InstanceId:
    return InstanceId(f"host-{n}", "host", 1000 + n)


def claims(url: str, n: int, claim_seconds: float = 30.0, **kw: Any) -> PostgresClaims:
    """Instance `n`: a state of its own (its own pool) on the shared database."""
    state = PostgresState(parse_postgres_url(url))
    STATES.append(state)
    return PostgresClaims(state.database, instance(n), claim_seconds=claim_seconds, **kw)


def chats_of(deliveries: list[Any]) -> set[str]:
    return {d.chat for d in deliveries}


def test_a_lone_instance_claims_every_chat_oldest_first(url: str) -> None:
    queue(url, [("@a", "1"), ("@b", "2"), ("@a", "3")])
    mine = claims(url, 1).claim()
    assert [(d.chat, d.post_id) for d in mine] == [("@a", "1"), ("@b", "2"), ("@a", "3")]
    assert [d.seq for d in mine] == sorted(d.seq for d in mine)
    assert sql(url, "SELECT DISTINCT claimed_by FROM deliveries") == [("host-1",)]


def test_a_chat_held_by_one_instance_is_not_given_to_another(url: str) -> None:
    queue(url, [("@a", "1"), ("@b", "2")])
    first, second = claims(url, 1), claims(url, 2)
    assert chats_of(first.claim()) == {"@a", "@b"}
    queue(url, [("@a", "3"), ("@c", "4")])  # a later post of a held chat, and a new chat
    assert [d.post_id for d in second.claim()] == ["4"]
    assert [d.post_id for d in first.claim()] == ["1", "2", "3"]  # the held chat's new post


def test_instances_with_different_boards_each_send_their_own_to_a_shared_chat(
    url: str,
) -> None:
    """A has board b0, B has b1, both post to @news. The instance holding the chat claims only
    its own boards' deliveries (it could not build the others' messages); once they are
    sent, the chat passes to the other instance for its board's."""
    queue(url, [("@news", "1"), ("@news", "2")], board="b0")
    queue(url, [("@news", "3")], board="b1")
    a, b = claims(url, 1), claims(url, 2)
    assert [(d.board_id, d.post_id) for d in a.claim({"b0"})] == [("b0", "1"), ("b0", "2")]
    assert b.claim({"b1"}) == []  # the chat is A's while its posts are pending
    sql(url, "UPDATE deliveries SET status = 'sent', claimed_by = NULL WHERE board_id = 'b0'")
    assert [(d.board_id, d.post_id) for d in b.claim({"b1"})] == [("b1", "3")]
    assert a.claim({"b0"}) == []


def test_two_claimants_at_once_never_share_a_chat(url: str) -> None:
    chats = [f"@c{i}" for i in range(12)]
    queue(url, [(chat, f"{i}-{chat}") for i in range(3) for chat in chats])
    results: dict[int, list[set[str]]] = {1: [], 2: []}
    start = threading.Barrier(2)

    def claimant(n: int) -> None:
        mine = claims(url, n)
        start.wait()
        for _ in range(20):
            results[n].append(chats_of(mine.claim()))

    threads = [threading.Thread(target=claimant, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    final = {n: results[n][-1] for n in (1, 2)}
    assert not final[1] & final[2], "a chat claimed by both instances"
    assert final[1] | final[2] == set(chats)
    shared = sql(
        url,
        "SELECT chat FROM deliveries WHERE claim_until > now() GROUP BY chat "
        "HAVING count(DISTINCT claimed_by) > 1",
    )
    assert shared == []
    for n, other in ((1, 2), (2, 1)):  # never, at any round, a chat the other held at its end
        assert all(not (seen & final[other]) for seen in results[n][1:])


def test_a_dead_instance_s_claims_expire_and_another_takes_them_over(url: str) -> None:
    queue(url, [("@a", "1"), ("@a", "2")])
    dead, alive = claims(url, 1, claim_seconds=0.5), claims(url, 2, claim_seconds=0.5)
    assert len(dead.claim()) == 2
    assert alive.claim() == []
    time.sleep(0.7)  # the database's clock passes the claim's expiry
    assert [d.post_id for d in alive.claim()] == ["1", "2"]  # in order, both
    assert dead.claim() == []  # back from a pause: the chat is no longer its own


def test_renewal_keeps_a_chat_past_its_claim_time(url: str) -> None:
    queue(url, [("@a", "1")])
    holder, other = claims(url, 1, claim_seconds=0.6), claims(url, 2, claim_seconds=0.6)
    holder.claim()
    for _ in range(5):  # 1.25 s in all, renewed every 0.25 s
        time.sleep(0.25)
        assert len(holder.claim()) == 1
        assert other.claim() == []


def test_a_clean_stop_hands_claims_back_at_once(url: str) -> None:
    queue(url, [("@a", "1"), ("@b", "2")])
    leaving, staying = claims(url, 1), claims(url, 2)
    leaving.claim()
    leaving.release()
    assert chats_of(staying.claim()) == {"@a", "@b"}


def test_marking_a_delivery_sent_releases_its_claim(url: str) -> None:
    queue(url, [("@a", "1")])
    holder, other = claims(url, 1), claims(url, 2)
    [only] = holder.claim()
    STATES[-2].mark_sent(only.seq, datetime.now(UTC), 5)  # holder's state
    assert sql(url, "SELECT claimed_by FROM deliveries") == [(None,)]
    queue(url, [("@a", "2")])  # the chat's next post: free, since nothing pending is held
    assert [d.post_id for d in other.claim()] == ["2"]


def test_an_edit_is_claimed_by_one_instance(url: str) -> None:
    queue(url, [("@a", "1"), ("@b", "2")])
    sql(url, "UPDATE deliveries SET status = 'sent', message_id = 7, edit_pending = true")
    first, second = claims(url, 1), claims(url, 2)
    assert [e.post_id for e in first.claim_edits()] == ["1", "2"]
    assert second.claim_edits() == []
    assert [e.message_id for e in first.claim_edits()] == [7, 7]  # its own, renewed


def test_a_booked_chat_waits_for_the_answer_plus_the_spacing_on_every_instance(
    url: str,
) -> None:
    one, two = claims(url, 1), claims(url, 2)
    slot = one.book("@a", hold=30.0)
    assert slot.booked and slot.wait == 0
    busy = two.book("@a", hold=30.0)
    assert not busy.booked and 29 < busy.wait <= 30  # the request is under way
    assert two.waiting("@a") > 29  # remembered for the drain's passes
    one.answered("@a", 0.4)
    later = two.book("@a", hold=30.0)
    assert not later.booked and 0 < later.wait <= 0.4
    time.sleep(later.wait + 0.05)
    assert two.book("@a", hold=30.0).booked
    assert one.book("@b", hold=30.0).booked  # another chat is not held by @a's pace


def test_a_429_told_to_one_instance_holds_the_chat_for_the_other(url: str) -> None:
    one, two = claims(url, 1), claims(url, 2)
    assert one.book("@a", hold=30.0).booked
    one.hold("@a", 5.0)
    busy = two.book("@a", hold=30.0)
    assert not busy.booked and 4 < busy.wait <= 5


def test_a_claim_reads_the_pace_of_the_chats_it_holds(url: str) -> None:
    queue(url, [("@a", "1")])
    claims(url, 1).hold("@a", 20.0)  # another instance was told to wait
    taker = claims(url, 2)
    taker.claim()
    assert 19 < taker.waiting("@a") <= 20


def test_the_bot_wide_spacing_is_booked_across_instances(url: str) -> None:
    spacing = 0.2
    one, two = claims(url, 1, bot_spacing=spacing), claims(url, 2, bot_spacing=spacing)
    waits = [
        one.book("@a", 30.0).wait,
        two.book("@b", 30.0).wait,
        one.book("@c", 30.0).wait,
    ]
    assert waits[0] == 0
    assert 0.1 < waits[1] <= 0.2 and 0.3 < waits[2] <= 0.4  # one slot after the other
    assert sql(url, "SELECT count(*) FROM chat_pace WHERE chat = %s", BOT_ROW) == [(1,)]


def test_instances_alive_share_the_chats(url: str) -> None:
    queue(url, [(f"@c{i}", str(i)) for i in range(5)])
    for n in (1, 2):  # both heartbeat (the lease task's table)
        sql(
            url,
            "INSERT INTO instances (name, host, pid, started, seen) "
            "VALUES (%s, 'host', 1, now(), now())",
            f"host-{n}",
        )
    first, second = claims(url, 1), claims(url, 2)
    assert chats_of(first.claim()) == {"@c0", "@c1", "@c2"}  # its share, oldest first
    assert chats_of(second.claim()) == {"@c3", "@c4"}
    sql(url, "DELETE FROM instances WHERE name = 'host-2'")  # gone quiet: the rest is free
    second.release()
    assert len(chats_of(first.claim())) == 5


def test_a_free_chat_is_taken_even_when_the_share_is_full(url: str) -> None:
    queue(url, [(f"@c{i}", str(i)) for i in range(4)])
    sql(  # an instance alive that claims nothing (or this one, under another name)
        url,
        "INSERT INTO instances (name, host, pid, started, seen) "
        "VALUES ('idle', 'host', 1, now(), now())",
    )
    alone = claims(url, 1)
    assert chats_of(alone.claim()) == {"@c0", "@c1"}  # its share of two instances
    assert chats_of(alone.claim()) == {"@c0", "@c1", "@c2"}  # and a free one per pass
    assert len(chats_of(alone.claim())) == 4


def test_a_retry_releases_the_delivery_but_the_chat_stays_in_order(url: str) -> None:
    queue(url, [("@a", "1"), ("@a", "2")])
    holder, other = claims(url, 1), claims(url, 2)
    first, _ = holder.claim()
    STATES[-2].mark_retry(first.seq, "http 502", datetime.now(UTC))
    assert other.claim() == []  # the chat's later post is still held: order is kept
    assert [d.post_id for d in holder.claim()] == ["1", "2"]  # taken back with it


def test_a_lapsed_claim_nobody_took_is_claimed_again_by_its_instance(url: str) -> None:
    queue(url, [("@a", "1"), ("@a", "2")])
    paused = claims(url, 1, claim_seconds=0.5)
    paused.claim()
    time.sleep(0.7)  # a pause longer than the claim: it lapsed, but no one else wanted it
    assert [d.post_id for d in paused.claim()] == ["1", "2"]
    assert sql(url, "SELECT count(*) FROM deliveries WHERE claim_until > now()") == [(2,)]


def test_booking_a_chat_renews_this_instance_s_claim_on_it(url: str) -> None:
    queue(url, [("@a", "1")])
    holder, other = claims(url, 1, claim_seconds=0.8), claims(url, 2, claim_seconds=0.8)
    holder.claim()
    time.sleep(0.5)
    assert holder.book("@a", hold=0.0).booked  # the request about to go
    time.sleep(0.5)  # past the claim's first expiry, within the renewed one
    assert other.claim() == []


def test_a_chat_claimed_by_another_cannot_be_booked_by_one_whose_claim_lapsed(url: str) -> None:
    """The fence of a send: A's claim lapsed (it was starved or paused), B claimed the chat and
    sends its deliveries; A, still holding them in memory, is refused the chat's slot."""
    queue(url, [("@a", "1")])
    a, b = claims(url, 1, claim_seconds=1.0), claims(url, 2, claim_seconds=30.0)
    assert [d.post_id for d in a.claim()] == ["1"]
    time.sleep(1.3)  # A's claim lapses
    assert [d.post_id for d in b.claim()] == ["1"]
    refused = a.book("@a", 20.0)
    assert not refused.booked and refused.wait > 20  # B's claim runs for most of 30 s
    assert b.book("@a", 20.0).booked
