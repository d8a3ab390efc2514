"""The state contract: what the pipeline, the delivery worker and the CLI rely on, run against
every implementation of `relay.core.state.State` (SQLite today; add a harness to IMPLEMENTATIONS
for the next one). Tests speak only the Protocol, except where a harness plays the outside
world: a full disk, a lock held by another process, a file written by an older relay.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import psycopg
import pytest
from pgserver import fresh_schema

from relay.adapters.postgres import PoolSettings, PostgresState
from relay.adapters.postgres.migrations import MIGRATIONS as PG_MIGRATIONS
from relay.adapters.postgres.migrations import SCHEMA_TABLE
from relay.adapters.sqlite import SqliteState
from relay.adapters.sqlite.migrations import MIGRATIONS
from relay.core.errors import StateError
from relay.core.models import Article, Post
from relay.core.state import (
    ARTICLE_TRIES,
    BoardState,
    NewPost,
    PageChanges,
    PollIntent,
    State,
    Validators,
)
from relay.core.state_url import parse_postgres_url

NOW = datetime(2025, 2, 5, 6, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


class Harness(Protocol):
    """One implementation, and the outside world as it can go wrong for it."""

    name: str

    def open(self, where: Path, *, quick_lock_timeout: bool = False) -> State: ...

    def fill_disk(self, state: State) -> None:
        """From now on, a write that needs more room fails (as on a full disk)."""

    def hold_write_lock(self, where: Path) -> contextlib.AbstractContextManager[None]:
        """Another process holds the state's write lock meanwhile."""

    def write_old_state(self, where: Path) -> None:
        """A state written by the first released relay: board "b", post "7" (no article)."""

    def write_newer_state(self, where: Path) -> None:
        """A state written by a newer relay than this one."""


class SqliteHarness:
    name = "sqlite"

    def open(self, where: Path, *, quick_lock_timeout: bool = False) -> State:
        return SqliteState(where / "state.db", busy_timeout=0.05 if quick_lock_timeout else 30)

    def fill_disk(self, state: State) -> None:
        assert isinstance(state, SqliteState)
        connection = state._db._conn  # the harness plays the disk: no other way in
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")

    @contextlib.contextmanager
    def hold_write_lock(self, where: Path) -> Iterator[None]:
        other = sqlite3.connect(where / "state.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()

    def write_old_state(self, where: Path) -> None:
        db = sqlite3.connect(where / "state.db")
        db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
        db.execute("INSERT INTO boards (id) VALUES ('b')")
        db.execute(
            "INSERT INTO posts (board_id, id, sort_key, url, title, first_seen, updated) "
            "VALUES ('b', '7', 7, 'http://b/7', 'old', ?, ?)",
            (NOW.isoformat(), NOW.isoformat()),
        )
        db.commit()
        db.close()

    def write_newer_state(self, where: Path) -> None:
        SqliteState(where / "state.db").close()
        with contextlib.closing(sqlite3.connect(where / "state.db")) as db:
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")


class PostgresHarness:
    """A database of its own per test folder on the session's server (tests/pgserver.py).
    The harness plays the outside world with a second connection: a trigger that fails
    writes as a full disk does, a session holding table locks, rows written as an older or a
    newer relay left them."""

    name = "postgres"

    def __init__(self) -> None:
        self.server = ""  # the session server's URL, set by the `harness` fixture
        self._databases: dict[Path, str] = {}

    def url(self, where: Path) -> str:
        if where not in self._databases:
            self._databases[where] = fresh_schema(self.server)
        return self._databases[where]

    def open(self, where: Path, *, quick_lock_timeout: bool = False) -> State:
        settings = PoolSettings(lock_timeout=0.05) if quick_lock_timeout else None
        return PostgresState(parse_postgres_url(self.url(where)), settings=settings)

    def fill_disk(self, state: State) -> None:
        assert isinstance(state, PostgresState)
        with psycopg.connect(state.location, autocommit=True) as admin:
            admin.execute(
                "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'could not extend file: No space left on device' "
                "USING ERRCODE = 'disk_full'; END $$"
            )
            for table in ("posts", "deliveries"):
                admin.execute(
                    f"CREATE TRIGGER disk_full BEFORE INSERT ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION disk_full()"
                )

    @contextlib.contextmanager
    def hold_write_lock(self, where: Path) -> Iterator[None]:
        with psycopg.connect(self.url(where)) as other:
            other.execute("LOCK TABLE boards, posts, deliveries, held IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                other.rollback()

    def write_old_state(self, where: Path) -> None:
        with psycopg.connect(self.url(where), autocommit=True) as db:
            db.execute(PG_MIGRATIONS[0])
            db.execute(SCHEMA_TABLE)
            db.execute("INSERT INTO relay_schema (version) VALUES (1)")
            db.execute("INSERT INTO boards (id) VALUES ('b')")
            db.execute(
                "INSERT INTO posts (board_id, id, sort_key, url, title, first_seen, updated) "
                "VALUES ('b', '7', 7, 'http://b/7', 'old', %s, %s)",
                (NOW, NOW),
            )

    def write_newer_state(self, where: Path) -> None:
        self.open(where).close()
        with psycopg.connect(self.url(where), autocommit=True) as db:
            db.execute("UPDATE relay_schema SET version = %s", (len(PG_MIGRATIONS) + 1,))


IMPLEMENTATIONS: list[Harness] = [SqliteHarness(), PostgresHarness()]


@pytest.fixture(params=IMPLEMENTATIONS, ids=lambda h: h.name)
def harness(request: pytest.FixtureRequest) -> Harness:
    chosen: Harness = request.param
    if isinstance(chosen, PostgresHarness):
        chosen.server = request.getfixturevalue("postgres_url")
    return chosen


@pytest.fixture
def state(harness: Harness, tmp_path: Path) -> Iterator[State]:
    opened = harness.open(tmp_path)
    try:
        yield opened
    finally:
        opened.close()


def post(pid: int | str, number: int | None = None, title: str = "") -> Post:
    return Post(str(pid), f"http://b/{pid}", title or f"t{pid}", number=number)


def new(pid: int | str, *, announce: bool = True, article: bool = True, **kw: Any) -> NewPost:
    found = Article(f"요약 {pid}", f"본문 {pid}") if article else None
    return NewPost(post(pid, **kw), announce=announce, fetch_article=True, article=found)


def poll(
    *posts: NewPost,
    at: datetime = NOW,
    retitled: tuple[Post, ...] = (),
    chats: tuple[str, ...] = ("@c",),
    body_hash: str = "h1",
    baseline: str | None = "1",
) -> PollIntent:
    changes = PageChanges(Validators('"e"', "lm", body_hash), baseline, posts, retitled, chats)
    return PollIntent(at=at, stamp=True, changes=changes, pages=1)


def test_a_poll_is_applied_whole_and_kept_across_a_reopen(harness: Harness, tmp_path: Path) -> None:
    state = harness.open(tmp_path)
    recorded = state.apply_poll("b", poll(new(1, number=1), new(2, number=2, announce=False)))
    assert [(p.id, p.first_seen, p.excerpt) for p in recorded] == [
        ("1", NOW, "요약 1"),
        ("2", NOW, "요약 2"),
    ]
    state.apply_poll("b", poll(new(3), at=LATER, retitled=(post(1, title="고침"),)))
    state.close()
    state = harness.open(tmp_path)
    try:
        stored = state.board_state("b")
        assert (stored.first_poll, stored.last_success, stored.last_new) == (NOW, LATER, LATER)
        assert (stored.etag, stored.last_modified, stored.body_hash) == ('"e"', "lm", "h1")
        assert stored.baseline == "1" and stored.feed_dirty and stored.failures == 0
        assert [(d.post_id, d.chat) for d in state.pending_deliveries()] == [
            ("1", "@c"),
            ("3", "@c"),
        ]
        edited = state.posts("b", ["1"])["1"]
        assert edited.title == "고침" and edited.updated == LATER and edited.first_seen == NOW
    finally:
        state.close()


def test_a_poll_that_cannot_be_written_leaves_nothing_behind(
    harness: Harness, state: State
) -> None:
    state.apply_poll("b", poll(new(1)))
    before = state.board_state("b")
    harness.fill_disk(state)
    big = [NewPost(post(i), True, True, Article("x" * 2000, "y" * 20000)) for i in range(2, 200)]
    with pytest.raises(StateError, match="state"):
        state.apply_poll("b", poll(*big, at=LATER, body_hash="h2"))
    assert set(state.known("b", [str(i) for i in range(1, 200)])) == {"1"}
    assert [d.post_id for d in state.pending_deliveries()] == ["1"]
    assert state.board_state("b") == before


def test_a_write_blocked_by_another_process_is_a_state_error(
    harness: Harness, tmp_path: Path
) -> None:
    state = harness.open(tmp_path, quick_lock_timeout=True)
    try:
        state.apply_poll("b", poll(new(1)))
        with harness.hold_write_lock(tmp_path), pytest.raises(StateError, match="locked"):
            state.record_failure("b", LATER, "http 503", "HTTP 503")
        assert state.board_state("b").failures == 0
    finally:
        state.close()


def test_an_unchanged_poll_moves_the_time_only_when_told(state: State) -> None:
    state.apply_poll("b", poll(new(1)))
    state.record_failure("b", NOW, "network", "reset")
    state.mark_feed_written("b")
    before = state.board_state("b")
    assert state.apply_poll("b", PollIntent(at=LATER, stamp=False)) == ()
    assert state.board_state("b") == before
    assert state.apply_poll("b", PollIntent(at=LATER, stamp=True)) == ()
    after = state.board_state("b")
    assert (after.last_poll, after.last_success, after.failures, after.last_reason) == (
        LATER,
        LATER,
        0,
        "",
    )
    assert (after.body_hash, after.feed_dirty, after.last_new) == ("h1", False, NOW)


def test_failures_are_counted_and_keep_the_validators(state: State) -> None:
    state.apply_poll("b", poll(new(1)))
    assert state.record_failure("b", LATER, "http 503", "HTTP 503") == 1
    assert state.record_failure("b", LATER, "layout", "no rows") == 2
    failing = state.board_state("b")
    assert (failing.failures, failing.last_reason, failing.last_error) == (2, "layout", "no rows")
    assert (failing.last_poll, failing.last_success, failing.body_hash) == (LATER, NOW, "h1")
    assert state.record_failure("new-board", NOW, "network", "x") == 1


def test_known_answers_for_any_number_of_ids(state: State) -> None:
    state.apply_poll("b", poll(new(5, title="다섯"), new(40_000), chats=()))
    state.apply_poll("other", poll(new(6), chats=()))
    known = state.known("b", (str(i) for i in range(1, 100_001)))
    assert sorted(known) == ["40000", "5"] and known["5"].title == "다섯"
    assert not known["5"].notice and state.known("b", []) == {}


def test_newest_number_is_that_of_the_newest_numbered_post(state: State) -> None:
    assert state.newest_number("b") is None
    state.apply_poll("b", poll(new(10, number=3), new(9, number=2), new(12), chats=()))
    assert state.newest_number("b") == 3


def test_feed_posts_are_the_newest_first_by_numeric_id(state: State) -> None:
    state.apply_poll("b", poll(*(new(i) for i in (9, 100, 10, 99)), chats=()))
    assert [p.id for p in state.feed_posts("b", 3)] == ["100", "99", "10"]
    assert state.feed_posts("nothing", 3) == []


def test_missing_articles_are_tried_a_few_times_within_the_feed_only(state: State) -> None:
    skipped = NewPost(post(1), announce=False, fetch_article=False)  # outside the feed
    failed = new(2, article=False)
    state.apply_poll("b", poll(skipped, failed, new(3), chats=()))
    assert [p.id for p in state.missing_articles("b", 2, 5)] == ["2"]
    assert [p.id for p in state.missing_articles("b", 3, 5)] == ["2", "1"]
    assert [p.id for p in state.missing_articles("b", 3, 1)] == ["2"]
    for _ in range(ARTICLE_TRIES - 1):
        state.article_failed("b", "2")
    assert [p.id for p in state.missing_articles("b", 3, 5)] == ["1"]  # 2 is given up
    state.mark_feed_written("b")
    state.set_article("b", "1", Article("늦은 요약", "본문", image="http://b/i.png"))
    late = state.posts("b", ["1"])["1"]
    assert late.article_fetched and late.excerpt == "늦은 요약" and late.image == "http://b/i.png"
    assert state.board_state("b").feed_dirty and state.missing_articles("b", 3, 5) == []


def test_a_board_found_complete_still_shows_the_articles_of_later_posts(state: State) -> None:
    # Post 1 has no article and the feed of one entry does not show it (2 is newer).
    state.apply_poll("b", poll(NewPost(post(1), False, False), new(2), chats=()))
    assert not state.articles_complete("b", 1)  # not looked yet
    assert state.missing_articles("b", 1, 5) == []  # remembered: nothing to read again
    assert state.articles_complete("b", 1) and not state.articles_complete("b", 2)
    assert state.missing_articles("b", 1, 5) == []
    assert [p.id for p in state.missing_articles("b", 2, 5)] == ["1"]  # a longer feed shows 1
    state.apply_poll("b", poll(new(3, article=False), chats=()))
    assert not state.articles_complete("b", 1)
    assert [p.id for p in state.missing_articles("b", 1, 5)] == ["3"]  # came in since
    state.set_article("b", "3", Article("요약", "본문"))
    assert state.missing_articles("b", 1, 5) == []


def test_the_feed_mark_is_cleared_once_written(state: State) -> None:
    assert state.board_state("b").feed_dirty  # a board never polled has no feed yet
    state.apply_poll("b", poll(new(1)))
    state.mark_feed_written("b")
    assert not state.board_state("b").feed_dirty
    state.apply_poll("b", poll(at=LATER, body_hash="h2"))  # a changed page, nothing new
    assert not state.board_state("b").feed_dirty
    state.apply_poll("b", poll(at=LATER, retitled=(post(1, title="고침"),)))
    assert state.board_state("b").feed_dirty


def test_the_feed_version_moves_with_what_the_feed_shows_and_only_then(state: State) -> None:
    assert state.feed_version("b") is None  # no first poll: no feed
    state.record_failure("b", NOW, "network", "reset")
    assert state.feed_version("b") is None
    state.apply_poll("b", poll(new(1), new(2, article=False)))
    seen = [state.feed_version("b")]
    assert seen[0] is not None
    state.mark_feed_written("b")  # this instance's file is written: the feed did not change
    state.record_failure("b", LATER, "http 503", "HTTP 503")
    state.apply_poll("b", PollIntent(at=LATER, stamp=True))  # unchanged page 1
    state.apply_poll("b", poll(at=LATER, body_hash="h2"))  # changed page, nothing for the feed
    state.set_alarmed("b", True)
    assert state.feed_version("b") == seen[-1]
    state.apply_poll("b", poll(new(3), at=LATER))  # a new post
    seen.append(state.feed_version("b"))
    state.apply_poll("b", poll(at=LATER, retitled=(post(1, title="고침"),)))
    seen.append(state.feed_version("b"))
    state.set_article("b", "2", Article("늦은 요약", "본문"))  # a late article
    seen.append(state.feed_version("b"))
    assert len(set(seen)) == len(seen) == 4
    state.apply_poll("other", poll(new(9)))  # another board's change is not this board's
    assert state.feed_version("b") == seen[-1]


def test_deliveries_go_oldest_first_and_leave_the_queue_when_done(state: State) -> None:
    state.apply_poll("b", poll(new(1), new(2), chats=("@a", "@b")))
    state.apply_poll("c", poll(new(3), at=LATER))
    pending = state.pending_deliveries()
    assert [(d.board_id, d.post_id, d.chat) for d in pending] == [
        ("b", "1", "@a"),
        ("b", "1", "@b"),
        ("b", "2", "@a"),
        ("b", "2", "@b"),
        ("c", "3", "@c"),
    ]
    assert [d.seq for d in pending] == sorted(d.seq for d in pending)
    assert len(state.pending_deliveries(limit=2)) == 2
    first, second, third, *_ = pending
    state.mark_sent(first.seq, LATER, 77)
    state.mark_retry(second.seq, "timed out", LATER)
    state.mark_retry(second.seq, "flood", LATER + timedelta(hours=1), count=False)
    state.mark_failed(third.seq, "chat not found")
    left = {d.seq: d for d in state.pending_deliveries()}
    assert first.seq not in left and third.seq not in left
    assert (left[second.seq].attempts, left[second.seq].not_before) == (
        1,
        LATER + timedelta(hours=1),
    )
    assert state.delivery_counts() == {
        ("b", "sent"): 1,
        ("b", "pending"): 2,
        ("b", "failed"): 1,
        ("c", "pending"): 1,
    }


def test_a_chat_that_moved_takes_its_pending_deliveries_along(state: State) -> None:
    state.apply_poll("b", poll(new(1), new(2), chats=("-100",)))
    sent, waiting = state.pending_deliveries()
    state.mark_sent(sent.seq, NOW, 1)
    state.mark_retry(waiting.seq, "migrated", LATER)
    assert state.move_chat("-100", "-100999") == 1
    [moved] = state.pending_deliveries()
    assert (moved.post_id, moved.chat, moved.not_before) == ("2", "-100999", None)


def test_failed_deliveries_are_requeued_per_board_or_all(state: State) -> None:
    state.apply_poll("b", poll(new(1)))
    state.apply_poll("c", poll(new(2)))
    for delivery in state.pending_deliveries():
        state.mark_failed(delivery.seq, "bot kicked")
    assert state.pending_deliveries() == []
    assert state.requeue_failed("c") == 1
    [again] = state.pending_deliveries()
    assert (again.board_id, again.attempts, again.not_before) == ("c", 0, None)
    assert state.requeue_failed() == 1 and len(state.pending_deliveries()) == 2


def test_board_states_carry_counts_in_the_order_asked(state: State) -> None:
    state.apply_poll("b", poll(new(1), new(2), new(3, announce=False)))
    first, *_ = state.pending_deliveries()
    state.mark_failed(first.seq, "x")
    listed = state.board_states(["never", "b"])
    assert listed[0] == BoardState("never")
    assert (listed[1].board_id, listed[1].posts, listed[1].pending, listed[1].failed) == (
        "b",
        3,
        1,
        1,
    )
    assert state.board_state("b").posts == 0  # the cheap read has no counts


def test_the_alarmed_flag_is_kept(harness: Harness, tmp_path: Path) -> None:
    state = harness.open(tmp_path)
    state.record_failure("b", NOW, "layout", "no rows")
    state.set_alarmed("b", True)
    state.close()
    state = harness.open(tmp_path)
    try:
        assert state.board_state("b").alarmed
        state.set_alarmed("b", False)
        assert not state.board_state("b").alarmed
    finally:
        state.close()


def test_the_quiet_alarm_told_is_kept_across_a_reopen(harness: Harness, tmp_path: Path) -> None:
    state = harness.open(tmp_path)
    state.apply_poll("b", poll(new(1)))
    assert state.board_state("b").quiet_alarmed is None
    state.set_quiet_alarmed("b", LATER)
    state.close()
    state = harness.open(tmp_path)
    try:
        assert state.board_state("b").quiet_alarmed == LATER
        assert state.board_states(["b"])[0].quiet_alarmed == LATER
        state.set_quiet_alarmed("b", None)
        assert state.board_state("b").quiet_alarmed is None
    finally:
        state.close()


def test_a_state_from_an_old_relay_is_migrated(harness: Harness, tmp_path: Path) -> None:
    harness.write_old_state(tmp_path)
    state = harness.open(tmp_path)
    try:
        assert [p.id for p in state.missing_articles("b", 50, 5)] == ["7"]
        state.apply_poll("b", poll(new(8)))
        assert sorted(state.known("b", ["7", "8"])) == ["7", "8"]
    finally:
        state.close()


def test_a_state_from_a_newer_relay_is_refused(harness: Harness, tmp_path: Path) -> None:
    harness.write_newer_state(tmp_path)
    with pytest.raises(StateError, match="newer than this relay knows"):
        harness.open(tmp_path)


# --- what the status page and the quiet-board rule read ---


def test_first_seen_since_gives_each_boards_recent_arrivals_oldest_first(state: State) -> None:
    hour = timedelta(hours=1)
    state.apply_poll("a", poll(new(1), at=NOW - 3 * hour))
    state.apply_poll("a", poll(new(2), new(3), at=NOW - hour))
    state.apply_poll("b", poll(new(9), at=NOW))
    since = state.first_seen_since(NOW - 2 * hour)
    assert since == {"a": [NOW - hour, NOW - hour], "b": [NOW]}
    assert state.first_seen_since(NOW - 4 * hour, "a") == {"a": [NOW - 3 * hour] + [NOW - hour] * 2}
    assert state.first_seen_since(NOW + hour) == {}
    # The same, counted per UTC hour in one grouped query (the status page's sparklines).
    half = timedelta(minutes=30)
    state.apply_poll("b", poll(new(10), at=NOW + half, body_hash="h2"))
    assert state.arrivals_per_hour(NOW - 2 * hour + half) == {
        "a": [(NOW - hour, 2)],
        "b": [(NOW, 2)],
    }


def test_a_body_is_stored_with_its_post_and_with_a_late_article(state: State) -> None:
    full = NewPost(post(1), True, True, Article("e", "t", body_html="<p>본문</p>"))
    state.apply_poll("b", poll(full, new(2, article=False)))
    state.set_article("b", "2", Article("e2", "t2", body_html="<p>늦은 본문</p>"))
    stored = state.posts("b", ["1", "2"])
    assert (stored["1"].body_html, stored["2"].body_html) == ("<p>본문</p>", "<p>늦은 본문</p>")


def test_chat_counts_and_post_deliveries_say_where_each_message_stands(state: State) -> None:
    state.apply_poll("b", poll(new(1), new(2), new(3), chats=("@c", "@d")))
    queued = {(d.post_id, d.chat): d.seq for d in state.pending_deliveries()}
    state.mark_sent(queued[("1", "@c")], LATER, 11)
    state.mark_failed(queued[("1", "@d")], "chat not found")
    state.mark_retry(queued[("2", "@c")], "flood: retry after 30 s", LATER)
    state.apply_poll("other", poll(new(1), chats=("@c",)))
    counts = {(c.board_id, c.chat): (c.pending, c.failed) for c in state.chat_counts()}
    assert counts == {("b", "@c"): (2, 0), ("b", "@d"): (2, 1), ("other", "@c"): (1, 0)}
    assert [(c.chat, c.pending, c.failed) for c in state.chat_counts("b")] == [
        ("@c", 2, 0),
        ("@d", 2, 1),
    ]
    rows = {(d.post_id, d.chat): d for d in state.post_deliveries("b", ["1", "2"])}
    assert set(rows) == {("1", "@c"), ("1", "@d"), ("2", "@c"), ("2", "@d")}
    assert (rows[("1", "@c")].status, rows[("1", "@c")].sent_at) == ("sent", LATER)
    assert (rows[("1", "@d")].status, rows[("1", "@d")].error) == ("failed", "chat not found")
    waiting = rows[("2", "@c")]
    assert (waiting.status, waiting.error, waiting.not_before) == (
        "pending",
        "flood: retry after 30 s",
        LATER,
    )


def test_routes_held_posts_and_their_release_are_applied_in_the_poll(state: State) -> None:
    routed = NewPost(post(1), True, True, routes=("@a", "@b#3"), held=("@hot",), wanted=True)
    held_only = NewPost(post(2), False, True, held=("@hot",), wanted=True)
    state.apply_poll("b", poll(routed, held_only, chats=("@a", "@b#3", "@hot")))
    pending = state.pending_deliveries()
    assert [(d.post_id, d.route_key, d.chat) for d in pending] == [
        ("1", "@a", "@a"),
        ("1", "@b#3", "@b"),
    ]
    assert state.known("b", ["1", "2"])["2"].held == frozenset({"@hot"})
    release = PageChanges(
        Validators(body_hash="h2"), "1", chats=("@a", "@b#3", "@hot"), released=(("2", "@hot"),)
    )
    state.apply_poll("b", PollIntent(at=LATER, stamp=True, changes=release))
    assert [(d.post_id, d.route_key) for d in state.pending_deliveries()][-1] == ("2", "@hot")
    assert state.known("b", ["2"])["2"].held == frozenset()  # released once, never again


def test_a_digest_marks_its_deliveries_sent_together_and_retitles_skip_it(state: State) -> None:
    state.apply_poll("b", poll(new(1), new(2), new(3)))
    one, two, three = state.pending_deliveries()
    state.mark_sent_many([one.seq, two.seq], LATER, 41, "digest")
    state.mark_sent(three.seq, LATER, 42, "photo")
    assert state.pending_deliveries() == []
    state.apply_poll(
        "b", poll(at=LATER, retitled=(post(1, title="a"), post(3, title="c")), body_hash="h2")
    )
    [edit] = state.pending_edits()
    assert (edit.post_id, edit.message_id, edit.caption) == ("3", 42, True)
    state.mark_edited(edit.seq, "", retry=True)
    assert [e.tries for e in state.pending_edits()] == [1]
    state.mark_edited(edit.seq, "Bad Request: message to edit not found")
    assert state.pending_edits() == []


def test_categories_are_known_edited_and_first_stored_without_an_edit(state: State) -> None:
    def shown(pid: int, category: str, title: str = "") -> Post:
        return replace(post(pid, title=title), category=category)

    state.apply_poll("b", poll(NewPost(shown(1, "잡담"), True, True), new(2)))
    for one in state.pending_deliveries():
        state.mark_sent(one.seq, NOW, 40 + int(one.post_id))
    assert {i: k.category for i, k in state.known("b", ["1", "2"]).items()} == {
        "1": "잡담",
        "2": "",
    }
    first = PageChanges(
        Validators(body_hash="h2"), "1", chats=("@c",), categorized=(shown(2, "정보"),)
    )
    state.apply_poll("b", PollIntent(at=LATER, stamp=True, changes=first))
    stored = state.posts("b", ["2"])["2"]
    assert (stored.category, stored.updated) == ("정보", NOW)  # not an edit of the post
    assert state.pending_edits() == [] and state.board_state("b").feed_dirty
    # moved to another category; one whose page shows none keeps what was recorded
    moved = (shown(1, "질문"), shown(2, "", title="t2 고침"))
    state.apply_poll("b", poll(at=LATER, retitled=moved, body_hash="h3"))
    assert {i: p.category for i, p in state.posts("b", ["1", "2"]).items()} == {
        "1": "질문",
        "2": "정보",
    }
    assert sorted(e.post_id for e in state.pending_edits()) == ["1", "2"]


def test_chat_counts_tell_two_routes_to_one_chat_apart(state: State) -> None:
    state.apply_poll("b", poll(new(1), new(2), chats=("@g#3", "@g#5")))
    topic = {(d.post_id, d.route_key): d.seq for d in state.pending_deliveries()}
    state.mark_failed(topic[("1", "@g#5")], "topic closed")
    assert [(c.chat, c.route, c.pending, c.failed) for c in state.chat_counts("b")] == [
        ("@g", "@g#3", 2, 0),
        ("@g", "@g#5", 1, 1),
    ]
