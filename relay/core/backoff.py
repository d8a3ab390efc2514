"""How long to wait before trying again. Pure: the clock and the randomness are passed in.

One policy serves boards and deliveries alike: `BackoffPolicy` is exponential from a base,
capped, with optional jitter drawn from a `random.Random` the caller owns.

- A failing board backs off from its interval (interval, 2x, 4x …, capped at 30 minutes) and
  never earlier than a `Retry-After` it was sent (capped at 6 hours: a misconfigured header
  must not silence a board for days). One success returns it to its interval. The scheduler
  keeps firing at the board's interval; a fire before `next_allowed` is skipped, so a board's
  backoff never delays another board. Its clock is *monotonic* seconds (the event loop's
  time): a wall-clock step (NTP, a resumed VM) neither freezes nor storms the polls.
- A failed delivery waits 5 s, 10 s, 20 s … capped at 30 minutes, ±10 %, unless Telegram
  named a wait (`retry_after`), which is believed within [1 s, 24 h].
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

BACKOFF_CAP = 1800.0  # seconds: no backoff of ours is longer (a server's Retry-After may be)
BOARD_RETRY_AFTER_CAP = 6 * 3600.0  # a board's HTTP Retry-After is believed up to this
FLOOD_WAIT_CAP = 24 * 3600.0  # a Telegram retry_after is believed up to this (43,837 s was seen)
MIN_WAIT = 1.0  # a retry_after of 0 or below means "soon", never "at once" (no busy loop)
_MAX_EXPONENT = 1000  # 2.0 ** 1024 overflows; years of retries reach such attempt counts


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """`base · 2^attempt` seconds, at most `cap`, spread by ±`jitter` (a fraction: 0.1 = 10 %).

    `attempt` counts from 0 (the wait after the first failure is `base`). Jitter spreads
    retries that failed together (one Telegram outage fails every chat at once) so they do
    not come back together.
    """

    base: float
    cap: float = BACKOFF_CAP
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.base) and self.base >= 0):
            raise ValueError(f"backoff base must be finite and >= 0, not {self.base!r}")
        if not (math.isfinite(self.cap) and self.cap >= 0):
            raise ValueError(f"backoff cap must be finite and >= 0, not {self.cap!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"backoff jitter must be in [0, 1), not {self.jitter!r}")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failure number `attempt` (0-based). A policy with jitter needs
        `rng`: forgetting it raises instead of silently retrying in lockstep."""
        exponent = min(max(0, attempt), _MAX_EXPONENT)
        delay = min(self.cap, self.base * 2.0**exponent)
        if not self.jitter:
            return delay
        if rng is None:
            raise ValueError("this backoff policy has jitter: pass the random.Random to draw from")
        return delay * rng.uniform(1 - self.jitter, 1 + self.jitter)


DELIVERY_BACKOFF = BackoffPolicy(base=5.0, cap=BACKOFF_CAP, jitter=0.1)


def board_backoff_policy(interval: float) -> BackoffPolicy:
    """A board backs off from its own interval; the scheduler adds its jitter to each fire."""
    return BackoffPolicy(base=interval, cap=BACKOFF_CAP)


def clamp_retry_after(value: object, cap: float) -> float | None:
    """A server's wait as seconds within [MIN_WAIT, cap]; None when there is no readable one.

    Answers come from outside: 0 and negatives become MIN_WAIT (else a retry loop spins),
    non-finite ones (`inf`, `nan`) and absurd ones (`1e308`) become `cap`, numeric strings
    are read; a bool, a non-numeric string or any other type is no wait at all.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond any float: as absurd as inf
        return cap
    if not math.isfinite(seconds):
        return cap
    return min(cap, max(MIN_WAIT, seconds))


def failure_delay(interval: float, failures: int, retry_after: float | None = None) -> float:
    """Seconds to wait after a board's `failures`-th consecutive failure (1-based)."""
    delay = board_backoff_policy(interval).delay(failures - 1)
    wait = clamp_retry_after(retry_after, BOARD_RETRY_AFTER_CAP)
    return delay if wait is None else max(delay, wait)


@dataclass
class BoardBackoff:
    """One board's failures and the monotonic time (seconds) before which fires are skipped."""

    interval: float
    failures: int = 0
    next_allowed: float | None = None  # monotonic seconds (the event loop's time)

    def due(self, now: float) -> bool:
        """May the board be polled at monotonic time `now`?"""
        return self.next_allowed is None or now >= self.next_allowed

    def failed(self, now: float, retry_after: float | None = None) -> float:
        """Record a failure at monotonic time `now`; return the delay chosen, in seconds."""
        self.failures += 1
        delay = failure_delay(self.interval, self.failures, retry_after)
        # The scheduler fires on the interval grid: allow a fire slightly early (jitter).
        self.next_allowed = now + delay - 0.15 * self.interval
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.next_allowed = None
