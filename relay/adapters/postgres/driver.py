"""The PostgreSQL side of `relay.adapters.sql.driver`: the shared state modules' statements
on the pool (`db.Database`).

The portable SQL is translated once per statement text: `IN ({ids})` becomes `= ANY(%s)`
with the ids as one array parameter (no chunks, no limit on a 100,000-row page), `{true}` /
`{false}` the boolean literals, `?` psycopg's `%s` and, for named parameters, `:name`
`%(name)s` (a literal `%` is doubled). Times are timestamptz (aware datetimes both ways,
the sessions run in UTC) and flags booleans, so values pass as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from relay.adapters.postgres.db import Connection, Database
from relay.adapters.rows import RowLike
from relay.adapters.sql.driver import OverConnections, Params

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=256)
def dialect(sql: str, named: bool = False) -> str:
    text = sql.replace("%", "%%").replace("IN ({ids})", "= ANY(?)")
    text = text.replace("{true}", "true").replace("{false}", "false")
    return _NAMED.sub(r"%(\1)s", text) if named else text.replace("?", "%s")


def _sql(sql: str, params: Params) -> str:
    return dialect(sql, not isinstance(params, Sequence))


class _Values:
    def stored_time(self, when: datetime | None) -> object:
        return when

    def read_time(self, value: Any) -> datetime | None:
        return value  # type: ignore[no-any-return]

    def read_flag(self, value: Any) -> bool:
        return value  # type: ignore[no-any-return]


class PostgresTx(_Values):
    """Statements on one pooled connection, inside its transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return self.conn.execute(_sql(sql, params), params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(dialect(sql), rows)

    def query(self, sql: str, params: Params = ()) -> list[RowLike]:
        return list(self.conn.execute(_sql(sql, params), params).fetchall())

    def query_ids(self, sql: str, params: Sequence[Any], ids: Sequence[str]) -> list[RowLike]:
        return self.query(sql, [*params, list(ids)])


class PostgresDriver(_Values, OverConnections[Connection]):
    """The pool's `Driver`."""

    _db: Database

    def __init__(self, db: Database) -> None:
        super().__init__(db)

    def _dialect(self, sql: str) -> str:
        return dialect(sql)

    def _tx(self, conn: Connection) -> PostgresTx:
        return PostgresTx(conn)

    def query_ids(self, sql: str, params: Sequence[Any], ids: Sequence[str]) -> list[RowLike]:
        return self.query(sql, [*params, list(ids)])

    def write_returning(self, sql: str, params: Sequence[Any] = ()) -> list[RowLike]:
        """One statement in its own transaction, and the rows it RETURNs."""
        return list(self._db.write_returning(dialect(sql), params))
