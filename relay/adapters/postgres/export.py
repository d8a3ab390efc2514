"""The PostgreSQL state's rows in neutral form, out and in, for `relay state copy`
(`relay.adapters.copy`). PostgreSQL's types are the neutral form already (timestamptz is an
aware datetime, boolean a bool), so rows pass as they are.

Both directions use a connection of their own, outside the pool, for as long as the copy
takes: the export in one REPEATABLE READ, READ ONLY transaction (one snapshot of every
table) read through a server-side cursor, the import in one transaction of COPY ... FROM
STDIN per table with no statement_timeout (a large state takes longer than any poll). The
delivery seq's identity then continues after the highest seq copied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from psycopg import IsolationLevel
from psycopg.rows import tuple_row

from relay.adapters.copy import Reader, Row, Writer, refuse_unless_empty
from relay.adapters.postgres.db import Database
from relay.adapters.sql.boards import BoardTable
from relay.adapters.tables import TABLES, Table
from relay.core.errors import StateError

_BATCH = 2000  # rows fetched per round trip by the export's cursor


class PostgresRows:
    """The `RowSource` and `RowTarget` part of the PostgreSQL state."""

    _db: Database
    _boards: BoardTable

    @contextlib.contextmanager
    def export_rows(self) -> Iterator[Reader]:
        with self._db.classified("cannot read"), self._db.connect() as conn:
            conn.autocommit = False
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True

            def read(table: Table) -> Iterator[Row]:
                sql = f"SELECT {table.column_list} FROM {table.name} ORDER BY {table.order}"
                with conn.cursor(name=f"export_{table.name}", row_factory=tuple_row) as cursor:
                    cursor.itersize = _BATCH
                    cursor.execute(sql)
                    yield from cursor

            with conn.transaction():
                # The reader writes each batch into the other state between fetches.
                conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
                yield read

    @contextlib.contextmanager
    def import_rows(self, *, replace: bool) -> Iterator[Writer]:
        with self._db.classified("cannot write"), self._db.connect() as conn:
            with conn.transaction():
                conn.execute("SET LOCAL statement_timeout = 0")
                conn.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
                names = ", ".join(t.name for t in TABLES)
                conn.execute(f"LOCK TABLE {names} IN EXCLUSIVE MODE")  # no writer meanwhile
                counts = conn.execute(
                    "SELECT (SELECT count(*) FROM boards) AS boards, "
                    "(SELECT count(*) FROM posts) AS posts"
                ).fetchone()
                assert counts is not None
                refuse_unless_empty(
                    self._db.location, counts["boards"], counts["posts"], replace=replace
                )
                # A relay running on it would go on from what it holds in memory (board
                # states, claims): the copy is for a stopped relay, so say so, and copy nothing.
                running = conn.execute(
                    "SELECT host, pid FROM instances WHERE seen > now() - interval '2 minutes' "
                    "ORDER BY started"
                ).fetchall()
                if running:
                    who = ", ".join(f"{r['host']}:{r['pid']}" for r in running)
                    raise StateError(
                        f"{self._db.location}: relay instances are running on it ({who}): "
                        "stop them before copying a state into it"
                    )
                conn.execute(f"TRUNCATE {names}")

                def write(table: Table, rows: Iterable[Row]) -> int:
                    count = 0
                    with conn.cursor().copy(
                        f"COPY {table.name} ({table.column_list}) FROM STDIN"
                    ) as copy:
                        for row in rows:
                            copy.write_row(row)
                            count += 1
                    return count

                yield write
                conn.execute(
                    "SELECT setval(pg_get_serial_sequence('deliveries', 'seq'), "
                    "coalesce(max(seq), 0) + 1, false) FROM deliveries"
                )
        self._boards.reload()
