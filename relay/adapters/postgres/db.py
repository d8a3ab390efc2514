"""The connection pool, its transactions and error classification: what the tables share.

psycopg 3 with a `psycopg_pool.ConnectionPool`. Connections are in autocommit mode: a single
query is its own statement, and `transaction()` is an explicit BEGIN ... COMMIT (ROLLBACK on
any exception). Every session runs in UTC (timestamptz values come back aware UTC, as the
State Protocol promises) with a `statement_timeout` and a `lock_timeout`.

Every psycopg error is classified here, once: what the server or the network did (refused,
authentication failed, server gone, timed out, locked, serialization failure, disk full,
permission denied) becomes a `StateError` naming the state's location — for a poll, a board
failure like a fetch failure — while a misuse of SQL (a syntax error, a constraint broken, a
wrong parameter) is a bug in relay and goes up as it is. No message carries the password:
the URL shown is the one without it, and libpq's messages never print it.

The settings (`PoolSettings`) and why they are what they are:

- pool of 2 to 4 connections: `relay run` makes its state calls from 2 worker threads, and
  the command line and the lease and claim tasks of several instances (issue 13) add at
  most a call or two at a time; more connections would only cost the server memory.
- `connect_timeout` 5 s per connection attempt and 10 s for a call to get a connection from
  the pool: a dead or unreachable server fails a poll (board failure "state") in seconds
  rather than hanging a worker thread, of which there are only two.
- TCP keepalives and `tcp_user_timeout` (30 s): a server that vanishes mid-query (a network
  partition) fails the call instead of blocking its thread until the kernel gives up.
- `statement_timeout` 60 s: no statement of relay takes more than a fraction of a second (a
  100,000-row first page is one pipelined batch); one that runs a minute is stuck.
- `lock_timeout` 30 s: as SQLite's busy timeout, a write blocked that long by another
  session (a long `relay state copy --replace`, an operator's open transaction) fails.
- `idle_in_transaction_session_timeout` 10 s: relay's transactions run their statements back to
  back, so one idle that long belongs to a process that was paused (SIGSTOP, a VM frozen) or
  starved: the server ends that session, and the row locks it held (a board's lease row, a
  chat's pace row) no longer keep the other instances from taking the board or the chat over.
- a connection is checked as it leaves the pool (`_check_idle`): after a server restart the
  broken connections are replaced instead of failing one call each. The check costs no round
  trip: an idle connection the server dropped has something to read (the server's last
  message, or the end of the stream), and only then is it tried with an empty query. (Trying
  every connection so, as psycopg_pool's `check_connection` does, was one more round trip
  per state call: a fifth of an unchanged poll's.) A connection silently cut off (a network
  partition) passes, and its call fails on the keepalives and `tcp_user_timeout` instead.

Query parameters in the URL (`?connect_timeout=2&sslmode=require`) win over these defaults.
"""

from __future__ import annotations

import contextlib
import select
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors
from psycopg.abc import Buffer
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg.types.string import StrBinaryDumper, StrDumperUnknown
from psycopg_pool import ConnectionPool, PoolTimeout

from relay.adapters.postgres.migrations import migrate
from relay.core.errors import ConfigError, StateError
from relay.core.state_url import PostgresUrl

Row = DictRow
Connection = psycopg.Connection[DictRow]


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """How the state talks to the server (see the module docstring for the reasons). Seconds."""

    min_size: int = 2
    max_size: int = 4
    connect_timeout: int = 5  # libpq counts whole seconds (and takes at least 2)
    wait_timeout: float = 10.0  # a call waiting for a connection from the pool
    statement_timeout: float = 60.0
    lock_timeout: float = 30.0
    idle_in_transaction_timeout: float = 10.0
    tcp_timeout: int = 30  # keepalive probes and unacknowledged data on the socket


class Database:
    """The server, reached and migrated: a pool of connections for the state's tables.
    `password` (from the environment or a file) wins over the one in the URL."""

    def __init__(
        self, url: PostgresUrl, password: str | None, settings: PoolSettings | None = None
    ) -> None:
        self.location = url.url
        self.settings = settings or PoolSettings()
        self._conninfo = url.url
        secret = url.password if password is None else password
        self._kwargs = _connection_kwargs(url.url, secret, self.settings)
        # One direct connection first: its error (refused, authentication failed) is the
        # news, where a pool would only say that it got no connection in time.
        with self._classified("cannot open"), self.connect() as conn:
            migrate(conn, self.location)
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            self._conninfo,
            connection_class=Connection,
            kwargs=self._kwargs,
            min_size=self.settings.min_size,
            max_size=self.settings.max_size,
            timeout=self.settings.wait_timeout,
            configure=self._configure,
            check=_check_idle,
            name="relay-state",
            open=False,
        )
        self._pool.open(wait=False)

    def connect(self) -> Connection:
        """A connection of its own, outside the pool (migrations, copies, probes)."""
        conn = Connection.connect(self._conninfo, **self._kwargs)
        try:
            self._configure(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        self._pool.close(timeout=5)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """BEGIN ... COMMIT on a pooled connection, or ROLLBACK on any exception."""
        with self._classified("cannot write"), self._pool.connection() as conn:
            with conn.transaction():
                yield conn

    def write(self, sql: str, args: Sequence[object] = ()) -> int:
        """One statement in its own transaction; returns the number of rows it changed."""
        with self._classified("cannot write"), self._pool.connection() as conn:
            return conn.execute(sql, args).rowcount

    def write_returning(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """One statement in its own transaction (an UPDATE ... RETURNING); its rows."""
        return self._rows("cannot write", sql, args)

    def query(self, sql: str, args: Sequence[object] | dict[str, object] = ()) -> list[Row]:
        return self._rows("cannot read", sql, args)

    def _rows(self, what: str, sql: str, args: Sequence[object] | dict[str, object]) -> list[Row]:
        with self._classified(what), self._pool.connection() as conn:
            return conn.execute(sql, args).fetchall()

    @contextlib.contextmanager
    def classified(self, what: str) -> Iterator[None]:
        """psycopg errors inside become StateErrors naming the location (for modules that
        drive a connection of their own, such as the copy)."""
        with self._classified(what):
            yield

    def _configure(self, conn: Connection) -> None:
        s = self.settings
        conn.adapters.register_dumper(str, _TextDumper)
        conn.adapters.register_dumper(str, _BinaryTextDumper)
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(f"SET statement_timeout = {int(s.statement_timeout * 1000)}")
        conn.execute(f"SET lock_timeout = {int(s.lock_timeout * 1000)}")
        idle = int(s.idle_in_transaction_timeout * 1000)
        conn.execute(f"SET idle_in_transaction_session_timeout = {idle}")

    @contextlib.contextmanager
    def _classified(self, what: str) -> Iterator[None]:
        try:
            yield
        except PoolTimeout as e:
            raise StateError(
                f"{self.location}: {what} the state: {self._why_no_connection()}"
            ) from e
        except (psycopg.OperationalError, psycopg.InternalError, errors.InsufficientPrivilege) as e:
            raise StateError(f"{self.location}: {what} the state: {describe(e)}") from e

    def _why_no_connection(self) -> str:
        """The pool gave no connection in time: a direct attempt tells whether the server
        is unreachable (and why) or every pooled connection is busy."""
        try:
            self.connect().close()
        except psycopg.Error as e:
            return describe(e)
        return (
            f"no free connection within {self.settings.wait_timeout:g} s "
            f"(all {self.settings.max_size} of the pool are busy)"
        )


def _check_idle(conn: Connection) -> None:
    """Raise if a connection leaving the pool is no longer usable (see the module docstring)."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:  # an idle connection has nothing to say unless the server is done with it
        ConnectionPool.check_connection(conn)


class _TextDumper(StrDumperUnknown):
    """PostgreSQL's text cannot hold NUL (SQLite's can): a NUL that came from a page or a
    feed becomes U+FFFD, as an HTML parser makes it, rather than failing the poll's write."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd"))


class _BinaryTextDumper(StrBinaryDumper):
    """The same, for parameters sent in binary."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd"))


def describe(error: psycopg.Error) -> str:
    """What happened, in a few words, then the server's (or libpq's) first line."""
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return f"{_kind(error)}: {first}"


def _kind(error: psycopg.Error) -> str:
    if isinstance(error, errors.LockNotAvailable):
        return "locked by another session (lock_timeout)"
    if isinstance(error, errors.QueryCanceled):
        return "a statement timed out (statement_timeout)"
    if isinstance(error, errors.SerializationFailure | errors.DeadlockDetected):
        return "a concurrent transaction conflicted (serialization failure)"
    if isinstance(error, errors.DiskFull | errors.OutOfMemory | errors.InsufficientResources):
        return "the server is out of room"
    if isinstance(error, errors.InsufficientPrivilege):
        return "permission denied"
    if isinstance(error, errors.InvalidAuthorizationSpecification | errors.InvalidPassword):
        return "authentication failed"
    text = str(error).lower()
    if "authentication" in text or "password" in text:
        return "authentication failed"
    if "refused" in text:
        return "connection refused"
    if "timeout expired" in text or "timed out" in text:
        return "the server did not answer in time"
    if isinstance(error, errors.AdminShutdown | errors.CrashShutdown | errors.CannotConnectNow):
        return "the server went away"
    if "closed" in text or "terminat" in text or "lost" in text or "server" in text:
        return "the server went away"
    return "the server refused"


def _connection_kwargs(conninfo: str, password: str | None, s: PoolSettings) -> dict[str, Any]:
    """libpq parameters: ours, unless the URL sets them; the password, when one is given."""
    defaults: dict[str, Any] = {
        "connect_timeout": s.connect_timeout,
        "application_name": f"board-relay@{socket.gethostname()}"[:63],
        "keepalives": 1,
        "keepalives_idle": max(1, s.tcp_timeout // 3),
        "keepalives_interval": max(1, s.tcp_timeout // 6),
        "keepalives_count": 3,
        "tcp_user_timeout": s.tcp_timeout * 1000,
    }
    try:
        given = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as e:  # libpq refuses the URL itself: the config is wrong
        raise ConfigError(f"[relay] state: {conninfo}: {e}") from None
    kwargs = {k: v for k, v in defaults.items() if k not in given}
    if password is not None:
        kwargs["password"] = password
    return {**kwargs, "autocommit": True, "row_factory": dict_row}
