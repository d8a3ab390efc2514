"""Time, passed in: the wall clock for what people read, the monotonic clock for "when next".

Nothing in board-relay reads a clock of its own: the composition root builds one `Clock` and
hands it down, so tests control time, and so a wall-clock step (NTP, a resumed VM) can only
move the times people read, never a schedule or a backoff, which run on `monotonic`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


def utc_now() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Clock:
    """The two clocks of the relay. `wall` is aware UTC; `monotonic` is seconds, any origin."""

    wall: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic

    def steady(self) -> datetime:
        """The monotonic clock as an aware datetime (its origin is arbitrary): for ages and
        deadlines computed with datetime arithmetic that must not jump with the wall clock."""
        return datetime.fromtimestamp(self.monotonic(), UTC)
