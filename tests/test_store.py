"""The SQLite state file itself: numbered migrations, refusing a newer schema, one transaction
per poll, the lock. What every state implementation must do is in test_state_contract.py."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relay.adapters.lock import StateLock
from relay.adapters.sqlite import SqliteState
from relay.adapters.sqlite.migrations import MIGRATIONS
from relay.core.errors import StateError
from relay.core.models import Article, Post
from relay.core.state import NewPost, PageChanges, PollIntent, Validators

NOW = datetime(2025, 2, 5, 6, 0, tzinfo=UTC)


def intent(
    *new: NewPost,
    retitled: tuple[Post, ...] = (),
    chats: tuple[str, ...] = ("@c",),
    body_hash: str = "h",
) -> PollIntent:
    changes = PageChanges(Validators(body_hash=body_hash), "1", new, retitled, chats)
    return PollIntent(at=NOW, stamp=True, changes=changes, pages=1)


def record(store: SqliteState, *posts: Post, announce: bool = True) -> None:
    store.apply_poll("b", intent(*(NewPost(p, announce, True, Article("e", "t")) for p in posts)))


def test_new_file_gets_the_latest_schema_and_reopens(tmp_path: Path) -> None:
    store = SqliteState(tmp_path / "state.db")
    record(store, Post("1", "http://b/1", "하나"))
    store.close()
    version = sqlite3.connect(tmp_path / "state.db").execute("PRAGMA user_version").fetchone()
    assert version[0] >= 1
    reopened = SqliteState(tmp_path / "state.db")
    assert reopened.board_state("b").first_poll == NOW
    assert [d.post_id for d in reopened.pending_deliveries()] == ["1"]


def test_a_newer_schema_is_refused_not_damaged(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteState(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StateError, match="newer than this relay knows"):
        SqliteState(path)


def test_a_poll_is_recorded_whole_or_not_at_all(tmp_path: Path) -> None:
    store = SqliteState(tmp_path / "state.db")
    record(store, Post("1", "http://b/1", "하나"))
    broken = intent(
        NewPost(Post("2", "http://b/2", "둘"), announce=True, fetch_article=True),
        retitled=(Post("1", "http://b/1", None),),  # type: ignore[arg-type]
        body_hash="new",
    )
    with pytest.raises(sqlite3.IntegrityError):  # a bug in relay, not a state failure
        store.apply_poll("b", broken)
    assert set(store.posts("b", ["1", "2"])) == {"1"}
    assert [d.post_id for d in store.pending_deliveries()] == ["1"]
    assert store.board_state("b").body_hash == "h"


def test_state_lock_allows_one_holder(tmp_path: Path) -> None:
    first = StateLock(tmp_path / "state.db")
    first.acquire()
    with pytest.raises(StateError, match="only one relay"):
        StateLock(tmp_path / "state.db").acquire()
    first.release()
    second = StateLock(tmp_path / "state.db")
    second.acquire()
    second.release()


def test_version_1_state_is_migrated_forward(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO boards (id) VALUES ('b')")
    db.execute(
        "INSERT INTO posts (board_id, id, sort_key, url, title, first_seen, updated) "
        "VALUES ('b', '7', 7, 'http://b/7', 'old', ?, ?)",
        (NOW.isoformat(), NOW.isoformat()),
    )
    db.commit()
    db.close()
    migrated = SqliteState(path)
    assert [p.id for p in migrated.missing_articles("b", 50, 5)] == ["7"]
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == len(MIGRATIONS)


def test_an_article_that_keeps_failing_is_given_up(tmp_path: Path) -> None:
    store = SqliteState(tmp_path / "state.db")
    first = NewPost(Post("1", "http://b/1", "t"), announce=False, fetch_article=True)
    store.apply_poll("b", intent(first, chats=()))
    tries = 1
    while store.missing_articles("b", 50, 5):
        store.article_failed("b", "1")
        tries += 1
    assert tries == 3
