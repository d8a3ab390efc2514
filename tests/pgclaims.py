"""The delivery columns the claims read, for the claims tests until the PostgreSQL state's
migrations create them (then the tests use those migrations instead), and a queue filler."""

from __future__ import annotations

import psycopg


def claims_schema(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE deliveries (seq bigserial PRIMARY KEY, board_id text NOT NULL, "
            "post_id text NOT NULL, route text NOT NULL DEFAULT '', chat text NOT NULL, "
            "status text NOT NULL DEFAULT 'pending', attempts integer NOT NULL DEFAULT 0, "
            "not_before timestamptz, message_id bigint, sent_as text NOT NULL DEFAULT 'text', "
            "edit_pending boolean NOT NULL DEFAULT false, edit_tries integer NOT NULL DEFAULT 0, "
            "claimed_by text, claim_until timestamptz)"
        )
        conn.execute("CREATE TABLE chat_pace (chat text PRIMARY KEY, next_at timestamptz NOT NULL)")


def queue(url: str, rows: list[tuple[str, str]]) -> None:
    """Pending deliveries (chat, post id) of board "b", in this order."""
    with psycopg.connect(url) as conn:
        for chat, post_id in rows:
            conn.execute(
                "INSERT INTO deliveries (board_id, post_id, route, chat) VALUES ('b', %s, %s, %s)",
                (post_id, chat, chat),
            )
