"""What the shared state modules need of a database: `Driver` (one-shot statements and
transactions) and `Tx` (statements inside one transaction), with the value conversions of
the database's stored forms. SQL handed to either is in the portable form described in
`relay.adapters.sql`; each implementation translates it to its dialect.

Knows no database library: `relay.adapters.sqlite.driver` and
`relay.adapters.postgres.driver` implement these protocols.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from relay.adapters.rows import RowLike, record_from_row

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")
C = TypeVar("C")
C_co = TypeVar("C_co", covariant=True)
Params = Sequence[Any] | Mapping[str, Any]


class Values(Protocol):
    """A database's stored forms of times and flags."""

    def stored_time(self, when: datetime | None) -> object:
        """A time as a parameter (an aware datetime in, the column's form out)."""
        ...

    def read_time(self, value: Any) -> datetime | None:
        """A time column's value as an aware datetime."""
        ...

    def read_flag(self, value: Any) -> bool:
        """A flag column's (or a comparison's) value as a bool."""
        ...


class Tx(Values, Protocol):
    """Statements inside one transaction."""

    def execute(self, sql: str, params: Params = ()) -> int:
        """One statement; the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def query(self, sql: str, params: Params = ()) -> list[RowLike]: ...

    def query_ids(self, sql: str, params: Sequence[Any], ids: Sequence[str]) -> list[RowLike]:
        """`sql` with `IN ({ids})` standing for the list of `ids`."""
        ...


class Driver(Values, Protocol):
    """The database: statements in their own transactions, and transactions."""

    def transaction(self) -> AbstractContextManager[Tx]:
        """BEGIN ... COMMIT, or ROLLBACK on any exception."""
        ...

    def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement in its own transaction; the number of rows it changed."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[RowLike]: ...

    def query_ids(self, sql: str, params: Sequence[Any], ids: Sequence[str]) -> list[RowLike]: ...


class Connections(Protocol[C_co]):
    """A dialect package's database object (its `db.Database`), as a driver drives it."""

    def transaction(self) -> AbstractContextManager[C_co]: ...

    def write(self, sql: str, args: Sequence[Any] = ()) -> int: ...

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]: ...


class OverConnections(Generic[C]):
    """What both drivers do the same way: each statement translated to the dialect
    (`_dialect`) and run by the database object, each transaction's connection wrapped as a
    `Tx` (`_tx`). A subclass adds `query_ids` and the `Values` conversions."""

    def __init__(self, db: Connections[C]) -> None:
        self._db = db

    def _dialect(self, sql: str) -> str:
        raise NotImplementedError

    def _tx(self, conn: C) -> Tx:
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._db.transaction() as conn:
            yield self._tx(conn)

    def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._db.write(self._dialect(sql), params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[RowLike]:
        return list(self._db.query(self._dialect(sql), params))


def from_row(
    values: Values,
    record: type[R],
    row: RowLike,
    *,
    times: Collection[str] = (),
    flags: Collection[str] = (),
    columns: Mapping[str, str] | None = None,
) -> R:
    """A record from a row: each field from the column of its name (or `columns[field]`),
    `times` and `flags` read back through the database's conversions."""
    convert: dict[str, Any] = {name: values.read_time for name in times}
    convert.update({name: values.read_flag for name in flags})
    return record_from_row(record, row, columns=columns, convert=convert)
