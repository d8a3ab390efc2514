"""Durations as people write them in a config file: 90, "30s", "5m", "1h", "1h30m".

Every duration is finite and within bounds the caller states: a value that validates must not
crash later. `nan` passes every `<=` test, `inf` or `1e308` seconds overflow the scheduler's
`timedelta`, and "99999999999999d" is a finite float that no timer can hold.
"""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_SPOKEN = (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0))

WEEK = 7 * 86400.0
DAY = 86400.0


def parse_duration(
    value: object, *, minimum: float = 0.0, maximum: float = WEEK, zero: bool = False
) -> float:
    """Seconds from a number or a string like "30s", "5m", "1h30m". Raises ValueError.

    The result is finite, at most `maximum`, at least `minimum`, and above zero unless `zero`
    allows exactly 0 (0 then means "none", such as no pause between two requests).
    """
    seconds = _seconds(value)
    shown = _shown(value)
    if not math.isfinite(seconds):
        raise ValueError(f'"{shown}" is not a finite duration')
    if seconds == 0 and zero:
        return 0.0
    if seconds <= 0:
        raise ValueError(f'"{shown}" is not a positive duration')
    if seconds < minimum:
        raise ValueError(f'"{shown}" is below the minimum of {spoken(minimum)}')
    if seconds > maximum:
        raise ValueError(f'"{shown}" is over the maximum of {spoken(maximum)}')
    return seconds


def _shown(value: object) -> str:
    """The value as the error quotes it: a megabyte of digits is not repeated back."""
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _seconds(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text)
        if text and re.fullmatch(rf"(?:{_PART.pattern})+", text):
            return sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
        raise ValueError(f'"{_shown(value)}" is not a duration (use seconds, or "30s", "5m", "1h")')
    raise ValueError(f"{_shown(repr(value))} is not a duration")


def spoken(seconds: float) -> str:
    """A bound as a person writes it: 604800 -> "7d", 90 -> "1m30s", 0.5 -> "0.5s"."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    parts, rest = [], seconds
    for unit, size in _SPOKEN:
        count = int(rest // size)
        if count:
            parts.append(f"{count}{unit}")
            rest -= count * size
    return "".join(parts)
