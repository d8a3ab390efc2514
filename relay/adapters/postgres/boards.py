"""The boards table of the PostgreSQL state: the shared table (`relay.adapters.sql.boards`)
with what several instances need.

Unlike SQLite, this process is not the table's only writer: another instance may have
polled a board since (issue 13). `refresh` re-reads given boards' rows — the lease code
calls it when it takes a board over — so a board's entry is current whenever this instance
is the one polling it.

Writes of one board in this process are serialized by a lock of that board, held across
COMMIT and the refresh of its entry: two threads writing one board cannot leave the older
row in memory. A write given a lease is fenced by it (`fencing`).

A write of the board's row alone (`update`: an unchanged poll's stamp — most polls —, a
failure, the feed mark) is one statement, not a transaction of five or six round trips
(BEGIN, fence, row, update, re-read, COMMIT): the fence is a locking CTE of the UPDATE, which
RETURNs the row for the copy in memory. A statement that changes nothing (the lease is gone,
or the board has no row yet) is followed by the whole transaction, which then raises
LeaseLost or makes the row, so the rare cases keep the one well-tested path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from relay.adapters.postgres.driver import PostgresDriver, PostgresTx
from relay.adapters.postgres.fencing import check_fence
from relay.adapters.sql import boards
from relay.adapters.sql.boards import NO_COUNTS, SqlBoards
from relay.adapters.sql.driver import Tx
from relay.core.coordination import Lease


class BoardTable(boards.BoardTable):
    """The shared table, with per-board locks and fencing."""

    _driver: PostgresDriver

    def __init__(self, driver: PostgresDriver, location: str) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._location = location
        super().__init__(driver)

    def _hold(self, board_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(board_id, threading.Lock())

    def _check(self, tx: Tx, board_id: str, fence: Lease | None) -> None:
        if fence is not None:
            assert isinstance(tx, PostgresTx)
            check_fence(tx.conn, board_id, fence, self._location)

    def update(
        self, board_id: str, assignments: str, params: Sequence[object], fence: Lease | None = None
    ) -> None:
        one = f"UPDATE boards SET {assignments} WHERE id = ?"
        with self._hold(board_id):
            if fence is None:
                rows = self._driver.write_returning(f"{one}{_RETURNING}", (*params, board_id))
            else:
                fenced = f"{_FENCE} {one} AND EXISTS (SELECT 1 FROM fence){_RETURNING}"
                key = (board_id, fence.owner, fence.token)
                rows = self._driver.write_returning(fenced, (*key, *params, board_id))
            if rows:
                self._states[board_id] = self.state(rows[0])
                return
        super().update(board_id, assignments, params, fence)  # raises LeaseLost, or makes the row


# The lease row, locked: `fencing.check_fence` as a CTE of the UPDATE (the row returned as
# the table's copy reads it, without the counts).
_FENCE = (
    "WITH fence AS (SELECT 1 FROM leases WHERE board_id = ? AND owner = ? AND token = ? "
    "AND expires > now() FOR UPDATE)"
)
_RETURNING = f" RETURNING *, {NO_COUNTS}"


class PostgresBoards(SqlBoards):
    """The `BoardStates` part of the PostgreSQL state (apply_poll is in
    `relay.adapters.sql.poll`)."""

    def refresh_boards(self, board_ids: Iterable[str]) -> None:
        """Re-read these boards' poll states from the database: another instance may have
        polled them (the lease code calls this when it takes a lease)."""
        self._boards.refresh(board_ids)
