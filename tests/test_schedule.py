"""relay.service.schedule: polls keep coming whatever the wall clock does.

APScheduler runs its triggers on the wall clock; these tests step the wall clock of this
process (time-machine moves `datetime.now` and `time.time`, not the monotonic clock — as an
NTP step or a resumed VM does) and watch the jobs fire.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine
from conftest import make_config

from relay.core.clock import Clock
from relay.core.config import Board
from relay.service.schedule import MIN_GAP, PollSpacing, Schedule


def boards(tmp_path: Path, count: int, interval: str) -> tuple[Board, ...]:
    config = make_config(
        tmp_path,
        [
            {"id": f"b{i}", "url": f"http://127.0.0.1:9/b{i}", "interval": interval}
            for i in range(count)
        ],
    )
    return config.boards


class Fires:
    """Records each fire per board, on the monotonic clock; admits like the service does."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.spacing = PollSpacing(time.monotonic)

    async def job(self, board_id: str) -> None:
        """A coroutine function, as APScheduler needs to run it on the event loop."""
        self.times.setdefault(board_id, []).append(time.monotonic())

    def since(self, moment: float) -> int:
        return sum(1 for stamps in self.times.values() for t in stamps if t >= moment)


async def wait_for_fires(fires: Fires, moment: float, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while fires.since(moment) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def test_a_wall_clock_step_back_does_not_stop_the_polls(tmp_path: Path) -> None:
    (board,) = boards(tmp_path, 1, "1s")
    fires = Fires()
    schedule = Schedule(fires.job, clock=Clock(), rng=random.Random(1))
    schedule.start((board,))
    guard = asyncio.create_task(schedule.follow_clock_steps())
    try:
        await wait_for_fires(fires, 0.0, 2, 5)
        assert fires.since(0.0) >= 2
        with time_machine.travel(datetime.now(UTC) - timedelta(hours=1), tick=True):
            stepped = time.monotonic()
            await wait_for_fires(fires, stepped, 3, 6)
            assert fires.since(stepped) >= 3  # about one a second, not one an hour later
    finally:
        guard.cancel()
        schedule.shutdown()


async def test_a_wall_clock_step_forward_causes_no_storm(tmp_path: Path) -> None:
    many = boards(tmp_path, 40, "2s")
    fires = Fires()
    admitted: dict[str, list[float]] = {}

    async def job(board_id: str) -> None:
        board = next(b for b in many if b.id == board_id)
        if fires.spacing.admit(board):
            admitted.setdefault(board_id, []).append(time.monotonic())

    schedule = Schedule(job, clock=Clock(), rng=random.Random(2))
    schedule.start(many)
    guard = asyncio.create_task(schedule.follow_clock_steps())
    try:
        await asyncio.sleep(2.5)
        with time_machine.travel(datetime.now(UTC) + timedelta(hours=1), tick=True):
            await asyncio.sleep(4.5)
    finally:
        guard.cancel()
        schedule.shutdown()
    for board_id, stamps in admitted.items():
        gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        assert all(gap >= MIN_GAP * 2.0 - 0.05 for gap in gaps), (board_id, gaps)
    # Every board kept being polled after the step (about every 2 s over 4.5 s).
    assert all(len(stamps) >= 3 for stamps in admitted.values()), admitted


def test_poll_spacing_refuses_a_poll_sooner_than_min_gap(tmp_path: Path) -> None:
    (board,) = boards(tmp_path, 1, "10s")
    now = [100.0]
    spacing = PollSpacing(lambda: now[0])
    assert spacing.admit(board)
    now[0] += MIN_GAP * 10 - 0.1
    assert not spacing.admit(board)
    now[0] += 0.2
    assert spacing.admit(board)
    spacing.forget(board.id)
    assert spacing.admit(board)  # a changed board starts afresh


async def test_shift_moves_every_job_by_the_step(tmp_path: Path) -> None:
    two = boards(tmp_path, 2, "1m")
    schedule = Schedule(Fires().job, clock=Clock(), rng=random.Random(3))
    schedule.start(two)
    schedule.pause()
    try:
        before = {j.id: j.next_run_time for j in schedule.scheduler.get_jobs()}
        assert schedule.shift(-3600) == 2
        after = {j.id: j.next_run_time for j in schedule.scheduler.get_jobs()}
        assert {k: before[k] - after[k] for k in before} == {k: timedelta(hours=1) for k in before}
    finally:
        schedule.shutdown()
