"""pydantic's validation errors as one line per problem, naming the table, board and key.

`boards[2] (id "clien"): interval "5x" is not a duration`: a user reading the line knows
which entry of which file to fix, without pydantic's location tuples or type tags.
"""

from __future__ import annotations

import reprlib
from typing import Any

from pydantic import ValidationError

_TABLES = ("relay", "telegram", "http")
_TYPE_NAMES = {"str", "int", "float", "bool", "list[str]"}
# An input is echoed in the message: a 1 MB string or a 400-deep list must not be.
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 3, 60, 60


def describe_errors(error: ValidationError, raw: dict[str, Any]) -> str:
    """One line per problem: `boards[2] (id "clien"): interval "5x" is not a duration`."""
    lines = []
    for item in error.errors():
        where, loc = _where(list(item["loc"]), raw)
        key = ".".join(str(p) for p in loc if _is_key(p))
        message = _message(item)
        prefix = ": ".join(p for p in (where, key) if p)
        if not prefix:
            lines.append(message)
        elif key and message.startswith('"'):
            lines.append(f"{prefix} {message}")  # interval "5x" is not a duration
        else:
            lines.append(f"{prefix}: {message}")
    return "; ".join(lines)


def _where(loc: list[Any], raw: dict[str, Any]) -> tuple[str, list[Any]]:
    """`boards[2] (id "clien")` or `[relay]`, and the rest of the location (the key)."""
    if len(loc) >= 2 and loc[0] == "boards" and isinstance(loc[1], int):
        index = loc[1]
        boards = raw.get("boards")
        board_id = None
        if isinstance(boards, list) and index < len(boards) and isinstance(boards[index], dict):
            board_id = boards[index].get("id")
        where = f"boards[{index}]" + (f' (id "{board_id}")' if isinstance(board_id, str) else "")
        return where, loc[2:]
    if loc and loc[0] in _TABLES:
        return f"[{loc[0]}]", loc[1:]
    return "", loc


def _is_key(part: object) -> bool:
    """A key or an index, not a union member's tag such as "list[str]" or "function-plain[...]"."""
    if isinstance(part, int):
        return True
    return isinstance(part, str) and part.isidentifier() and part not in _TYPE_NAMES


def _message(item: Any) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return "unknown key (check its spelling)"
    if kind == "missing":
        return "is required"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{_SHOWN.repr(item['input'])}: must be a table"
    if kind == "literal_error" or kind == "enum":
        return f"{_SHOWN.repr(item['input'])} is not one of {item['ctx'].get('expected', '')}"
    message = str(item["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind.endswith("_type") or kind.endswith("_parsing"):
        message = f"{_SHOWN.repr(item['input'])}: {message.lower()}"
    return message
