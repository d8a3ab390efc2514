"""The state a scale run uses (bench/scale.py --state): a SQLite file, or a throwaway PostgreSQL.

For PostgreSQL the server is tests/pgserver.py's (initdb + pg_ctl in a temp folder, on
loopback, as the `postgres` user when root), started durable — `fsync`, `synchronous_commit`
and `full_page_writes` on, as in production, where the tests turn them off — and with
pg_stat_statements loaded, so that a run can say what each poll costs the database:

- `server_cpu()`: CPU seconds of the server (the postmaster, its live backends and the
  children it has reaped), read from /proc like the relay's own;
- `reset_statements()` / `statements()`: the statements run between the two calls, with
  their calls and server-side execution time (pg_stat_statements, this database only);
- `leases()`: live leases per owner, from the state's lease table (several instances).

The SQLite backend answers the same calls with nothing to report.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
DURABLE = {  # what a production server does; tests/pgserver.py turns these off for speed
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.max": "1000",
    "pg_stat_statements.track_utility": "on",  # BEGIN / COMMIT count as round trips too
}


@dataclass(frozen=True)
class Statement:
    query: str
    calls: int
    total_ms: float


class Backend(Protocol):
    name: str
    setting: str  # the `[relay] state` value

    def server_cpu(self) -> float: ...
    def reset_statements(self) -> None: ...
    def statements(self) -> list[Statement]: ...
    def leases(self) -> dict[str, int]: ...


class SqliteBackend:
    name = "sqlite"
    setting = "state.db"  # beside each config: one instance only

    def server_cpu(self) -> float:
        return 0.0

    def reset_statements(self) -> None:
        pass

    def statements(self) -> list[Statement]:
        return []

    def leases(self) -> dict[str, int]:
        return {}


class PostgresBackend:
    name = "postgresql"

    def __init__(self, url: str, data: Path) -> None:
        import psycopg

        self.setting = url
        self._conn = psycopg.connect(url, autocommit=True)
        # Where the server really keeps its data (as root, tests/pgserver.py runs it from a
        # folder of its own under /tmp, not from the one it was given).
        row = self._conn.execute("SHOW data_directory").fetchone()
        self._data = Path(row[0]) if row else data
        self._conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def close(self) -> None:
        self._conn.close()

    def server_cpu(self) -> float:
        postmaster = int((self._data / "postmaster.pid").read_text().split()[0])
        total = _cpu(postmaster, children=True)
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and _parent(int(entry.name)) == postmaster:
                total += _cpu(int(entry.name))
        return total

    def reset_statements(self) -> None:
        self._conn.execute("SELECT pg_stat_statements_reset()")

    def statements(self) -> list[Statement]:
        rows = self._conn.execute(
            "SELECT query, calls, total_exec_time FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() "
            "AND query NOT ILIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC"
        ).fetchall()
        return [Statement(" ".join(q.split())[:160], int(c), float(t)) for q, c, t in rows]

    def leases(self) -> dict[str, int]:
        rows = self._conn.execute(
            "SELECT owner, count(*) FROM leases WHERE expires > now() GROUP BY owner"
        ).fetchall()
        return {str(owner): int(count) for owner, count in rows}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql).fetchall()


@contextlib.contextmanager
def open_backend(kind: str, folder: Path) -> Iterator[Backend]:
    """The state of one run, with its server if it needs one; stopped and removed after."""
    if kind == "sqlite":
        yield SqliteBackend()
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from pgserver import postgres_server  # type: ignore[import-not-found]

    with postgres_server(folder / "pg", DURABLE) as url:
        backend = PostgresBackend(url, folder / "pg" / "data")
        try:
            yield backend
        finally:
            backend.close()


def per_poll(statements: list[Statement], polls: int, top: int = 8) -> dict[str, Any]:
    """What the database did per poll in the window: statements, and their server time."""
    calls = sum(s.calls for s in statements)
    ms = sum(s.total_ms for s in statements)
    return {
        "statements": calls,
        "exec_ms": round(ms, 1),
        "statements_per_poll": round(calls / polls, 2) if polls else None,
        "exec_ms_per_poll": round(ms / polls, 3) if polls else None,
        "top": [
            {"query": s.query, "calls": s.calls, "ms": round(s.total_ms, 1)}
            for s in statements[:top]
        ],
    }


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _parent(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def _cpu(pid: int, *, children: bool = False) -> float:
    """utime + stime (and, with `children`, cutime + cstime: the exited, reaped children)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK
