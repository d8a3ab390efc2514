"""One SQLite connection, its lock and its transactions: what the state's tables share.

stdlib sqlite3 in WAL mode with `synchronous=FULL`: a poll is durable at COMMIT, before
anything is sent. One connection per process, used from worker threads and guarded by a lock.
Every sqlite3 error is classified here, once: what the file or the disk did (full, I/O error,
locked, read-only, corrupt) becomes a `StateError` — for a poll, a board failure like a fetch
failure — while a misuse of SQL (a constraint broken, a wrong parameter) is a bug in relay and
goes up as it is.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from relay.adapters.rows import record_from_row
from relay.adapters.sqlite.migrations import MIGRATIONS
from relay.core.errors import StateError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")

# Ids per `IN (...)` list: SQLite allows 32,766 parameters per statement, and a first poll
# may list a 100,000-row page.
CHUNK = 500
_BUGS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)


class Database:
    """The state file, opened and migrated. `busy_timeout`: seconds a write waits for a lock
    held by another connection (`relay retry` run beside the service) before it fails."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=busy_timeout
            )
        except (sqlite3.Error, OSError) as e:
            raise StateError(f"{path}: cannot use the state file: {e}") from e
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")  # durable at COMMIT, before any send
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException as e:
            self._conn.close()
            if isinstance(e, sqlite3.Error):
                raise StateError(f"{path}: cannot use the state file: {e}") from e
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StateError(
                f"{self.path}: schema version {version} is newer than this relay knows "
                f"({len(MIGRATIONS)}): upgrade board-relay"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception (SQLite has already rolled
        back after some errors, such as a full disk)."""
        with self._lock, self._classified("cannot write"):
            db = self._conn
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the first error is the news
                        db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the file as of the first one (WAL),
        whatever another connection commits meanwhile."""
        with self._lock, self._classified("cannot read"):
            db = self._conn
            db.execute("BEGIN")
            try:
                yield db
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")

    def write(self, sql: str, args: Sequence[object] = ()) -> int:
        """One statement in its own transaction; returns the number of rows it changed."""
        with self.transaction() as db:
            return db.execute(sql, args).rowcount

    def query(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock, self._classified("cannot read"):
            return self._conn.execute(sql, args).fetchall()

    def query_ids(self, sql: str, args: Sequence[object], ids: Sequence[str]) -> list[sqlite3.Row]:
        """`sql` with `{ids}` standing for an `IN` list, run over `ids` in chunks."""
        with self._lock, self._classified("cannot read"):
            return select_ids(self._conn, sql, args, ids)

    @contextlib.contextmanager
    def _classified(self, what: str) -> Iterator[None]:
        try:
            yield
        except _BUGS:
            raise
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: {what} the state file: {e}") from e


def select_ids(
    db: sqlite3.Connection, sql: str, args: Sequence[object], ids: Sequence[str]
) -> list[sqlite3.Row]:
    """`sql` with `{ids}` standing for an `IN` list, over `ids` in chunks (on `db` as is)."""
    rows: list[sqlite3.Row] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        query = sql.format(ids=",".join("?" * len(chunk)))
        rows += db.execute(query, [*args, *chunk]).fetchall()
    return rows


def iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def from_row(
    record: type[R],
    row: sqlite3.Row,
    *,
    times: Collection[str] = (),
    flags: Collection[str] = (),
    columns: Mapping[str, str] | None = None,
) -> R:
    """A record from a row: each field from the column of its name (or `columns[field]`);
    `times` are ISO texts read back as datetimes, `flags` 0/1 read as bools. Fields without a
    column in the row keep their defaults."""
    convert: dict[str, Callable[[Any], object]] = {name: parse_time for name in times}
    convert.update({name: bool for name in flags})
    return record_from_row(record, row, columns=columns, convert=convert)
