"""`relay state copy`: every row of one state into another (SQLite to PostgreSQL and back), so
that an operator moves to a shared server — or away from it — without re-announcing anything.

Knows no storage library: each state exports its tables from one consistent snapshot and
imports them in one transaction (`RowSource`, `RowTarget`, implemented by both adapters),
table by table in `relay.adapters.tables.TABLES`' order, rows in neutral form. Delivery seqs
are copied as they are, so the queue keeps its order, and so are message ids and statuses:
sent stays sent, failed stays failed, pending is still to send. A target that already holds
boards or posts is refused (naming it) unless `replace`, which empties it in the same
transaction first; a copy that fails leaves the target as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from relay.adapters.tables import TABLES, Table
from relay.core.errors import StateError

Row = tuple[object, ...]
Reader = Callable[[Table], Iterator[Row]]
Writer = Callable[[Table, Iterable[Row]], int]


class RowSource(Protocol):
    @property
    def location(self) -> str: ...

    def export_rows(self) -> AbstractContextManager[Reader]:
        """One read-only snapshot: the reader gives a table's rows in its order."""
        ...


class RowTarget(Protocol):
    @property
    def location(self) -> str: ...

    def import_rows(self, *, replace: bool) -> AbstractContextManager[Writer]:
        """One transaction: the writer stores a table's rows and counts them. Refuses
        (StateError naming the state) a state that holds boards or posts, unless `replace`."""
        ...


def copy_state(source: RowSource, target: RowTarget, *, replace: bool = False) -> dict[str, int]:
    """Copy every table; returns rows copied per table name."""
    with source.export_rows() as read, target.import_rows(replace=replace) as write:
        return {table.name: write(table, read(table)) for table in TABLES}


def refuse_unless_empty(location: str, boards: int, posts: int, *, replace: bool) -> None:
    """The targets' common rule: an operator's state is never overwritten by accident."""
    if (boards or posts) and not replace:
        raise StateError(
            f"{location}: already holds a state ({boards} boards, {posts} posts): not copying "
            "over it (--replace empties it first)"
        )
