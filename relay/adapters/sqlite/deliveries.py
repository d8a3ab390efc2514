"""The deliveries table: the queue of messages to send, one row per (post, chat).

Rows are queued in the transaction that records their post (`enqueue`, from apply_poll), so
a post found is never lost; `seq` is creation order, which is oldest post first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime

from relay.adapters.sqlite.db import Database, from_row, iso, parse_time
from relay.core.state import ChatCounts, Delivery, DeliveryStatus


def enqueue(
    db: sqlite3.Connection,
    board_id: str,
    post_ids: Sequence[str],
    chats: Sequence[str],
    stamp: str | None,
) -> None:
    """One delivery per post and chat, in the order given (oldest post first)."""
    db.executemany(
        "INSERT OR IGNORE INTO deliveries (board_id, post_id, chat, created) VALUES (?,?,?,?)",
        [(board_id, post_id, chat, stamp) for post_id in post_ids for chat in chats],
    )


class SqliteDeliveries:
    """The `DeliveryQueue` part of the SQLite state."""

    _db: Database

    def pending_deliveries(self, limit: int = 1000) -> list[Delivery]:
        rows = self._db.query(
            "SELECT seq, board_id, post_id, chat, attempts, not_before FROM deliveries "
            "WHERE status = 'pending' ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [from_row(Delivery, r, times=("not_before",)) for r in rows]

    def mark_sent(self, seq: int, now: datetime, message_id: int | None) -> None:
        self._db.write(
            "UPDATE deliveries SET status = 'sent', sent_at = ?, message_id = ?, "
            "attempts = attempts + 1 WHERE seq = ?",
            (iso(now), message_id, seq),
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
