"""The [boards.selectors] table: single keys that override a board's engine preset.

Pure. The table holds what the file says (one CSS selector or a list, per key); merging it
onto the engine's preset (`relay.core.engines`) gives the `Selectors` the parser applies.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

from relay.core.engines import PRESETS, SELECTOR_KEYS, Selectors

SelectorValue = str | list[str]


class SelectorsTable(BaseModel):
    """[boards.selectors] as written: every key optional, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    row: SelectorValue | None = None
    link: SelectorValue | None = None
    number: SelectorValue | None = None
    title: SelectorValue | None = None
    author: SelectorValue | None = None
    date: SelectorValue | None = None
    notice: SelectorValue | None = None
    comments: SelectorValue | None = None
    category: SelectorValue | None = None
    views: SelectorValue | None = None
    votes: SelectorValue | None = None
    body: SelectorValue | None = None
    strip: SelectorValue | None = None
    id_pattern: SelectorValue | None = None
    page_param: str | None = None

    @field_validator("id_pattern")
    @classmethod
    def _one_group(cls, value: SelectorValue | None) -> SelectorValue | None:
        for pattern in [value] if isinstance(value, str) else value or []:
            try:
                compiled = re.compile(pattern)
            except re.error as e:
                raise ValueError(f'"{pattern}" is not a regular expression: {e}') from None
            if compiled.groups != 1:
                raise ValueError(f'"{pattern}" must have exactly one group (the post id)')
        return value


def merge_preset(engine: str, table: SelectorsTable) -> Selectors:
    """`engine`'s preset with the table's keys replacing single keys. Raises ValueError
    for a selector the parser cannot use, or a custom engine without a row selector."""
    overrides = {
        key: value
        for key, value in table.model_dump().items()
        if value is not None and key in SELECTOR_KEYS
    }
    if engine == "custom" and not overrides.get("row"):
        raise ValueError('engine "custom" needs [boards.selectors] row')
    selectors = PRESETS[engine].merged(overrides)
    from relay.core.parse import check_selectors  # selectolax: loaded only to check a config

    check_selectors(selectors)
    return selectors
