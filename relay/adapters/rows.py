"""Records from database rows, for both states (SQLite and PostgreSQL): what is the same in
both once a query has run.

A row is anything with `keys()` and `row[column]` (sqlite3.Row, psycopg's dict rows). Each
record field takes the column of its name, or the one `columns` maps it to; `convert` turns
a column's stored form into the field's (SQLite's ISO texts into datetimes, its 0/1 into
bools; PostgreSQL's types need none). A field without a column in the row keeps its default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from relay.core.state import Known

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")
V = TypeVar("V")


class RowLike(Protocol):
    def keys(self) -> Iterable[str]: ...

    def __getitem__(self, key: str, /) -> Any: ...


def record_from_row(
    record: type[R],
    row: RowLike,
    *,
    columns: Mapping[str, str] | None = None,
    convert: Mapping[str, Callable[[Any], object]] | None = None,
) -> R:
    present = set(row.keys())
    rename = columns or {}
    change = convert or {}
    values: dict[str, object] = {}
    for field in fields(record):
        column = rename.get(field.name, field.name)
        if column not in present:
            continue
        value = row[column]
        if field.name in change:
            value = change[field.name](value)
        values[field.name] = value
    return record(**values)


def known_from_rows(rows: Iterable[RowLike], held: Iterable[RowLike]) -> dict[str, Known]:
    """`known()`'s answer from the posts' rows (id, title, notice, category, counts) and their held
    rows (post_id, route)."""
    routes: dict[str, set[str]] = {}
    for row in held:
        routes.setdefault(row["post_id"], set()).add(row["route"])
    return {
        r["id"]: Known(
            title=r["title"],
            notice=bool(r["notice"]),
            held=frozenset(routes.get(r["id"], ())),
            category=r["category"] or "",
            comments=r["comments"],
            views=r["views"],
            votes=r["votes"],
        )
        for r in rows
    }


def by_board(pairs: Iterable[tuple[str, V]]) -> dict[str, list[V]]:
    """(board id, value) pairs, in order, grouped by board."""
    found: dict[str, list[V]] = {}
    for board_id, value in pairs:
        found.setdefault(board_id, []).append(value)
    return found
