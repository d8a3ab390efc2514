"""The deliveries table: the queue of messages to send, one row per (post, route).

Rows are queued in the transaction that records their post (`enqueue`, from apply_poll), so
a post found is never lost; `seq` is creation order, which is oldest post first. A row's
`route` is its route's key ("chat" or "chat#topic"), its `chat` where it is sent: the chat is
the route key up to any "#" (chats never hold one), until a group becomes a supergroup.
The held table lives here too: a held (post, route) becomes a delivery in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime

from relay.adapters.rows import edit_from_row
from relay.adapters.sqlite.db import Database, from_row, iso, parse_time
from relay.core.state import ChatCounts, Delivery, DeliveryStatus, Edit, PageChanges

EDIT_TRIES = 3  # transient failures of one edit before it is given up


def enqueue(
    db: sqlite3.Connection,
    board_id: str,
    post_ids: Sequence[str],
    chats: Sequence[str],
    stamp: str | None,
) -> None:
    """One delivery per post and route key, in the order given (oldest post first)."""
    enqueue_pairs(db, board_id, [(post_id, key) for post_id in post_ids for key in chats], stamp)


def enqueue_pairs(
    db: sqlite3.Connection, board_id: str, pairs: Iterable[tuple[str, str]], stamp: str | None
) -> None:
    """One delivery per (post id, route key), in the order given."""
    db.executemany(
        "INSERT OR IGNORE INTO deliveries (board_id, post_id, route, chat, created) "
        "VALUES (?,?,?,?,?)",
        [(board_id, post_id, key, key.partition("#")[0], stamp) for post_id, key in pairs],
    )


def apply_routes(
    db: sqlite3.Connection, board_id: str, changes: PageChanges, stamp: str | None
) -> None:
    """The deliveries and held rows of one poll: released posts first (they are older),
    then the new posts in order, each to its routes; a released post leaves `held`."""
    db.executemany(
        "DELETE FROM held WHERE board_id = ? AND post_id = ? AND route = ?",
        [(board_id, post_id, key) for post_id, key in changes.released],
    )
    pairs = list(changes.released)
    for item in changes.new:
        if item.announce:
            keys = changes.chats if item.routes is None else item.routes
            pairs += [(item.post.id, key) for key in keys]
    enqueue_pairs(db, board_id, pairs, stamp)
    db.executemany(
        "INSERT OR IGNORE INTO held (board_id, post_id, route) VALUES (?,?,?)",
        [(board_id, item.post.id, key) for item in changes.new for key in item.held],
    )


def queue_edits(db: sqlite3.Connection, board_id: str, post_ids: Sequence[str]) -> None:
    """Every sent message of these posts is to be edited (a digest line is not: it is one of
    many and its message is not the post's)."""
    db.executemany(
        "UPDATE deliveries SET edit_pending = 1, edit_tries = 0, edit_error = '' "
        "WHERE board_id = ? AND post_id = ? AND status = 'sent' AND message_id IS NOT NULL "
        "AND message_id > 0 AND sent_as IN ('text', 'photo')",
        [(board_id, post_id) for post_id in post_ids],
    )


class SqliteDeliveries:
    """The `DeliveryQueue` part of the SQLite state."""

    _db: Database

    def pending_deliveries(self, limit: int = 1000) -> list[Delivery]:
        rows = self._db.query(
            "SELECT seq, board_id, post_id, route, chat, attempts, not_before FROM deliveries "
            "WHERE status = 'pending' ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [from_row(Delivery, r, times=("not_before",)) for r in rows]

    def mark_sent(
        self, seq: int, now: datetime, message_id: int | None, sent_as: str = "text"
    ) -> None:
        self.mark_sent_many([seq], now, message_id, sent_as)

    def mark_sent_many(
        self, seqs: Iterable[int], now: datetime, message_id: int | None, sent_as: str
    ) -> None:
        with self._db.transaction() as db:
            db.executemany(
                "UPDATE deliveries SET status = 'sent', sent_at = ?, message_id = ?, "
                "sent_as = ?, attempts = attempts + 1 WHERE seq = ?",
                [(iso(now), message_id, sent_as, seq) for seq in seqs],
            )

    def pending_edits(self, limit: int = 100) -> list[Edit]:
        rows = self._db.query(
            "SELECT seq, board_id, post_id, route, chat, message_id, sent_as, edit_tries "
            "FROM deliveries WHERE edit_pending = 1 ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [edit_from_row(r) for r in rows]

    def mark_edited(self, seq: int, error: str = "", *, retry: bool = False) -> None:
        """A transient failure keeps the edit queued EDIT_TRIES times, then gives it up."""
        if retry:
            self._db.write(
                "UPDATE deliveries SET edit_tries = edit_tries + 1, edit_error = ?, "
                "edit_pending = CASE WHEN edit_tries + 1 >= ? THEN 0 ELSE 1 END WHERE seq = ?",
                (error, EDIT_TRIES, seq),
            )
            return
        self._db.write(
            "UPDATE deliveries SET edit_pending = 0, edit_tries = edit_tries + 1, "
            "edit_error = ? WHERE seq = ?",
            (error, seq),
        )

    def mark_retry(self, seq: int, error: str, not_before: datetime, *, count: bool = True) -> None:
        self._db.write(
            "UPDATE deliveries SET attempts = attempts + ?, last_error = ?, not_before = ? "
            "WHERE seq = ?",
            (int(count), error, iso(not_before), seq),
        )

    def mark_failed(self, seq: int, error: str) -> None:
        self._db.write(
            "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = ? "
            "WHERE seq = ?",
            (error, seq),
        )

    def move_chat(self, old: str, new: str) -> int:
        return self._db.write(
            "UPDATE OR IGNORE deliveries SET chat = ?, not_before = NULL "
            "WHERE chat = ? AND status = 'pending'",
            (new, old),
        )

    def requeue_failed(self, board_id: str | None = None) -> int:
        return self._db.write(
            "UPDATE deliveries SET status = 'pending', not_before = NULL, attempts = 0 "
            "WHERE status = 'failed' AND (? IS NULL OR board_id = ?)",
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
            where, args = "board_id = ? AND status IN ('pending', 'failed')", (board_id,)
        rows = self._db.query(
            "SELECT board_id, chat, sum(status = 'pending') AS pending, "
            f"sum(status = 'failed') AS failed FROM deliveries WHERE {where} "
            "GROUP BY board_id, chat ORDER BY board_id, chat",
            args,
        )
        return [ChatCounts(r["board_id"], r["chat"], r["pending"], r["failed"]) for r in rows]

    def post_deliveries(self, board_id: str, post_ids: Iterable[str]) -> list[DeliveryStatus]:
        rows = self._db.query_ids(
            "SELECT post_id, chat, status, last_error, not_before, sent_at FROM deliveries "
            "WHERE board_id = ? AND post_id IN ({ids}) ORDER BY seq",
            (board_id,),
            list(post_ids),
        )
        return [
            DeliveryStatus(
                post_id=r["post_id"],
                chat=r["chat"],
                status=r["status"],
                error=r["last_error"],
                not_before=parse_time(r["not_before"]),
                sent_at=parse_time(r["sent_at"]),
            )
            for r in rows
        ]
