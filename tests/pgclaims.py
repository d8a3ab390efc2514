"""Rows for the claims tests: pending deliveries queued straight into a PostgreSQL state
(its board and post rows with them), and one SQL statement run on its own."""

from __future__ import annotations

from typing import Any

import psycopg


def queue(url: str, rows: list[tuple[str, str]], board: str = "b") -> None:
    """Pending deliveries (chat, post id) of `board`, in this order."""
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO boards (id) VALUES (%s) ON CONFLICT DO NOTHING", (board,))
        for chat, post_id in rows:
            conn.execute(
                "INSERT INTO posts (board_id, id, sort_key, url, title, first_seen, updated) "
                "VALUES (%s, %s, 0, 'http://x/', %s, now(), now()) ON CONFLICT DO NOTHING",
                (board, post_id, post_id),
            )
            conn.execute(
                "INSERT INTO deliveries (board_id, post_id, route, chat, created) "
                "VALUES (%s, %s, %s, %s, now())",
                (board, post_id, chat, chat),
            )


def sql(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(query, args)
        return cursor.fetchall() if cursor.description else []
