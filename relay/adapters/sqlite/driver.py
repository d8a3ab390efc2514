"""The SQLite side of `relay.adapters.sql.driver`: the shared state modules' statements on
the state file's one connection (`db.Database`).

The portable SQL is nearly SQLite's own: `?` and `:name` are native, `IN ({ids})` is chunked
(`db.select_ids`), and `{true}` / `{false}` become 1 / 0 (a literal, so that a query's
`edit_pending = 1` still matches the partial index `deliveries_edits`). Times are stored as
UTC ISO text, flags as 0/1.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from relay.adapters.rows import RowLike
from relay.adapters.sql.driver import OverConnections, Params
from relay.adapters.sqlite.db import Database, iso, parse_time, select_ids


@lru_cache(maxsize=256)
def dialect(sql: str) -> str:
    return sql.replace("{true}", "1").replace("{false}", "0")


class _Values:
    def stored_time(self, when: datetime | None) -> object:
        return iso(when)

    def read_time(self, value: Any) -> datetime | None:
        return parse_time(value)

    def read_flag(self, value: Any) -> bool:
        return bool(value)


class SqliteTx(_Values):
    """Statements on the connection, inside a transaction `Database` opened."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return self.conn.execute(dialect(sql), params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(dialect(sql), rows)

    def query(self, sql: str, params: Params = ()) -> list[RowLike]:
        return self.conn.execute(dialect(sql), params).fetchall()

    def query_ids(self, sql: str, params: Sequence[Any], ids: Sequence[str]) -> list[RowLike]:
        return list(select_ids(self.conn, dialect(sql), params, ids))


class SqliteDriver(_Values, OverConnections[sqlite3.Connection]):
    """The state file's `Driver`."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._file = db

    def _dialect(self, sql: str) -> str:
        return dialect(sql)

    def _tx(self, conn: sqlite3.Connection) -> SqliteTx:
        return SqliteTx(conn)

    def query_ids(self, sql: str, params: Sequence[Any], ids: Sequence[str]) -> list[RowLike]:
        return list(self._file.query_ids(dialect(sql), params, ids))
