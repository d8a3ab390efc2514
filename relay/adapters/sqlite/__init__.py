"""The durable state in one SQLite file: `SqliteState` implements `relay.core.state.State`.

Knows nothing of HTTP, HTML or Telegram. The tables' statements and `apply_poll` are written
once for both databases in `relay.adapters.sql`; this package holds what is SQLite's own,
sharing one connection and its transactions (`db`):

    db.py           connection, lock, transactions, error classification, chunked IN lists
    driver.py       the shared modules' Driver on that connection (ISO text times, 0/1 flags)
    migrations.py   the schema as numbered forward migrations (PRAGMA user_version)
    boards.py       the shared boards table as it is (one process writes the file)
    posts.py        the hourly arrivals, counted on ISO text
    deliveries.py   the shared queue as it is (no claims)
    export.py       every row out and in, for `relay state copy`

What one poll learns is applied in ONE transaction (`apply_poll`, `relay.adapters.sql.poll`):
the posts, the deliveries they cause, the board's validators and the "feed needs writing"
mark, so a crash at any point leaves either all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from relay.adapters.sql.poll import SqlPolls
from relay.adapters.sqlite.boards import BoardTable, SqliteBoards
from relay.adapters.sqlite.db import Database
from relay.adapters.sqlite.deliveries import SqliteDeliveries
from relay.adapters.sqlite.driver import SqliteDriver
from relay.adapters.sqlite.export import SqliteRows
from relay.adapters.sqlite.posts import SqlitePosts


class SqliteState(SqliteBoards, SqlitePosts, SqliteDeliveries, SqliteRows, SqlPolls):
    """All reads and writes of the state file. Methods are synchronous and short: async
    callers run them in a worker thread, except `board_state` (answered from memory)."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._db = Database(path, busy_timeout=busy_timeout)
        try:
            self._sql = SqliteDriver(self._db)
            self._boards = BoardTable(self._sql)
        except BaseException:
            self._db.close()
            raise

    @property
    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        self._db.close()

    def refresh_boards(self, board_ids: Iterable[str]) -> None:
        """Nothing to re-read: this process is the file's only writer."""


__all__ = ["SqliteState"]
