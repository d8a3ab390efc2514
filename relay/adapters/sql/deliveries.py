"""The deliveries table: the queue of messages to send, one row per (post, route).

Rows are queued in the transaction that records their post (`apply_routes`, from
apply_poll), so a post found is never lost; `seq` is creation order, which is oldest post
first. A row's `route` is its route's key ("chat" or "chat#topic"), its `chat` where it is
sent: the chat is the route key up to any "#" (chats never hold one), until a group becomes
a supergroup. The held table lives here too: a held (post, route) becomes a delivery in one
transaction.

A database may add to every mark (sent, retry, failed) a SET clause of its own, `_RELEASE`:
PostgreSQL releases the delivery's claim in the transaction that records the mark.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from relay.adapters.sql.driver import Driver, Tx, from_row
from relay.core.state import ChatCounts, Delivery, DeliveryStatus, Edit, PageChanges

EDIT_TRIES = 3  # transient failures of one edit before it is given up


def enqueue_pairs(tx: Tx, board_id: str, pairs: Iterable[tuple[str, str]], stamp: object) -> None:
    """One delivery per (post id, route key), in the order given."""
    tx.executemany(
        "INSERT INTO deliveries (board_id, post_id, route, chat, created) "
        "VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
        [(board_id, post_id, key, key.partition("#")[0], stamp) for post_id, key in pairs],
    )


def apply_routes(tx: Tx, board_id: str, changes: PageChanges, stamp: object) -> None:
    """The deliveries and held rows of one poll: released posts first (they are older),
    then the new posts in order, each to its routes; a released post leaves `held`."""
    tx.executemany(
        "DELETE FROM held WHERE board_id = ? AND post_id = ? AND route = ?",
        [(board_id, post_id, key) for post_id, key in changes.released],
    )
    pairs = list(changes.released)
    for item in changes.new:
        if item.announce:
            keys = changes.chats if item.routes is None else item.routes
            pairs += [(item.post.id, key) for key in keys]
    enqueue_pairs(tx, board_id, pairs, stamp)
    tx.executemany(
        "INSERT INTO held (board_id, post_id, route) VALUES (?,?,?) ON CONFLICT DO NOTHING",
        [(board_id, item.post.id, key) for item in changes.new for key in item.held],
    )


def queue_edits(tx: Tx, board_id: str, post_ids: Sequence[str]) -> None:
    """Every sent message of these posts is to be edited (a digest line is not: it is one of
    many and its message is not the post's)."""
    if not post_ids:
        return
    tx.executemany(
        "UPDATE deliveries SET edit_pending = {true}, edit_tries = 0, edit_error = '' "
        "WHERE board_id = ? AND post_id = ? AND status = 'sent' AND message_id IS NOT NULL "
        "AND message_id > 0 AND sent_as IN ('text', 'photo')",
        [(board_id, post_id) for post_id in post_ids],
    )


_STATUS_COLUMNS = {"error": "last_error"}  # DeliveryStatus field -> column


class SqlDeliveries:
    """The `DeliveryQueue` part of a state."""

    _sql: Driver
    _RELEASE = ""  # what a mark also sets (", column = value ..."), for the database's claims

    def pending_deliveries(self, limit: int = 1000) -> list[Delivery]:
        rows = self._sql.query(
            "SELECT seq, board_id, post_id, route, chat, attempts, not_before FROM deliveries "
            "WHERE status = 'pending' ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [from_row(self._sql, Delivery, r, times=("not_before",)) for r in rows]

    def mark_sent(
        self, seq: int, now: datetime, message_id: int | None, sent_as: str = "text"
    ) -> None:
        self.mark_sent_many([seq], now, message_id, sent_as)

    def mark_sent_many(
        self, seqs: Iterable[int], now: datetime, message_id: int | None, sent_as: str
    ) -> None:
        with self._sql.transaction() as tx:
            tx.executemany(
                "UPDATE deliveries SET status = 'sent', sent_at = ?, message_id = ?, "
                f"sent_as = ?, attempts = attempts + 1{self._RELEASE} WHERE seq = ?",
                [(tx.stored_time(now), message_id, sent_as, seq) for seq in seqs],
            )

    def pending_edits(self, limit: int = 100) -> list[Edit]:
        rows = self._sql.query(
            "SELECT seq, board_id, post_id, route, chat, message_id, "
            "sent_as = 'photo' AS caption, edit_tries AS tries "
            "FROM deliveries WHERE edit_pending = {true} ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [from_row(self._sql, Edit, r, flags=("caption",)) for r in rows]

    def mark_edited(self, seq: int, error: str = "", *, retry: bool = False) -> None:
        """A transient failure keeps the edit queued EDIT_TRIES times, then gives it up."""
        if retry:
            self._sql.write(
                "UPDATE deliveries SET edit_tries = edit_tries + 1, edit_error = ?, "
                "edit_pending = CASE WHEN edit_tries + 1 >= ? THEN {false} ELSE {true} END "
                "WHERE seq = ?",
                (error, EDIT_TRIES, seq),
            )
            return
        self._sql.write(
            "UPDATE deliveries SET edit_pending = {false}, edit_tries = edit_tries + 1, "
            "edit_error = ? WHERE seq = ?",
            (error, seq),
        )

    def mark_retry(self, seq: int, error: str, not_before: datetime, *, count: bool = True) -> None:
        self._sql.write(
            "UPDATE deliveries SET attempts = attempts + ?, last_error = ?, not_before = ?"
            f"{self._RELEASE} WHERE seq = ?",
            (int(count), error, self._sql.stored_time(not_before), seq),
        )

    def mark_failed(self, seq: int, error: str) -> None:
        self._sql.write(
            "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = ?"
            f"{self._RELEASE} WHERE seq = ?",
            (error, seq),
        )

    def move_chat(self, old: str, new: str) -> int:
        # No row can collide: deliveries are unique per (board, post, route), and the route
        # does not change with the chat.
        return self._sql.write(
            "UPDATE deliveries SET chat = ?, not_before = NULL "
            "WHERE chat = ? AND status = 'pending'",
            (new, old),
        )

    def requeue_failed(self, board_id: str | None = None) -> int:
        return self._sql.write(
            "UPDATE deliveries SET status = 'pending', not_before = NULL, attempts = 0 "
            "WHERE status = 'failed' AND (CAST(? AS TEXT) IS NULL OR board_id = ?)",
            (board_id, board_id),
        )

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        rows = self._sql.query(
            "SELECT board_id, status, count(*) AS n FROM deliveries GROUP BY board_id, status"
        )
        return {(r["board_id"], r["status"]): r["n"] for r in rows}

    def chat_counts(self, board_id: str | None = None) -> list[ChatCounts]:
        args: tuple[str, ...] = ()
        if board_id is None:  # the status index skips the sent ones
            where = "status IN ('pending', 'failed')"
        else:  # the board index
            where, args = "board_id = ? AND status IN ('pending', 'failed')", (board_id,)
        rows = self._sql.query(
            "SELECT board_id, chat, route, count(*) FILTER (WHERE status = 'pending') AS pending, "
            "count(*) FILTER (WHERE status = 'failed') AS failed FROM deliveries "
            f"WHERE {where} GROUP BY board_id, chat, route ORDER BY board_id, chat, route",
            args,
        )
        return [
            ChatCounts(r["board_id"], r["chat"], r["pending"], r["failed"], r["route"])
            for r in rows
        ]

    def post_deliveries(self, board_id: str, post_ids: Iterable[str]) -> list[DeliveryStatus]:
        rows = self._sql.query_ids(
            "SELECT post_id, chat, status, last_error, not_before, sent_at FROM deliveries "
            "WHERE board_id = ? AND post_id IN ({ids}) ORDER BY seq",
            (board_id,),
            list(post_ids),
        )
        return [
            from_row(
                self._sql,
                DeliveryStatus,
                r,
                times=("not_before", "sent_at"),
                columns=_STATUS_COLUMNS,
            )
            for r in rows
        ]
