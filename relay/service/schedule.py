"""When each board is polled: one APScheduler interval job per board, kept on the monotonic clock.

APScheduler 3 runs its triggers on the wall clock. Left alone, a wall-clock step backwards
(NTP, a resumed VM) would put every next run an hour into the future — no board polled, and
`/healthz` green — and a step forwards would make every job overdue at once. Two guards:
- the offset between the wall and the monotonic clock is checked before the scheduler looks
  for due jobs (a subclass hook, so a step is seen before any job is judged overdue) and every
  half second by `follow_clock_steps` (so a scheduler asleep for an hour is woken); when it
  jumps, every job's next run moves by the same step, and each board keeps its place;
- `PollSpacing` (checked by every poll job) refuses a poll less than `MIN_GAP` intervals after
  the previous one *by the monotonic clock*, so whatever fires early after a step is skipped
  instead of polling thousands of boards at once.

APScheduler 3's jitter is a delay (0..jitter) added to each fire: a trigger of 0.9 x interval
with 0.1 x interval of jitter gives gaps of 90-100 % of the interval, so a new post never
waits more than one interval to be seen.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING

from relay.core.clock import Clock
from relay.core.config import Board

log = logging.getLogger("relay.schedule")

CLOCK_CHECK_EVERY = 0.5  # seconds between two looks at the clocks
CLOCK_STEP = 2.0  # seconds: a change of the wall-minus-monotonic offset larger than this is a step
MIN_GAP = 0.85  # intervals: the shortest gap between two polls of a board (jitter gives 0.9+)
FIRST_POLL_SPREAD = 0.1  # seconds per board over which first polls are spread (at most 1 interval)

PollJob = Callable[[str], Coroutine[Any, Any, None]]


class PollSpacing:
    """The monotonic time of each board's last poll start: a poll sooner than MIN_GAP
    intervals after the last is refused (a fire pulled forward by a clock step)."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._started: dict[str, float] = {}

    def admit(self, board: Board) -> bool:
        now = self._monotonic()
        last = self._started.get(board.id)
        if last is not None and now - last < MIN_GAP * board.interval:
            return False
        self._started[board.id] = now
        return True

    def last_start(self, board_id: str) -> float:
        """The monotonic time of the board's last poll start here (-inf: none)."""
        return self._started.get(board_id, float("-inf"))

    def forget(self, board_id: str) -> None:
        """A changed or removed board starts afresh (a changed board is polled soon)."""
        self._started.pop(board_id, None)


class _SteadyScheduler(AsyncIOScheduler):  # type: ignore[misc]  # APScheduler has no types
    """APScheduler's asyncio scheduler with a hook run before each look for due jobs."""

    def __init__(self, before_processing: Callable[[], None], **options: Any) -> None:
        super().__init__(**options)
        self._before_processing = before_processing

    def _process_jobs(self) -> float | None:
        self._before_processing()
        wait: float | None = super()._process_jobs()
        return wait


class Schedule:
    """The scheduler and its jobs; `job(board_id)` is called for each fire."""

    def __init__(self, job: PollJob, *, clock: Clock, rng: random.Random) -> None:
        self._job = job
        self._wall = clock.wall
        self._monotonic = clock.monotonic
        self._rng = rng
        self.scheduler = _SteadyScheduler(self.check_clock, timezone=UTC)
        self._offset_seen = self._offset()

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self, boards: tuple[Board, ...]) -> None:
        """Start the scheduler with one job per board. First polls are spread over 0.1 s per
        board, at most an interval: a lone board starts at once, thousands evenly."""
        self.scheduler.start()
        spread = FIRST_POLL_SPREAD * len(boards)
        for board in boards:
            self.add(board, self._rng.uniform(0, min(board.interval, spread)))

    def take_over(self, boards: Sequence[tuple[Board, float]]) -> None:
        """Jobs for boards taken over from another instance, each given the seconds until
        its stored schedule's next poll (the last poll plus an interval; 0 or less: overdue).

        No board is polled before that time (two instances never poll it less than an
        interval apart), nor later than an interval from now (a dead instance's boards are
        polled again within the lease plus an interval). Within those bounds each first
        poll is spread as a start spreads them (FIRST_POLL_SPREAD a board taken): boards
        whose stored times bunch up — every board after an outage longer than an interval,
        or a host's boards polled one after another by `relay once` — would otherwise fire
        together and queue behind their hosts' request spacing, holding the poll slots."""
        spread = FIRST_POLL_SPREAD * len(boards)
        for board, wait in boards:
            earliest = min(board.interval, max(0.0, wait))
            latest = min(board.interval, earliest + spread)
            self.add(board, self._rng.uniform(earliest, latest))

    def add(self, board: Board, first_in: float) -> None:
        """Add or replace the board's job; its first fire comes `first_in` seconds from now."""
        start = self._wall() + timedelta(seconds=first_in)
        self.scheduler.add_job(
            self._job,
            "interval",
            args=[board.id],
            id=board.id,
            name=board.id,
            seconds=board.interval * 0.9,
            jitter=board.interval * 0.1,
            start_date=start,
            next_run_time=start,
            coalesce=True,
            max_instances=1,
            # No grace limit: a late fire runs (coalesced to one); PollSpacing refuses the
            # ones that come too soon. A limit would log a warning per board after a step.
            misfire_grace_time=None,
            replace_existing=True,
        )

    def remove(self, board_id: str) -> None:
        if self.scheduler.get_job(board_id) is not None:
            self.scheduler.remove_job(board_id)

    def pause(self) -> None:
        if self.scheduler.running:
            self.scheduler.pause()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def shift(self, seconds: float) -> int:
        """Move every job's next run by `seconds` (the size of a wall-clock step). Paused
        meanwhile, so that 10,000 changes cost one wake-up of the scheduler, not 10,000."""
        moved = 0
        step = timedelta(seconds=seconds)
        resume = self.scheduler.state == STATE_RUNNING
        if resume:
            self.scheduler.pause()
        for job in self.scheduler.get_jobs():
            if job.next_run_time is not None:
                job.modify(next_run_time=job.next_run_time + step)
                moved += 1
        if resume:
            self.scheduler.resume()
        return moved

    def _offset(self) -> float:
        return self._wall().timestamp() - self._monotonic()

    def check_clock(self) -> None:
        """Shift the jobs if the wall clock stepped since the last check."""
        now = self._offset()
        step = now - self._offset_seen
        self._offset_seen = now
        if abs(step) > CLOCK_STEP:
            moved = self.shift(step)
            log.warning(
                "the wall clock stepped %+.0fs: %d board schedules moved with it", step, moved
            )

    async def follow_clock_steps(self) -> None:
        """Runs for the service's life (under the supervisor): checks the clocks every half
        second, and fails loudly if the scheduler stopped running."""
        while True:
            await asyncio.sleep(CLOCK_CHECK_EVERY)
            if not self.scheduler.running:
                raise RuntimeError("the scheduler is not running")
            self.check_clock()
