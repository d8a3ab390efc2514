"""The durable state in one SQLite file: `SqliteState` implements `relay.core.state.State`.

Knows nothing of HTTP, HTML or Telegram. Split by job, one module per table, sharing one
connection and its transactions (`db`):

    db.py           connection, lock, transactions, error classification, chunked IN lists
    migrations.py   the schema as numbered forward migrations (PRAGMA user_version)
    boards.py       each board's poll state, also held in memory (read on every poll)
    posts.py        posts: known ids, feeds, late articles
    deliveries.py   the queue of messages to send

What one poll learns is applied in ONE transaction (`apply_poll`): the posts, the deliveries
they cause, the board's validators and the "feed needs writing" mark, so a crash at any point
leaves either all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from relay.adapters.sqlite import boards, deliveries, posts
from relay.adapters.sqlite.boards import BoardTable, SqliteBoards
from relay.adapters.sqlite.db import Database, iso
from relay.adapters.sqlite.deliveries import SqliteDeliveries
from relay.adapters.sqlite.posts import SqlitePosts
from relay.core.coordination import Lease
from relay.core.models import StoredPost
from relay.core.state import PollIntent


class SqliteState(SqliteBoards, SqlitePosts, SqliteDeliveries):
    """All reads and writes of the state file. Methods are synchronous and short: async
    callers run them in a worker thread, except `board_state` (answered from memory)."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._db = Database(path, busy_timeout=busy_timeout)
        try:
            self._boards = BoardTable(self._db)
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

    def apply_poll(
        self, board_id: str, intent: PollIntent, *, fence: Lease | None = None
    ) -> tuple[StoredPost, ...]:
        # `fence` is not checked: one process owns the file (StateLock), so no other
        # instance can have taken the board over.
        if not intent.stamp:
            return ()  # an unchanged page, and the stored time is recent enough
        stamp = iso(intent.at)
        changes = intent.changes
        with self._boards.write(board_id) as db:
            if changes is None:
                boards.record_unchanged(db, board_id, stamp)
                return ()
            new_ids = [n.post.id for n in changes.new]
            posts.insert_new(db, board_id, changes.new, stamp)
            deliveries.apply_routes(db, board_id, changes, stamp)
            posts.retitle(db, board_id, changes.retitled, stamp)
            deliveries.queue_edits(db, board_id, [p.id for p in changes.retitled])
            posts.recount(db, board_id, changes.recounted)
            boards.record_success(db, board_id, changes, stamp)
            recorded = posts.read_posts(db, board_id, new_ids)
        return tuple(recorded[i] for i in new_ids if i in recorded)


__all__ = ["SqliteState"]
