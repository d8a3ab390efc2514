"""The boards table: each board's poll state, also held in memory.

As in the SQLite state, the poll state is read on every poll from the event loop, so it must
cost no round trip: every row is loaded at open, and every write that touches a board
refreshes its entry once its transaction has committed (a write that rolls back leaves the
entry as the database still has it). Unlike SQLite, this process is not the table's only
writer: another instance may have polled a board since (issue 13). `refresh` re-reads given
boards' rows — the lease code calls it when it takes a board over — so a board's entry is
current whenever this instance is the one polling it.

Writes of one board in this process are serialized by a lock of that board, held across
COMMIT and the refresh of its entry: two threads writing one board cannot leave the older
row in memory.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

from relay.adapters.postgres.db import Connection, Database, Row
from relay.adapters.postgres.fencing import check_fence
from relay.adapters.rows import record_from_row
from relay.core.coordination import Lease
from relay.core.state import BoardState, PageChanges

_COUNTS = """(SELECT count(*) FROM posts p WHERE p.board_id = b.id) AS n_posts,
    (SELECT count(*) FROM deliveries d WHERE d.board_id = b.id AND d.status = 'pending')
        AS n_pending,
    (SELECT count(*) FROM deliveries d WHERE d.board_id = b.id AND d.status = 'failed')
        AS n_failed"""
_NO_COUNTS = "0 AS n_posts, 0 AS n_pending, 0 AS n_failed"
_ONE = f"SELECT b.*, {_NO_COUNTS} FROM boards b WHERE b.id = %s"


class BoardTable:
    """The rows of `boards`, with the in-memory copy that answers `board_state`."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        rows = db.query(f"SELECT b.*, {_NO_COUNTS} FROM boards b")
        self._states = {row["id"]: _board_state(row) for row in rows}

    def get(self, board_id: str) -> BoardState:
        return self._states.get(board_id) or BoardState(board_id)

    def with_counts(self, board_ids: Iterable[str]) -> list[BoardState]:
        ids = list(board_ids)
        sql = f"SELECT b.*, {_COUNTS} FROM boards b WHERE b.id = ANY(%s)"
        rows = {row["id"]: row for row in self._db.query(sql, (ids,))}
        return [_board_state(rows[i]) if i in rows else BoardState(i) for i in ids]

    def refresh(self, board_ids: Iterable[str]) -> None:
        """Re-read these boards' rows (another instance may have written them)."""
        ids = sorted(set(board_ids))
        with contextlib.ExitStack() as held:
            for board_id in ids:  # one order for every caller: no deadlock between two
                held.enter_context(self._lock(board_id))
            sql = f"SELECT b.*, {_NO_COUNTS} FROM boards b WHERE b.id = ANY(%s)"
            rows = {row["id"]: row for row in self._db.query(sql, (ids,))}
            for board_id in ids:
                if board_id in rows:
                    self._states[board_id] = _board_state(rows[board_id])
                else:
                    self._states.pop(board_id, None)

    def reload(self) -> None:
        """Every row again (after a copy replaced the table's contents)."""
        rows = self._db.query(f"SELECT b.*, {_NO_COUNTS} FROM boards b")
        self._states = {row["id"]: _board_state(row) for row in rows}

    @contextlib.contextmanager
    def write(self, board_id: str, fence: Lease | None = None) -> Iterator[Connection]:
        """One transaction that may change the board's row (created if missing), fenced by
        `fence` when given; the copy in memory is refreshed after COMMIT, and only then."""
        with self._lock(board_id):
            with self._db.transaction() as tx:
                if fence is not None:
                    check_fence(tx, board_id, fence, self._db.location)
                tx.execute(
                    "INSERT INTO boards (id) VALUES (%s) ON CONFLICT DO NOTHING", (board_id,)
                )
                yield tx
                row = tx.execute(_ONE, (board_id,)).fetchone()
            if row is not None:
                self._states[board_id] = _board_state(row)

    def _lock(self, board_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(board_id, threading.Lock())


def record_success(tx: Connection, board_id: str, changes: PageChanges, at: datetime) -> None:
    """The board's row after a poll that read a changed page 1."""
    tx.execute(
        """UPDATE boards SET
            first_poll = coalesce(first_poll, %(now)s), baseline = %(baseline)s,
            last_poll = %(now)s, last_success = %(now)s,
            last_new = CASE WHEN %(has_new)s THEN %(now)s ELSE last_new END,
            failures = 0, last_reason = '', last_error = '',
            etag = %(etag)s, last_modified = %(last_modified)s, body_hash = %(hash)s,
            feed_dirty = feed_dirty OR %(changed)s,
            feed_changes = feed_changes + CASE WHEN %(changed)s THEN 1 ELSE 0 END
        WHERE id = %(id)s""",
        {
            "now": at,
            "baseline": changes.baseline,
            "has_new": bool(changes.new),
            "etag": changes.validators.etag,
            "last_modified": changes.validators.last_modified,
            "hash": changes.validators.body_hash,
            "changed": bool(changes.new or changes.retitled),
            "id": board_id,
        },
    )


def record_unchanged(tx: Connection, board_id: str, at: datetime) -> None:
    """A 304 or an identical body: the poll succeeded and nothing else moves."""
    tx.execute(
        "UPDATE boards SET last_poll = %s, last_success = %s, failures = 0, "
        "last_reason = '', last_error = '' WHERE id = %s",
        (at, at, board_id),
    )


class PostgresBoards:
    """The `BoardStates` part of the PostgreSQL state (apply_poll is in PostgresState)."""

    _db: Database
    _boards: BoardTable

    def board_state(self, board_id: str) -> BoardState:
        return self._boards.get(board_id)

    def board_states(self, board_ids: Iterable[str]) -> list[BoardState]:
        return self._boards.with_counts(board_ids)

    def refresh_boards(self, board_ids: Iterable[str]) -> None:
        """Re-read these boards' poll states from the database: another instance may have
        polled them (the lease code calls this when it takes a lease)."""
        self._boards.refresh(board_ids)

    def record_failure(
        self, board_id: str, at: datetime, reason: str, error: str, *, fence: Lease | None = None
    ) -> int:
        with self._boards.write(board_id, fence) as tx:
            tx.execute(
                "UPDATE boards SET last_poll = %s, failures = failures + 1, last_reason = %s, "
                "last_error = %s WHERE id = %s",
                (at, reason, error, board_id),
            )
        return self._boards.get(board_id).failures

    def set_alarmed(self, board_id: str, alarmed: bool) -> None:
        with self._boards.write(board_id) as tx:
            tx.execute("UPDATE boards SET alarmed = %s WHERE id = %s", (alarmed, board_id))

    def mark_feed_written(self, board_id: str) -> None:
        with self._boards.write(board_id) as tx:
            tx.execute("UPDATE boards SET feed_dirty = false WHERE id = %s", (board_id,))

    def feed_version(self, board_id: str) -> str | None:
        return feed_version(self._db, board_id)


def feed_version(db: Database, board_id: str) -> str | None:
    """The board's feed version: its change counter, once it has a first poll. Read from the
    database, not the copy in memory: another instance may have polled the board."""
    rows = db.query("SELECT first_poll, feed_changes FROM boards WHERE id = %s", (board_id,))
    if not rows or rows[0]["first_poll"] is None:
        return None
    return str(rows[0]["feed_changes"])


def _board_state(row: Row) -> BoardState:
    return record_from_row(
        BoardState,
        row,
        columns={
            "board_id": "id",
            "posts": "n_posts",
            "pending": "n_pending",
            "failed": "n_failed",
        },
    )
