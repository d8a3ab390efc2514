"""The two coordination tables, for the lease tests until the PostgreSQL state's migrations
create them (then the tests use those migrations instead)."""

from __future__ import annotations

import psycopg


def lease_schema(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE instances (name text PRIMARY KEY, host text NOT NULL, "
            "pid integer NOT NULL, started timestamptz NOT NULL, seen timestamptz NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE leases (board_id text PRIMARY KEY, owner text NOT NULL DEFAULT '', "
            "token bigint NOT NULL DEFAULT 0, expires timestamptz NOT NULL, "
            "taken timestamptz NOT NULL)"
        )
