"""The durable state in a PostgreSQL database: `PostgresState` implements
`relay.core.state.State` with the same semantics as `relay.adapters.sqlite.SqliteState`
(tests/test_state_contract.py runs against both), so that several `relay run` instances can
share one state (issue 13).

Knows nothing of HTTP, HTML or Telegram. The tables' statements and `apply_poll` are written
once for both databases in `relay.adapters.sql`, over a driver each implements; this package
holds what is PostgreSQL's own:

    db.py           the pool, transactions, settings, error classification
    driver.py       the shared modules' Driver on the pool (portable SQL to psycopg's)
    migrations.py   the schema as numbered forward migrations (table relay_schema)
    boards.py       the shared boards table with per-board locks and the lease fence
    posts.py        the hourly arrivals (date_trunc on timestamptz)
    deliveries.py   the shared queue, whose marks release the delivery's claim
    claims.py       delivery claims and the shared per-chat pace
    fencing.py      the lease check that fences a poll's write
    export.py       every row out and in, for `relay state copy`

What one poll learns is applied in ONE transaction (`apply_poll`), fenced by the board's
lease when one is given: a poll made under a lease that has since been lost records nothing.

Why shared modules over a driver rather than two mirrored sets (as this package first was):
the statements and the Python around them were the same but for dialect, and every schema
change had to be made twice by hand; the dialect (placeholders, `= ANY(array)` for IN lists,
booleans, timestamptz) is the driver's translation, see `relay.adapters.sql`.
"""

from __future__ import annotations

from relay.adapters.postgres.boards import BoardTable, PostgresBoards
from relay.adapters.postgres.db import Database, PoolSettings
from relay.adapters.postgres.deliveries import PostgresDeliveries
from relay.adapters.postgres.driver import PostgresDriver
from relay.adapters.postgres.export import PostgresRows
from relay.adapters.postgres.posts import PostgresPosts
from relay.adapters.sql.poll import SqlPolls
from relay.core.state_url import PostgresUrl


class PostgresState(PostgresBoards, PostgresPosts, PostgresDeliveries, PostgresRows, SqlPolls):
    """All reads and writes of the shared state. Methods are synchronous and short: async
    callers run them in a worker thread, except `board_state` (answered from memory)."""

    def __init__(
        self, url: PostgresUrl, *, password: str | None = None, settings: PoolSettings | None = None
    ) -> None:
        self.url = url
        self._db = Database(url, password, settings)
        try:
            self._sql = PostgresDriver(self._db)
            self._boards = BoardTable(self._sql, self._db.location)
        except BaseException:
            self._db.close()
            raise

    @property
    def location(self) -> str:
        return self.url.url

    @property
    def database(self) -> Database:
        """The pool, for the coordination modules of this package (leases, claims)."""
        return self._db

    def close(self) -> None:
        self._db.close()


__all__ = ["PoolSettings", "PostgresState"]
