"""When a failing board may be polled again. Pure: the clock is passed in.

A failing board backs off exponentially from its interval (interval, 2x, 4x …, capped at 30
minutes) and never earlier than a `Retry-After` it was sent (capped at 6 hours: a misconfigured
header must not silence a board for days). One success returns it to its interval. The
scheduler keeps firing at the board's interval; a fire before `next_allowed` is skipped, so
a board's backoff never delays another board.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

BACKOFF_CAP = 1800.0  # seconds
RETRY_AFTER_CAP = 6 * 3600.0


def failure_delay(interval: float, failures: int, retry_after: float | None = None) -> float:
    """Seconds to wait after the `failures`-th consecutive failure (1-based)."""
    exponential: float = min(BACKOFF_CAP, interval * 2.0 ** max(0, failures - 1))
    exponential = max(exponential, min(interval, BACKOFF_CAP))
    if retry_after is not None:
        return max(exponential, min(float(retry_after), RETRY_AFTER_CAP))
    return exponential


@dataclass
class BoardBackoff:
    interval: float
    failures: int = 0
    next_allowed: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self.next_allowed is None or now >= self.next_allowed

    def failed(self, now: datetime, retry_after: float | None = None) -> float:
        """Record a failure; return the delay chosen, in seconds."""
        self.failures += 1
        delay = failure_delay(self.interval, self.failures, retry_after)
        # The scheduler fires on the interval grid: allow a fire slightly early (jitter).
        self.next_allowed = now + timedelta(seconds=delay - 0.15 * self.interval)
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.next_allowed = None
