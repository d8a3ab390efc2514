"""Building one record from another: the boundary records (poll settings, feed facts, message
settings) are projections of a board's config, field by field.

Spelling each projection out as `Record(a=board.a, b=board.b, ...)` repeats the same lines in
every module that needs one; `projected` takes every field the source has under the same name
and only the differences are written.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def projected(record: type[R], source: object, **overrides: Any) -> R:
    """`record(...)` with each field taken from `source`'s attribute of that name, unless given
    in `overrides`; fields `source` lacks keep their defaults."""
    values = {
        f.name: getattr(source, f.name)
        for f in fields(record)
        if f.name not in overrides and hasattr(source, f.name)
    }
    return record(**values, **overrides)
