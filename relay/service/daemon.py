"""`relay run`'s service object: polls on a schedule, a worker that sends, health, reload.

- One scheduled job per board (relay.service.schedule). A failing board backs off
  (relay.core.backoff) by skipping fires, so it never delays another board; the backoff and
  the spacing of polls run on the monotonic clock.
- Deliveries are sent by one worker as soon as a poll creates them (an Event wakes it).
- Health is kept in memory on the monotonic clock: `/healthz` queries nothing per hit, and a
  wall-clock step neither hides a stalled board nor makes every board look stale.
- A reload validates the whole new config before it applies anything; keys that only take
  effect at a restart are named in a warning.
- Stopping: pause the scheduler, let in-flight polls finish (bounded), cancel the rest — a
  poll records in one transaction or not at all, so a cancelled one loses nothing — then
  hand the board leases back.
- Leases (relay.service.leases): a board is polled only while this instance holds its
  lease, and each poll is fenced with it. A lease lost mid-poll (`LeaseLost`) is not a board
  failure: no count, no backoff, no alarm, a log line. A board newly taken from another
  instance keeps its schedule: its first poll comes one interval after the stored last
  poll, not at once. With a SQLite state (`Solo`) every board is held from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from relay.core.backoff import BoardBackoff
from relay.core.config import Board, load_config
from relay.core.coordination import LeaseLost
from relay.core.errors import ConfigError, StateError
from relay.core.models import PollOutcome
from relay.core.reload import restart_only_changes
from relay.core.report import describe_outcome
from relay.core.solo import Solo
from relay.core.status import BoardHealth, board_health
from relay.pipeline.deliver import Deliverer
from relay.pipeline.gate import PollGate
from relay.pipeline.poll import poll_board
from relay.service.alarms import Alarms
from relay.service.leases import LeaseKeeper
from relay.service.metrics import Metrics
from relay.service.parts import Parts
from relay.service.queue_watch import QueueWatch
from relay.service.schedule import PollSpacing, Schedule
from relay.service.supervisor import Supervisor

if TYPE_CHECKING:
    from relay.service.web import Health

log = logging.getLogger("relay.daemon")

STOP_GRACE = 6.0  # seconds in-flight polls get after SIGTERM (systemd waits TimeoutStopSec)
STATE_CHECK_EVERY = 2.0  # seconds between two checks that the state file is still ours
WORKER_IDLE = 5.0  # seconds the delivery worker sleeps when nothing is due (a poll wakes it)


@dataclass(frozen=True, slots=True)
class BoardLive:
    """What the service's memory says of one board (the status page's live facts)."""

    ok: bool  # as /healthz judges it, and the last poll succeeded
    problem: str  # why not ok: /healthz's reason, else the last failure's
    backing_off_until: datetime | None  # aware UTC (wall): no poll before this
    last_outcome: str  # the last poll's outcome in a line, "" before the first
    quiet_since: datetime | None = None  # aware UTC: quiet (no new post for too long) since


class Service:
    """Everything `relay run` holds while it runs, built from the composition root's parts."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.config = parts.config
        self.clock = parts.clock
        self.metrics = Metrics()
        self.deliverer = Deliverer(
            parts.config,
            parts.state,
            parts.sender,
            parts.clock.wall,
            dry_run=parts.dry_run,
            on_sent=self.metrics.delivery_sent,
            on_failed=self.metrics.delivery_failed,
            rng=parts.rng,
            monotonic=parts.clock.monotonic,
            claims=parts.claims,
        )
        self.alarms = Alarms(lambda: self.config, parts.state, parts.sender, now=parts.clock.wall)
        self.schedule = Schedule(self.poll_job, clock=parts.clock, rng=parts.rng)
        self.spacing = PollSpacing(parts.clock.monotonic)
        self.stopping = asyncio.Event()
        self.supervisor = Supervisor(
            monotonic=parts.clock.monotonic,
            stopping=self.stopping,
            on_restart=self.metrics.task_restarted,
        )
        self.backoffs: dict[str, BoardBackoff] = {}
        self.started = self.clock.steady()
        self.wake_deliverer = asyncio.Event()
        self._inflight: set[asyncio.Task[PollOutcome]] = set()
        # Bounds the polls in flight: with 10,000 boards firing, an unbounded fan-out queues
        # thousands of requests in httpx's pool, whose bookkeeping then eats the CPU. One
        # poll per host at a time (see `PollGate`).
        self._gate = PollGate(parts.config.concurrency)
        self._boards = {b.id: b for b in parts.config.boards}
        # Health facts, on the monotonic clock (Clock.steady): /healthz must not query the
        # state per hit, and must not be fooled by a wall-clock step.
        self._last_success: dict[str, datetime | None] = {}
        self._failing: dict[str, str] = {}
        self.queue = QueueWatch(parts.clock.monotonic)
        self._stuck: tuple[str, ...] = ()  # reasons: chats whose deliveries do not move
        self._outcomes: dict[str, str] = {}  # the last poll's outcome, for the status page
        self.leases = LeaseKeeper(
            parts.coordination or Solo(parts.clock.wall),
            parts.instance,
            parts.config.lease,
            monotonic=parts.clock.monotonic,
            boards=lambda: [b.id for b in self.config.boards],
            spare=self._spare,
            on_taken=self._taken,
        )
        self._polling: set[str] = set()  # boards whose poll is under way
        self._taken_at: dict[str, datetime] = {}  # steady: when this instance took the board

    # --- polling ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Per-board bookkeeping, without starting the scheduler (tests drive `poll_job`)."""
        for board in self.config.boards:
            self.backoffs[board.id] = BoardBackoff(board.interval)
        if not self.leases.shared:
            self.leases.take_inline()

    def start(self) -> None:
        self.prepare()
        self.schedule.start(self.config.boards)
        self.metrics.set_boards(len(self.config.boards))

    async def poll_job(self, board_id: str) -> None:
        """One fire of a board's job. Never raises: APScheduler would log a traceback per fire,
        and a poll that crashed is a board failure like any other (counted, backed off)."""
        if self.stopping.is_set():
            return
        board = self._boards.get(board_id)
        backoff = self.backoffs.get(board_id)
        if board is None or backoff is None or not backoff.due(self.clock.monotonic()):
            return
        if await self.leases.current_lease(board_id) is None:
            return  # another instance's board, or our leases could not be renewed in time
        # The start is recorded at the fire, as the trigger counts: recorded once the gate
        # let the poll in, a fire after a wait there would make the next one look too soon.
        if not self.spacing.admit(board):
            return
        async with self._gate.admit(board.url):
            lease = await self.leases.current_lease(board_id)  # again: the gate took a while
            if self.stopping.is_set() or lease is None:
                return
            task = asyncio.create_task(
                poll_board(
                    board,
                    self.parts.fetcher,
                    self.parts.state,
                    self.clock.wall,
                    self.parts.sources,
                    fence=lease,
                    stamp_always=self.leases.shared,
                    written=self.parts.feeds_written,
                )
            )
            self._inflight.add(task)
            self._polling.add(board_id)
            try:
                outcome = await task
            except LeaseLost as e:
                log.info("board=%s lease lost, poll not recorded: %s", board_id, e)
                self.leases.drop(lease)
                return
            except asyncio.CancelledError:
                if not self.stopping.is_set():
                    raise
                log.info("board=%s poll cut short by the stop (nothing half-recorded)", board_id)
                return
            except Exception as e:  # a bug in a poll must not stop the board for good
                log.exception("board=%s poll crashed", board_id)
                outcome = PollOutcome(board_id=board_id, ok=False, reason="crash", error=repr(e))
            finally:
                self._inflight.discard(task)
                self._polling.discard(board_id)
        try:
            await self._after_poll(board, backoff, outcome)
        except asyncio.CancelledError:
            if not self.stopping.is_set():
                raise  # a stop cancels the jobs under way: their bookkeeping does not matter
        except Exception:
            log.exception("board=%s bookkeeping after the poll failed", board_id)

    async def _after_poll(self, board: Board, backoff: BoardBackoff, outcome: PollOutcome) -> None:
        self.metrics.observe_poll(outcome, self.clock.wall())
        self._outcomes[board.id] = describe_outcome(outcome)
        if outcome.ok:
            backoff.succeeded()
            self._last_success[board.id] = self.clock.steady()
            self._failing.pop(board.id, None)
            if outcome.announced:
                self.wake_deliverer.set()
        else:
            self._failing[board.id] = outcome.reason
            delay = backoff.failed(self.clock.monotonic(), outcome.retry_after)
            log.info("board=%s backoff=%.0fs failures=%d", board.id, delay, backoff.failures)
        await self.alarms.after_poll(board, outcome, backoff.failures)
        if outcome.ok:
            self.metrics.set_quiet(board.id, self.alarms.quiet_since(board.id) is not None)

    # --- leases -------------------------------------------------------------------------

    def _spare(self) -> list[str]:
        """Held boards this instance can give away now, best first: not being polled, and
        the most recently polled first (their next poll is furthest away)."""
        held = [b for b in self.leases.held if b not in self._polling]
        return sorted(held, key=lambda b: -self.spacing.last_start(b))

    async def _taken(self, board_ids: list[str]) -> None:
        """Boards newly taken from another instance: read their poll state as it left it,
        and keep their schedule — the first poll one interval after the stored last poll."""
        await asyncio.to_thread(self.parts.state.refresh_boards, board_ids)
        now, steady = self.clock.wall(), self.clock.steady()
        taken: list[tuple[Board, float]] = []
        for board_id in board_ids:
            board = self._boards.get(board_id)
            if board is None:
                continue
            last = self.parts.state.board_state(board_id).last_poll
            wait = 0.0 if last is None else (last - now).total_seconds() + board.interval
            self.spacing.forget(board_id)  # the stored time rules now, not our memory
            self._taken_at[board_id] = steady
            taken.append((board, wait))
        self.schedule.take_over(taken)

    # --- delivery worker ----------------------------------------------------------------

    async def deliver_forever(self) -> None:
        """Send as soon as deliveries exist; re-check now and then for due retries. Runs under
        the supervisor: an error it cannot handle ends it, and the supervisor restarts it."""
        while not self.stopping.is_set():
            self.wake_deliverer.clear()
            pause = WORKER_IDLE
            report = await self.deliverer.drain()
            await self._watch_queue()
            counts = await asyncio.to_thread(self.parts.state.delivery_counts)
            self.metrics.set_pending({b: n for (b, s), n in counts.items() if s == "pending"})
            if report.next_due is not None:
                pause = min(pause, max(0.05, report.next_due))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self.wake_deliverer.wait()

    async def _watch_queue(self) -> None:
        """Note chats whose deliveries are stuck (health). A dry run keeps deliveries pending
        on purpose: nothing to watch then."""
        if self.parts.dry_run:
            return
        pending = await asyncio.to_thread(self.parts.state.pending_deliveries)
        now = self.clock.wall()
        sender = self.parts.sender
        self._stuck = self.queue.stuck(
            pending,
            limit=self.config.stuck_after,
            waiting=lambda chat: sender.pace_delay(chat) > 0,
            pace_needs=lambda queue: self.deliverer.estimate(queue, now),
        )

    async def watch_state(self) -> None:
        """Stop the service (exit 1) when the state file is deleted or replaced under it."""
        while True:
            await asyncio.sleep(STATE_CHECK_EVERY)
            try:
                await asyncio.to_thread(self.parts.check_state)
            except StateError as e:
                self.supervisor.give_up("state", str(e))
                return

    # --- health, reload, stop -----------------------------------------------------------

    def health(self) -> Health:
        from relay.service.web import Health

        now = self.clock.steady()
        running = self.schedule.running and not self.stopping.is_set()
        boards = [h for h in self._judge(now) if h.board_id in self.leases.held]
        reasons = [f"task {name} failed: {why}" for name, why in self.supervisor.failed.items()]
        if not running:
            reasons.insert(0, "scheduler not running")
        lease_problem = self.leases.problem()
        if lease_problem:
            reasons.append(lease_problem)
        reasons += self._stuck
        reasons += [f"{h.board_id}: {h.reason}" for h in boards if not h.ok]
        detail = {
            "boards": len(boards),  # the boards this instance holds (all, with SQLite)
            "unhealthy": len(reasons),
            # A quiet board answers: it is reported, not a 503 (an alarm has told the admin).
            "quiet": self.alarms.quiet_boards(),
            "up_seconds": int((now - self.started).total_seconds()),
        }
        return Health(ok=not reasons, reasons=tuple(reasons), detail=detail)

    def board_live(self) -> dict[str, BoardLive]:
        """Per configured board, health, backoff and last outcome from memory (no query).
        Call it on the event loop: the dicts it reads are the loop's."""
        now, wall, monotonic = self.clock.steady(), self.clock.wall(), self.clock.monotonic()
        live = {}
        for board, judged in zip(self.config.boards, self._judge(now), strict=True):
            if board.id not in self.leases.held:  # another instance polls it
                live[board.id] = BoardLive(True, "", None, "polled by another instance")
                continue
            backoff = self.backoffs.get(board.id)
            until = None
            if backoff is not None and backoff.next_allowed is not None:
                if backoff.next_allowed > monotonic:
                    until = wall + timedelta(seconds=backoff.next_allowed - monotonic)
            failing = self._failing.get(board.id)  # the page shows a failure at once
            live[board.id] = BoardLive(
                judged.ok and failing is None,
                judged.reason or failing or "",
                until,
                self._outcomes.get(board.id, ""),
                self.alarms.quiet_since(board.id),
            )
        return live

    def _judge(self, now: datetime) -> list[BoardHealth]:
        """Every configured board's health by this instance's memory. A board taken from
        another instance counts from when it was taken, not from this instance's start."""
        since = dict(self._last_success)
        for board_id, taken in self._taken_at.items():
            last = since.get(board_id)
            since[board_id] = taken if last is None else max(last, taken)
        return board_health(self.config, since, now, started=self.started, failing=self._failing)

    def reload(self, path: Path) -> None:
        """Apply a changed config file. A bad one is refused whole, the running one kept."""
        try:
            new = load_config(path)
        except ConfigError as e:
            log.error("reload refused, keeping the running config: %s", e)
            return
        for key in restart_only_changes(self.config, new):
            log.warning("reload: %s changed; it takes effect after a restart", key)
        old = {b.id: b for b in self.config.boards}
        fresh = {b.id: b for b in new.boards}
        removed = old.keys() - fresh.keys()
        changed = [b for b in new.boards if old.get(b.id) != b]
        # Everything below only swaps objects and jobs: nothing can fail half-way.
        self.config = new
        self._boards = fresh
        self.deliverer.config = new
        for board_id in removed:
            self.schedule.remove(board_id)
            self.backoffs.pop(board_id, None)
            self.spacing.forget(board_id)
            self.metrics.forget_board(board_id)
            self._last_success.pop(board_id, None)
            self._failing.pop(board_id, None)
            self._outcomes.pop(board_id, None)
            self._taken_at.pop(board_id, None)
            self.alarms.forget(board_id)
        for board in changed:
            self.backoffs[board.id] = BoardBackoff(board.interval)
            self.spacing.forget(board.id)
            self.schedule.add(board, self.parts.rng.uniform(0, min(board.interval, 1.0)))
        self.metrics.set_boards(len(new.boards))
        if self.leases.shared:
            self.leases.wake.set()  # added boards are taken (removed ones kept) at once
        else:
            self.leases.take_inline()
        log.info(
            "reloaded %s: %d boards (%d added or changed, %d removed)",
            path,
            len(new.boards),
            len(changed),
            len(removed),
        )

    async def stop(self) -> None:
        self.stopping.set()
        self.wake_deliverer.set()
        self.schedule.pause()
        if self._inflight:
            _done, pending = await asyncio.wait(set(self._inflight), timeout=STOP_GRACE)
            for task in pending:
                task.cancel()  # safe: each poll records in one transaction or not at all
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        self.schedule.shutdown()
        await self.leases.release()
