"""The deliveries table: the queue of messages to send, one row per (post, route).

As in the SQLite state: rows are queued in the transaction that records their post, `seq` is
creation order (oldest post first), `route` is the route's key and `chat` where it is sent.
With several instances, a seq is taken at INSERT, not at COMMIT: two boards' polls committing
in the other order than they inserted may interleave their seqs, which orders nothing that
matters (a board's own deliveries are written by the one instance holding its lease, in
order). The claim columns are for the delivery claims of issue 13 (`claims`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from relay.adapters.postgres.db import Connection, Database
from relay.adapters.rows import edit_from_row, record_from_row
from relay.core.state import ChatCounts, Delivery, DeliveryStatus, Edit, PageChanges

EDIT_TRIES = 3  # transient failures of one edit before it is given up


def enqueue_pairs(
    tx: Connection, board_id: str, pairs: Iterable[tuple[str, str]], at: datetime
) -> None:
    """One delivery per (post id, route key), in the order given."""
    with tx.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO deliveries (board_id, post_id, route, chat, created) "
            "VALUES (%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
            [(board_id, post_id, key, key.partition("#")[0], at) for post_id, key in pairs],
        )


def apply_routes(tx: Connection, board_id: str, changes: PageChanges, at: datetime) -> None:
    """The deliveries and held rows of one poll: released posts first (they are older),
    then the new posts in order, each to its routes; a released post leaves `held`."""
    with tx.cursor() as cursor:
        cursor.executemany(
            "DELETE FROM held WHERE board_id = %s AND post_id = %s AND route = %s",
            [(board_id, post_id, key) for post_id, key in changes.released],
        )
    pairs = list(changes.released)
    for item in changes.new:
        if item.announce:
            keys = changes.chats if item.routes is None else item.routes
            pairs += [(item.post.id, key) for key in keys]
    enqueue_pairs(tx, board_id, pairs, at)
    with tx.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO held (board_id, post_id, route) VALUES (%s,%s,%s) ON CONFLICT DO NOTHING",
            [(board_id, item.post.id, key) for item in changes.new for key in item.held],
        )


def queue_edits(tx: Connection, board_id: str, post_ids: Sequence[str]) -> None:
    """Every sent message of these posts is to be edited (a digest line is not: it is one of
    many and its message is not the post's)."""
    if not post_ids:
        return
    tx.execute(
        "UPDATE deliveries SET edit_pending = true, edit_tries = 0, edit_error = '' "
        "WHERE board_id = %s AND post_id = ANY(%s) AND status = 'sent' "
        "AND message_id IS NOT NULL AND message_id > 0 AND sent_as IN ('text', 'photo')",
        (board_id, list(post_ids)),
    )


class PostgresDeliveries:
    """The `DeliveryQueue` part of the PostgreSQL state."""

    _db: Database

    def pending_deliveries(self, limit: int = 1000) -> list[Delivery]:
        rows = self._db.query(
            "SELECT seq, board_id, post_id, route, chat, attempts, not_before FROM deliveries "
            "WHERE status = 'pending' ORDER BY seq LIMIT %s",
            (limit,),
        )
        return [record_from_row(Delivery, r) for r in rows]

    def mark_sent(
        self, seq: int, now: datetime, message_id: int | None, sent_as: str = "text"
    ) -> None:
        self.mark_sent_many([seq], now, message_id, sent_as)

    def mark_sent_many(
        self, seqs: Iterable[int], now: datetime, message_id: int | None, sent_as: str
    ) -> None:
        self._db.write(
            "UPDATE deliveries SET status = 'sent', sent_at = %s, message_id = %s, "
            "sent_as = %s, attempts = attempts + 1 WHERE seq = ANY(%s)",
            (now, message_id, sent_as, list(seqs)),
        )

    def pending_edits(self, limit: int = 100) -> list[Edit]:
        rows = self._db.query(
            "SELECT seq, board_id, post_id, route, chat, message_id, sent_as, edit_tries "
            "FROM deliveries WHERE edit_pending ORDER BY seq LIMIT %s",
            (limit,),
        )
        return [edit_from_row(r) for r in rows]

    def mark_edited(self, seq: int, error: str = "", *, retry: bool = False) -> None:
        """A transient failure keeps the edit queued EDIT_TRIES times, then gives it up."""
        if retry:
            self._db.write(
                "UPDATE deliveries SET edit_tries = edit_tries + 1, edit_error = %s, "
                "edit_pending = edit_tries + 1 < %s WHERE seq = %s",
                (error, EDIT_TRIES, seq),
            )
            return
        self._db.write(
            "UPDATE deliveries SET edit_pending = false, edit_tries = edit_tries + 1, "
            "edit_error = %s WHERE seq = %s",
            (error, seq),
        )

    def mark_retry(self, seq: int, error: str, not_before: datetime, *, count: bool = True) -> None:
        self._db.write(
            "UPDATE deliveries SET attempts = attempts + %s, last_error = %s, not_before = %s "
            "WHERE seq = %s",
            (int(count), error, not_before, seq),
        )

    def mark_failed(self, seq: int, error: str) -> None:
        self._db.write(
            "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, "
            "last_error = %s WHERE seq = %s",
            (error, seq),
        )

    def move_chat(self, old: str, new: str) -> int:
        return self._db.write(
            "UPDATE deliveries SET chat = %s, not_before = NULL "
            "WHERE chat = %s AND status = 'pending'",
            (new, old),
        )

    def requeue_failed(self, board_id: str | None = None) -> int:
        return self._db.write(
            "UPDATE deliveries SET status = 'pending', not_before = NULL, attempts = 0 "
            "WHERE status = 'failed' AND (%s::text IS NULL OR board_id = %s)",
            (board_id, board_id),
        )

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        rows = self._db.query(
            "SELECT board_id, status, count(*) AS n FROM deliveries GROUP BY board_id, status"
        )
        return {(r["board_id"], r["status"]): r["n"] for r in rows}

    def chat_counts(self, board_id: str | None = None) -> list[ChatCounts]:
        args: tuple[str, ...] = ()
        if board_id is None:  # the status index skips the sent ones
            where = "status IN ('pending', 'failed')"
        else:  # the board index
            where, args = "board_id = %s AND status IN ('pending', 'failed')", (board_id,)
        rows = self._db.query(
            "SELECT board_id, chat, count(*) FILTER (WHERE status = 'pending') AS pending, "
            f"count(*) FILTER (WHERE status = 'failed') AS failed FROM deliveries "
            f"WHERE {where} GROUP BY board_id, chat ORDER BY board_id, chat",
            args,
        )
        return [ChatCounts(r["board_id"], r["chat"], r["pending"], r["failed"]) for r in rows]

    def post_deliveries(self, board_id: str, post_ids: Iterable[str]) -> list[DeliveryStatus]:
        rows = self._db.query(
            "SELECT post_id, chat, status, last_error, not_before, sent_at FROM deliveries "
            "WHERE board_id = %s AND post_id = ANY(%s) ORDER BY seq",
            (board_id, list(post_ids)),
        )
        return [record_from_row(DeliveryStatus, r, columns={"error": "last_error"}) for r in rows]
