"""The boards table of the PostgreSQL state: the shared table (`relay.adapters.sql.boards`)
with what several instances need.

Unlike SQLite, this process is not the table's only writer: another instance may have
polled a board since (issue 13). `refresh` re-reads given boards' rows — the lease code
calls it when it takes a board over — so a board's entry is current whenever this instance
is the one polling it.

Writes of one board in this process are serialized by a lock of that board, held across
COMMIT and the refresh of its entry: two threads writing one board cannot leave the older
row in memory. A write given a lease is fenced by it (`fencing`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from relay.adapters.postgres.driver import PostgresDriver, PostgresTx
from relay.adapters.postgres.fencing import check_fence
from relay.adapters.sql import boards
from relay.adapters.sql.boards import SqlBoards
from relay.adapters.sql.driver import Tx
from relay.core.coordination import Lease


class BoardTable(boards.BoardTable):
    """The shared table, with per-board locks and fencing."""

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


class PostgresBoards(SqlBoards):
    """The `BoardStates` part of the PostgreSQL state (apply_poll is in
    `relay.adapters.sql.poll`)."""

    def refresh_boards(self, board_ids: Iterable[str]) -> None:
        """Re-read these boards' poll states from the database: another instance may have
        polled them (the lease code calls this when it takes a lease)."""
        self._boards.refresh(board_ids)
