"""The SQLite state's rows in neutral form, out and in, for `relay state copy`
(`relay.adapters.copy`): ISO texts become aware datetimes and 0/1 bools on the way out, and
back on the way in."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime

from relay.adapters.copy import Reader, Row, Writer, refuse_unless_empty
from relay.adapters.sql.boards import BoardTable
from relay.adapters.sqlite.db import Database, iso, parse_time
from relay.adapters.tables import TABLES, Table


class SqliteRows:
    """The `RowSource` and `RowTarget` part of the SQLite state."""

    _db: Database
    _boards: BoardTable

    @contextlib.contextmanager
    def export_rows(self) -> Iterator[Reader]:
        with self._db.snapshot() as db:

            def read(table: Table) -> Iterator[Row]:
                cursor = db.execute(
                    f"SELECT {table.column_list} FROM {table.name} ORDER BY {table.order}"
                )
                for row in cursor:
                    yield _neutral(table, row)

            yield read

    @contextlib.contextmanager
    def import_rows(self, *, replace: bool) -> Iterator[Writer]:
        with self._db.transaction() as db:
            boards, posts = (
                db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                for name in ("boards", "posts")
            )
            refuse_unless_empty(str(self._db.path), boards, posts, replace=replace)
            for table in reversed(TABLES):
                db.execute(f"DELETE FROM {table.name}")

            def write(table: Table, rows: Iterable[Row]) -> int:
                marks = ",".join("?" * len(table.columns))
                sql = f"INSERT INTO {table.name} ({table.column_list}) VALUES ({marks})"
                return db.executemany(sql, (_stored(table, row) for row in rows)).rowcount

            yield write
        self._boards.reload()


def _neutral(table: Table, row: sqlite3.Row) -> Row:
    return tuple(_out(table, name, value) for name, value in zip(table.columns, row, strict=True))


def _stored(table: Table, row: Row) -> Row:
    return tuple(_in(table, name, value) for name, value in zip(table.columns, row, strict=True))


def _out(table: Table, name: str, value: object) -> object:
    if name in table.times and isinstance(value, str):
        return parse_time(value)
    return bool(value) if name in table.flags else value


def _in(table: Table, name: str, value: object) -> object:
    if name in table.times and isinstance(value, datetime):
        return iso(value)
    return int(bool(value)) if name in table.flags else value
