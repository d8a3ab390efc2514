"""What the shared state modules need of a database: `Driver` (one-shot statements and
transactions) and `Tx` (statements inside one transaction), with the value conversions of
the database's stored forms. SQL handed to either is in the portable form described in
`relay.adapters.sql`; each implementation translates it to its dialect.

Knows no database library: `relay.adapters.sqlite.driver` and
`relay.adapters.postgres.driver` implement these protocols.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from relay.adapters.rows import RowLike, record_from_row

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")
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
