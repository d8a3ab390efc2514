"""`apply_poll`: what one poll learns, applied in ONE transaction — the posts, the deliveries
they cause, retitles and the edits they queue, counts, categories, the board's validators and
the "feed needs writing" mark — so a crash at any point leaves either all of it or none of
it. The steps are the table modules' (`boards`, `posts`, `deliveries`); the transaction is
the board's write (`BoardTable.write`), fenced by the lease where the database fences (on
PostgreSQL a poll made under a lease since lost records nothing; a SQLite file has one
owner, StateLock, so no other instance can have taken the board over).
"""

from __future__ import annotations

from relay.adapters.sql import boards, deliveries, posts
from relay.adapters.sql.boards import BoardTable
from relay.adapters.sql.driver import Driver
from relay.core.coordination import Lease
from relay.core.models import StoredPost
from relay.core.state import PollIntent


class SqlPolls:
    """The `apply_poll` part of a state."""

    _sql: Driver
    _boards: BoardTable

    def apply_poll(
        self, board_id: str, intent: PollIntent, *, fence: Lease | None = None
    ) -> tuple[StoredPost, ...]:
        if not intent.stamp:
            return ()  # an unchanged page, and the stored time is recent enough
        stamp = self._sql.stored_time(intent.at)
        changes = intent.changes
        if changes is None:
            self._boards.update(board_id, boards.UNCHANGED, (stamp, stamp), fence)
            return ()
        with self._boards.write(board_id, fence) as tx:
            new_ids = [n.post.id for n in changes.new]
            posts.insert_new(tx, board_id, changes.new, stamp)
            deliveries.apply_routes(tx, board_id, changes, stamp)
            posts.retitle(tx, board_id, changes.retitled, stamp)
            deliveries.queue_edits(tx, board_id, [p.id for p in changes.retitled])
            posts.recount(tx, board_id, changes.recounted)
            posts.categorize(tx, board_id, changes.categorized)
            boards.record_success(tx, board_id, changes, stamp)
            recorded = posts.read_posts(tx, board_id, new_ids)
        return tuple(recorded[i] for i in new_ids if i in recorded)
