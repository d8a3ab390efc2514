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

What one poll learns is applied in ONE transaction (`apply_poll`), fenced by the board's
lease when one is given: a poll made under a lease that has since been lost records nothing.
"""

from __future__ import annotations

from relay.adapters.postgres import boards, deliveries, posts
from relay.adapters.postgres.boards import BoardTable, PostgresBoards
from relay.adapters.postgres.db import Database, PoolSettings
from relay.adapters.postgres.deliveries import PostgresDeliveries
from relay.adapters.postgres.posts import PostgresPosts
from relay.core.coordination import Lease
from relay.core.models import StoredPost
from relay.core.state import PollIntent
from relay.core.state_url import PostgresUrl


class PostgresState(PostgresBoards, PostgresPosts, PostgresDeliveries):
    """All reads and writes of the shared state. Methods are synchronous and short: async
    callers run them in a worker thread, except `board_state` (answered from memory)."""

    def __init__(
        self, url: PostgresUrl, *, password: str | None = None, settings: PoolSettings | None = None
    ) -> None:
        self.url = url
        self._db = Database(url, password, settings)
        try:
            self._boards = BoardTable(self._db)
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
        with self._boards.write(board_id, fence) as tx:
            if changes is None:
                boards.record_unchanged(tx, board_id, at)
                return ()
            new_ids = [n.post.id for n in changes.new]
            posts.insert_new(tx, board_id, changes.new, at)
            deliveries.apply_routes(tx, board_id, changes, at)
            posts.retitle(tx, board_id, changes.retitled, at)
            deliveries.queue_edits(tx, board_id, [p.id for p in changes.retitled])
            posts.recount(tx, board_id, changes.recounted)
            boards.record_success(tx, board_id, changes, at)
            recorded = posts.read_posts(tx, board_id, new_ids)
        return tuple(recorded[i] for i in new_ids if i in recorded)


__all__ = ["PoolSettings", "PostgresState"]
