"""The durable state in a PostgreSQL database: `PostgresState` implements
`relay.core.state.State` with the same semantics as `relay.adapters.sqlite.SqliteState`
(tests/test_state_contract.py runs against both), so that several `relay run` instances can
share one state (issue 13).

Knows nothing of HTTP, HTML or Telegram. Split by job like the SQLite state:

    db.py           the pool, transactions, settings, error classification
    migrations.py   the schema as numbered forward migrations (table relay_schema)
    boards.py       each board's poll state, also held in memory (read on every poll)
    posts.py        posts: known ids, feeds, late articles
    deliveries.py   the queue of messages to send
    fencing.py      the lease check that fences a poll's write
    export.py       every row out and in, for `relay state copy`

What one poll learns is applied in ONE transaction (`apply_poll`), fenced by the board's
lease when one is given: a poll made under a lease that has since been lost records nothing.

boards, posts and deliveries mirror their SQLite namesakes statement for statement. They are
two sets of modules, not one with a dialect switch, because the SQL differs in every line
that matters (placeholders, booleans, `= ANY(array)` for IN lists, timestamptz against ISO
text, FILTER against sum()); what is the same once a query has run is shared
(`relay.adapters.rows`), and the contract suite holds the two to one behaviour: a change to
one module is a change to its namesake.
"""

from __future__ import annotations

from relay.adapters.postgres.boards import BoardTable, PostgresBoards
from relay.adapters.postgres.db import Database, PoolSettings
from relay.adapters.postgres.deliveries import PostgresDeliveries
from relay.adapters.postgres.driver import PostgresDriver
from relay.adapters.postgres.export import PostgresRows
from relay.adapters.postgres.posts import PostgresPosts
from relay.adapters.sql import boards as board_rows
from relay.adapters.sql import deliveries as delivery_rows
from relay.adapters.sql import posts as post_rows
from relay.core.coordination import Lease
from relay.core.models import StoredPost
from relay.core.state import PollIntent
from relay.core.state_url import PostgresUrl


class PostgresState(PostgresBoards, PostgresPosts, PostgresDeliveries, PostgresRows):
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

    def apply_poll(
        self, board_id: str, intent: PollIntent, *, fence: Lease | None = None
    ) -> tuple[StoredPost, ...]:
        if not intent.stamp:
            return ()  # an unchanged page, and the stored time is recent enough
        at, changes = intent.at, intent.changes
        with self._boards.write(board_id, fence) as shared:
            if changes is None:
                board_rows.record_unchanged(shared, board_id, at)
                return ()
            new_ids = [n.post.id for n in changes.new]
            post_rows.insert_new(shared, board_id, changes.new, at)
            delivery_rows.apply_routes(shared, board_id, changes, at)
            post_rows.retitle(shared, board_id, changes.retitled, at)
            delivery_rows.queue_edits(shared, board_id, [p.id for p in changes.retitled])
            post_rows.recount(shared, board_id, changes.recounted)
            post_rows.categorize(shared, board_id, changes.categorized)
            board_rows.record_success(shared, board_id, changes, at)
            recorded = post_rows.read_posts(shared, board_id, new_ids)
        return tuple(recorded[i] for i in new_ids if i in recorded)


__all__ = ["PoolSettings", "PostgresState"]
