"""The boards table: each board's poll state, also held in memory.

The poll state is read on every poll, from the event loop, so it must cost no file access.
This process is the table's only writer (StateLock): every row is loaded at open, and every
write that touches a board refreshes its entry once its transaction has committed. A write
that rolls back leaves the entry as it was, which is what the file still says.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime

from relay.adapters.sqlite.db import Database, from_row, iso
from relay.core.coordination import Lease
from relay.core.state import BoardState, PageChanges

_COUNTS = """(SELECT count(*) FROM posts p WHERE p.board_id = b.id) AS n_posts,
    (SELECT count(*) FROM deliveries d WHERE d.board_id = b.id AND d.status = 'pending')
        AS n_pending,
    (SELECT count(*) FROM deliveries d WHERE d.board_id = b.id AND d.status = 'failed')
        AS n_failed"""
_NO_COUNTS = "0 AS n_posts, 0 AS n_pending, 0 AS n_failed"


class BoardTable:
    """The rows of `boards`, with the in-memory copy that answers `board_state`."""

    def __init__(self, db: Database) -> None:
        self._db = db
        rows = db.query(f"SELECT b.*, {_NO_COUNTS} FROM boards b")
        self._states = {row["id"]: _board_state(row) for row in rows}

    def get(self, board_id: str) -> BoardState:
        return self._states.get(board_id) or BoardState(board_id)

    def with_counts(self, board_ids: Iterable[str]) -> list[BoardState]:
        ids = list(board_ids)
        sql = f"SELECT b.*, {_COUNTS} FROM boards b WHERE b.id IN ({{ids}})"
        rows = {row["id"]: row for row in self._db.query_ids(sql, (), ids)}
        return [_board_state(rows[i]) if i in rows else BoardState(i) for i in ids]

    @contextlib.contextmanager
    def write(self, board_id: str) -> Iterator[sqlite3.Connection]:
        """One transaction that may change the board's row (created if missing); the copy in
        memory is refreshed after COMMIT, and only then."""
        with self._db.transaction() as db:
            db.execute("INSERT OR IGNORE INTO boards (id) VALUES (?)", (board_id,))
            yield db
            row = db.execute(
                f"SELECT b.*, {_NO_COUNTS} FROM boards b WHERE b.id = ?", (board_id,)
            ).fetchone()
        self._states[board_id] = _board_state(row)


def record_success(
    db: sqlite3.Connection, board_id: str, changes: PageChanges, stamp: str | None
) -> None:
    """The board's row after a poll that read a changed page 1."""
    db.execute(
        """UPDATE boards SET
            first_poll = coalesce(first_poll, :now), baseline = :baseline,
            last_poll = :now, last_success = :now,
            last_new = CASE WHEN :has_new THEN :now ELSE last_new END,
            failures = 0, last_reason = '', last_error = '',
            etag = :etag, last_modified = :last_modified, body_hash = :hash,
            feed_dirty = feed_dirty OR :changed, feed_changes = feed_changes + :changed
        WHERE id = :id""",
        {
            "now": stamp,
            "baseline": changes.baseline,
            "has_new": bool(changes.new),
            "etag": changes.validators.etag,
            "last_modified": changes.validators.last_modified,
            "hash": changes.validators.body_hash,
            "changed": bool(changes.new or changes.retitled),
            "id": board_id,
        },
    )


def record_unchanged(db: sqlite3.Connection, board_id: str, stamp: str | None) -> None:
    """A 304 or an identical body: the poll succeeded and nothing else moves."""
    db.execute(
        "UPDATE boards SET last_poll = ?, last_success = ?, failures = 0, "
        "last_reason = '', last_error = '' WHERE id = ?",
        (stamp, stamp, board_id),
    )


class SqliteBoards:
    """The `BoardStates` part of the SQLite state (apply_poll is in SqliteState)."""

    _db: Database
    _boards: BoardTable

    def board_state(self, board_id: str) -> BoardState:
        return self._boards.get(board_id)

    def board_states(self, board_ids: Iterable[str]) -> list[BoardState]:
        return self._boards.with_counts(board_ids)

    def record_failure(
        self, board_id: str, at: datetime, reason: str, error: str, *, fence: Lease | None = None
    ) -> int:  # `fence`: not checked, as in apply_poll (one process owns the file)
        with self._boards.write(board_id) as db:
            db.execute(
                "UPDATE boards SET last_poll = ?, failures = failures + 1, last_reason = ?, "
                "last_error = ? WHERE id = ?",
                (iso(at), reason, error, board_id),
            )
        return self._boards.get(board_id).failures

    def set_alarmed(self, board_id: str, alarmed: bool) -> None:
        with self._boards.write(board_id) as db:
            db.execute("UPDATE boards SET alarmed = ? WHERE id = ?", (int(alarmed), board_id))

    def mark_feed_written(self, board_id: str) -> None:
        with self._boards.write(board_id) as db:
            db.execute("UPDATE boards SET feed_dirty = 0 WHERE id = ?", (board_id,))

    def feed_version(self, board_id: str) -> str | None:
        return feed_version(self._db, board_id)


def feed_version(db: Database, board_id: str) -> str | None:
    """The board's feed version: its change counter, once it has a first poll."""
    rows = db.query("SELECT first_poll, feed_changes FROM boards WHERE id = ?", (board_id,))
    if not rows or rows[0]["first_poll"] is None:
        return None
    return str(rows[0]["feed_changes"])


def _board_state(row: sqlite3.Row) -> BoardState:
    return from_row(
        BoardState,
        row,
        times=("first_poll", "last_poll", "last_success", "last_new"),
        flags=("feed_dirty", "alarmed"),
        columns={
            "board_id": "id",
            "posts": "n_posts",
            "pending": "n_pending",
            "failed": "n_failed",
        },
    )
