"""One backoff policy for boards and deliveries, a server's wait read defensively, and board
backoff on monotonic time: a wall-clock step (NTP, a resumed VM) neither freezes nor storms
the polls."""

from __future__ import annotations

import asyncio
import math
import random
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_config

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.backoff import (
    BACKOFF_CAP,
    DELIVERY_BACKOFF,
    FLOOD_WAIT_CAP,
    BackoffPolicy,
    BoardBackoff,
    board_backoff_policy,
    clamp_retry_after,
    failure_delay,
)
from relay.core.clock import Clock
from relay.pipeline.deliver import DryRunSender
from relay.service.daemon import Service
from relay.service.parts import Parts

# --- the policy -----------------------------------------------------------------------------


def test_delivery_backoff_doubles_from_5_s_to_30_min_with_10_percent_jitter() -> None:
    rng = random.Random(1)
    for attempt, plain in enumerate([5, 10, 20, 40, 80, 160, 320, 640, 1280, 1800, 1800]):
        waits = [DELIVERY_BACKOFF.delay(attempt, rng) for _ in range(200)]
        assert plain * 0.9 <= min(waits) and max(waits) <= plain * 1.1
        assert max(waits) - min(waits) > plain * 0.1  # jittered, not in lockstep


def test_the_same_seed_gives_the_same_waits() -> None:
    first = [DELIVERY_BACKOFF.delay(n, random.Random(42)) for n in range(6)]
    again = [DELIVERY_BACKOFF.delay(n, random.Random(42)) for n in range(6)]
    assert first == again


def test_jitter_without_a_random_source_is_refused_not_silently_dropped() -> None:
    with pytest.raises(ValueError, match="random.Random"):
        DELIVERY_BACKOFF.delay(0)
    assert BackoffPolicy(base=5).delay(2) == 20  # no jitter: no rng needed


def test_years_of_attempts_stay_at_the_cap_without_overflow() -> None:
    rng = random.Random(0)
    for attempt in (1023, 1024, 5000, 10**9):
        assert DELIVERY_BACKOFF.delay(attempt, rng) <= BACKOFF_CAP * 1.1
    assert board_backoff_policy(60).delay(10**6) == BACKOFF_CAP
    assert BackoffPolicy(base=5).delay(-3) == 5  # attempt 0 and below: the base


@pytest.mark.parametrize(
    ("base", "cap", "jitter"),
    [(math.nan, 10, 0), (-1, 10, 0), (1, math.inf, 0), (1, 10, 1.0), (1, 10, -0.1)],
)
def test_an_impossible_policy_is_refused(base: float, cap: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        BackoffPolicy(base=base, cap=cap, jitter=jitter)


# --- a server's wait, read defensively ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, 30.0),
        (2.5, 2.5),
        ("30", 30.0),
        (" 7 ", 7.0),
        (0, 1.0),  # "at once" would spin: a second at least
        (-5, 1.0),
        (-math.inf, FLOOD_WAIT_CAP),
        (1e308, FLOOD_WAIT_CAP),
        (10**400, FLOOD_WAIT_CAP),  # beyond any float
        (math.inf, FLOOD_WAIT_CAP),
        (math.nan, FLOOD_WAIT_CAP),
        ("nan", FLOOD_WAIT_CAP),
        (None, None),
        ("soon", None),
        (True, None),
        ([1], None),
        ({"s": 1}, None),
    ],
)
def test_retry_after_is_clamped_to_a_second_and_a_day(
    value: object, expected: float | None
) -> None:
    assert clamp_retry_after(value, FLOOD_WAIT_CAP) == expected


# --- boards ---------------------------------------------------------------------------------


def test_failure_delay_grows_caps_and_honours_retry_after() -> None:
    assert [failure_delay(60, n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert failure_delay(60, 30) == BACKOFF_CAP
    assert failure_delay(60, 1, retry_after=900) == 900
    assert failure_delay(60, 1, retry_after=10**9) == 6 * 3600
    assert failure_delay(60, 1, retry_after=math.nan) == 6 * 3600
    assert failure_delay(60, 2, retry_after=0) == 120


def test_board_backoff_skips_fires_until_due_and_resets_on_success() -> None:
    start = 1000.0  # monotonic seconds
    backoff = BoardBackoff(interval=60)
    assert backoff.due(start)
    backoff.failed(start)
    backoff.failed(start + 60)  # second failure: wait two intervals
    fires = [start + 60 * k for k in range(2, 4)]
    assert [backoff.due(t) for t in fires] == [False, True]
    backoff.failed(fires[-1])  # third failure: four intervals
    later = [fires[-1] + 60 * k for k in range(1, 5)]
    assert [backoff.due(t) for t in later] == [False, False, False, True]
    backoff.failed(fires[-1], retry_after=3600)
    assert not backoff.due(fires[-1] + 50 * 60)
    assert backoff.due(fires[-1] + 60 * 60)
    backoff.succeeded()
    assert backoff.due(fires[-1]) and backoff.failures == 0


class SteppedClock:
    """A wall clock that NTP steps: real time plus an offset the test sets."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def step(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_wall_clock_step_neither_freezes_nor_hastens_a_failing_boards_polls(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/board"
    config = make_config(tmp_path, [{"id": "down", "url": url, "engine": "rhymix", "interval": 1}])
    clock = SteppedClock()
    store = SqliteState(config.state)
    try:
        async with Fetcher(user_agent="test", host_delay=0, timeout=2) as fetcher:
            parts = Parts(
                config=config,
                state=store,
                fetcher=fetcher,
                sender=DryRunSender(),
                clock=Clock(wall=clock),
                rng=random.Random(1),
                dry_run=True,
            )
            service = Service(parts)
            service.prepare()  # the scheduler is not started: we fire by hand
            backoff = service.backoffs["down"]
            await service.poll_job("down")
            assert backoff.failures == 1  # next try after one interval
            clock.step(-3600)  # the wall clock goes back an hour
            await asyncio.sleep(0.9)
            await service.poll_job("down")
            assert backoff.failures == 2  # polled once its interval passed, step or not
            clock.step(+7200)  # and forward two hours
            await service.poll_job("down")
            assert backoff.failures == 2  # still backing off: no storm
    finally:
        store.close()
