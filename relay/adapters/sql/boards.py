"""The boards table: each board's poll state, also held in memory, for both databases.

The poll state is read on every poll, from the event loop, so it must cost no database
access: every row is loaded at open, and every write that touches a board refreshes its
entry once its transaction has committed. A write that rolls back leaves the entry as it
was, which is what the database still says.

The table also remembers, per board, the change count at which none of the feed's posts
lacked its article (`articles_complete`): posts only come in with a change of the count, so
until it moves the poll need not ask the database again (`missing_articles`, one query per
poll saved: most polls find an unchanged page). A database's own rules for a write (PostgreSQL's
per-board lock and lease fence) are the `_hold` and `_check` hooks of its subclass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from relay.adapters.rows import RowLike
from relay.adapters.sql.driver import Driver, Tx, from_row
from relay.core.coordination import Lease
from relay.core.state import BoardState, PageChanges

_COUNTS = """(SELECT count(*) FROM posts p WHERE p.board_id = b.id) AS n_posts,
    (SELECT count(*) FROM deliveries d WHERE d.board_id = b.id AND d.status = 'pending')
        AS n_pending,
    (SELECT count(*) FROM deliveries d WHERE d.board_id = b.id AND d.status = 'failed')
        AS n_failed"""
NO_COUNTS = "0 AS n_posts, 0 AS n_pending, 0 AS n_failed"  # the columns `state` reads
ALL = f"SELECT b.*, {NO_COUNTS} FROM boards b"
SOME = f"{ALL} WHERE b.id IN ({{ids}})"
_ONE = f"{ALL} WHERE b.id = ?"
_TIMES = ("first_poll", "last_poll", "last_success", "last_new", "quiet_alarmed")
_COLUMNS = {"board_id": "id", "posts": "n_posts", "pending": "n_pending", "failed": "n_failed"}


class BoardTable:
    """The rows of `boards`, with the in-memory copy that answers `board_state`."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._states: dict[str, BoardState] = {}
        self._complete: dict[str, tuple[int, int]] = {}  # board: (feed_changes, feed_entries)
        self.reload()

    def reload(self) -> None:
        """Every row again (at open, and after a copy replaced the table's contents)."""
        self._states = {row["id"]: self.state(row) for row in self._driver.query(ALL)}
        self._complete.clear()

    def articles_complete(self, board_id: str, feed_entries: int) -> bool:
        """Whether the feed's newest `feed_entries` posts were last found with every article
        read (or given up), and the board's change count has not moved since."""
        return self._complete.get(board_id) == (self.get(board_id).feed_changes, feed_entries)

    def remember_complete(self, board_id: str, feed_changes: int, feed_entries: int) -> None:
        """No article was missing at change count `feed_changes` (read BEFORE the query that
        found none: a change committed meanwhile moves the count, and the memory lapses)."""
        self._complete[board_id] = (feed_changes, feed_entries)

    def get(self, board_id: str) -> BoardState:
        return self._states.get(board_id) or BoardState(board_id)

    def with_counts(self, board_ids: Iterable[str]) -> list[BoardState]:
        ids = list(board_ids)
        sql = f"SELECT b.*, {_COUNTS} FROM boards b WHERE b.id IN ({{ids}})"
        rows = {row["id"]: row for row in self._driver.query_ids(sql, (), ids)}
        return [self.state(rows[i]) if i in rows else BoardState(i) for i in ids]

    def refresh(self, board_ids: Iterable[str]) -> None:
        """Re-read these boards' rows: another instance may have written them (a shared
        PostgreSQL state, when this one takes a board's lease over)."""
        ids = sorted(set(board_ids))
        with contextlib.ExitStack() as held:
            for board_id in ids:  # one order for every caller: no deadlock between two
                held.enter_context(self._hold(board_id))
            rows = {row["id"]: row for row in self._driver.query_ids(SOME, (), ids)}
            for board_id in ids:
                if board_id in rows:
                    self._states[board_id] = self.state(rows[board_id])
                else:
                    self._states.pop(board_id, None)

    @contextlib.contextmanager
    def write(self, board_id: str, fence: Lease | None = None) -> Iterator[Tx]:
        """One transaction that may change the board's row (created if missing), checked
        against `fence` where the database fences; the copy in memory is refreshed after
        COMMIT, and only then."""
        with self._hold(board_id):
            with self._driver.transaction() as tx:
                self._check(tx, board_id, fence)
                tx.execute("INSERT INTO boards (id) VALUES (?) ON CONFLICT DO NOTHING", (board_id,))
                yield tx
                rows = tx.query(_ONE, (board_id,))
            if rows:
                self._states[board_id] = self.state(rows[0])

    def update(
        self, board_id: str, assignments: str, params: Sequence[object], fence: Lease | None = None
    ) -> None:
        """`UPDATE boards SET <assignments>` of this board alone (its row made if missing), as
        one `write`: an unchanged poll's stamp, a failure, a mark. A database where a
        transaction costs round trips does it in one statement (PostgreSQL's subclass)."""
        with self.write(board_id, fence) as tx:
            tx.execute(f"UPDATE boards SET {assignments} WHERE id = ?", (*params, board_id))

    def feed_version(self, board_id: str) -> str | None:
        """The board's feed version: its change counter, once it has a first poll. Read from
        the database, not the copy in memory: another instance may have polled the board."""
        rows = self._driver.query(
            "SELECT first_poll, feed_changes FROM boards WHERE id = ?", (board_id,)
        )
        if not rows or rows[0]["first_poll"] is None:
            return None
        return str(rows[0]["feed_changes"])

    def state(self, row: RowLike) -> BoardState:
        return from_row(
            self._driver,
            BoardState,
            row,
            times=_TIMES,
            flags=("feed_dirty", "alarmed"),
            columns=_COLUMNS,
        )

    def _hold(self, board_id: str) -> contextlib.AbstractContextManager[object]:
        """What serializes this process's writes of one board (none: the transaction)."""
        return contextlib.nullcontext()

    def _check(self, tx: Tx, board_id: str, fence: Lease | None) -> None:
        """Refuse the write unless `fence` holds (unchecked: one process owns the state)."""


def record_success(tx: Tx, board_id: str, changes: PageChanges, stamp: object) -> None:
    """The board's row after a poll that read a changed page 1."""
    tx.execute(
        """UPDATE boards SET
            first_poll = coalesce(first_poll, :now), baseline = :baseline,
            last_poll = :now, last_success = :now,
            last_new = CASE WHEN :has_new THEN :now ELSE last_new END,
            failures = 0, last_reason = '', last_error = '',
            etag = :etag, last_modified = :last_modified, body_hash = :hash,
            feed_dirty = feed_dirty OR :changed,
            feed_changes = feed_changes + CASE WHEN :changed THEN 1 ELSE 0 END
        WHERE id = :id""",
        {
            "now": stamp,
            "baseline": changes.baseline,
            "has_new": bool(changes.new),
            "etag": changes.validators.etag,
            "last_modified": changes.validators.last_modified,
            "hash": changes.validators.body_hash,
            "changed": bool(changes.new or changes.retitled or changes.categorized),
            "id": board_id,
        },
    )


# A 304 or an identical body: the poll succeeded and nothing else moves (stamp, stamp).
UNCHANGED = "last_poll = ?, last_success = ?, failures = 0, last_reason = '', last_error = ''"


class SqlBoards:
    """The `BoardStates` part of a state (apply_poll is in `poll`)."""

    _sql: Driver
    _boards: BoardTable

    def board_state(self, board_id: str) -> BoardState:
        return self._boards.get(board_id)

    def board_states(self, board_ids: Iterable[str]) -> list[BoardState]:
        return self._boards.with_counts(board_ids)

    def record_failure(
        self, board_id: str, at: datetime, reason: str, error: str, *, fence: Lease | None = None
    ) -> int:
        """Count a failed poll; fenced like `apply_poll` (a poll made under a lease since lost
        records no failure on the board another instance polls now)."""
        self._boards.update(
            board_id,
            "last_poll = ?, failures = failures + 1, last_reason = ?, last_error = ?",
            (self._sql.stored_time(at), reason, error),
            fence,
        )
        return self._boards.get(board_id).failures

    def set_alarmed(self, board_id: str, alarmed: bool) -> None:
        self._boards.update(board_id, "alarmed = ?", (alarmed,))

    def set_quiet_alarmed(self, board_id: str, since: datetime | None) -> None:
        self._boards.update(board_id, "quiet_alarmed = ?", (self._sql.stored_time(since),))

    def mark_feed_written(self, board_id: str) -> None:
        self._boards.update(board_id, "feed_dirty = {false}", ())

    def feed_version(self, board_id: str) -> str | None:
        return self._boards.feed_version(board_id)
