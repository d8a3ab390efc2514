"""`relay run`: the long-running service. APScheduler polls, a worker sends, systemd watches.

- One interval job per board (jitter ±10%, coalesce, max_instances=1, misfire grace of one
  interval). A failing board backs off (relay.core.backoff) by skipping fires, so it never delays
  another board.
- Deliveries are sent by one worker as soon as a poll creates them (an Event wakes it).
- SIGTERM/SIGINT: pause the scheduler, let in-flight polls and the current send finish
  (bounded), then exit — within 10 s. APScheduler's shutdown() would cancel running
  coroutine jobs and return before that takes effect, so we wait for our own tasks first.
- SIGHUP: reload the config; a bad one is logged and the old one kept.
- systemd: READY=1 once serving, WATCHDOG=1 from the event loop itself, STOPPING=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from relay.adapters.fetch import Fetcher
from relay.adapters.lock import StateLock
from relay.adapters.store import Store
from relay.core.backoff import BoardBackoff
from relay.core.config import Board, Config, load_config
from relay.core.errors import ConfigError, DeliveryError, StateError
from relay.core.models import PollOutcome
from relay.core.schema import split_listen
from relay.core.status import board_health
from relay.pipeline.cycle import poll_board, write_feed
from relay.pipeline.deliver import Deliverer, DryRunSender, Sender
from relay.service import notify
from relay.service.alarms import Alarms
from relay.service.metrics import Metrics

if TYPE_CHECKING:
    from relay.service.web import Health, WebServer

log = logging.getLogger("relay.service.daemon")

STOP_GRACE = 6.0  # seconds in-flight polls get after SIGTERM (systemd waits TimeoutStopSec)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Service:
    """Everything `relay run` holds while it runs. Built by `run_service`."""

    def __init__(
        self,
        config: Config,
        store: Store,
        fetcher: Fetcher,
        sender: Sender,
        *,
        dry_run: bool,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self.now = now
        self.metrics = Metrics()
        self.deliverer = Deliverer(
            config,
            store,
            sender,
            now,
            dry_run=dry_run,
            on_sent=self.metrics.delivery_sent,
            on_failed=self.metrics.delivery_failed,
        )
        self.alarms = Alarms(config, store, sender, dry_run=dry_run)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.backoffs: dict[str, BoardBackoff] = {}
        self.started = now()
        self.stopping = asyncio.Event()
        self.wake_deliverer = asyncio.Event()
        self._inflight: set[asyncio.Task[Any]] = set()
        # Bounds the polls in flight: with 10,000 boards firing, an unbounded fan-out queues
        # thousands of requests in httpx's pool, whose bookkeeping then eats the CPU.
        self._gate = asyncio.Semaphore(config.concurrency)
        self._boards = {b.id: b for b in config.boards}
        # Health facts kept in memory: /healthz must not query the state per hit.
        self._last_success: dict[str, datetime | None] = {}
        self._failing: dict[str, str] = {}

    # --- scheduling ---------------------------------------------------------------------

    def schedule(self, boards: tuple[Board, ...]) -> None:
        """One job per board. First polls spread over 0.1 s per board, at most an interval:
        a lone board starts at once, thousands are spread evenly from the start."""
        spread = 0.1 * len(boards)
        for board in boards:
            self._add_job(board, random.uniform(0, min(board.interval, spread)))

    def _add_job(self, board: Board, first_in: float) -> None:
        """APScheduler 3 adds its jitter as a *delay* (0..jitter) to each fire. A trigger of
        0.9 x interval with 0.1 x interval of jitter gives gaps of 90-100% of the interval:
        polls are spread (about ±5% around 95%) and a new post never waits more than one
        interval to be seen."""
        self.backoffs[board.id] = BoardBackoff(board.interval)
        start = datetime.now(UTC) + timedelta(seconds=first_in)
        self.scheduler.add_job(
            self.poll_job,
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
            misfire_grace_time=max(1, int(board.interval)),
            replace_existing=True,
        )

    async def poll_job(self, board_id: str) -> None:
        if self.stopping.is_set():
            return
        board = self._boards.get(board_id)
        backoff = self.backoffs.get(board_id)
        if board is None or backoff is None or not backoff.due(asyncio.get_running_loop().time()):
            return
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            async with self._gate:
                if self.stopping.is_set():
                    return
                outcome = await poll_board(board, self.fetcher, self.store, self.now)
            await self._after_poll(board, backoff, outcome)
        except Exception:  # a bug must not kill the scheduler's job for good
            log.exception("board=%s poll crashed", board_id)
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _after_poll(self, board: Board, backoff: BoardBackoff, outcome: PollOutcome) -> None:
        self.metrics.observe_poll(outcome, self.now())
        if outcome.ok:
            backoff.succeeded()
            self._last_success[board.id] = self.now()
            self._failing.pop(board.id, None)
            if outcome.announced:
                self.wake_deliverer.set()
        else:
            self._failing[board.id] = outcome.reason
            delay = backoff.failed(asyncio.get_running_loop().time(), outcome.retry_after)
            log.info("board=%s backoff=%.0fs failures=%d", board.id, delay, backoff.failures)
        await self.alarms.after_poll(board, outcome, backoff.failures)

    # --- delivery worker ----------------------------------------------------------------

    async def deliver_forever(self) -> None:
        """Send as soon as deliveries exist; re-check now and then for due retries."""
        while not self.stopping.is_set():
            self.wake_deliverer.clear()
            pause = 5.0
            try:
                report = await self.deliverer.drain()
                counts = await asyncio.to_thread(self.store.delivery_counts)
                self.metrics.set_pending({b: n for (b, s), n in counts.items() if s == "pending"})
                if report.next_due is not None:
                    pause = min(pause, max(0.05, report.next_due))
            except (DeliveryError, StateError) as e:
                log.error("delivery worker: %s", e)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self.wake_deliverer.wait()

    # --- health, reload, stop -----------------------------------------------------------

    def health(self) -> Health:
        from relay.service.web import Health

        now = self.now()
        running = self.scheduler.running and not self.stopping.is_set()
        boards = board_health(
            self.config, self._last_success, now, started=self.started, failing=self._failing
        )
        reasons = tuple(f"{h.board_id}: {h.reason}" for h in boards if not h.ok)
        if not running:
            reasons = ("scheduler not running", *reasons)
        detail = {
            "boards": len(boards),
            "unhealthy": len(reasons),
            "since": self.started.isoformat(),
        }
        return Health(ok=running and not reasons, reasons=reasons, detail=detail)

    def reload(self, path: Path) -> None:
        try:
            new = load_config(path)
        except ConfigError as e:
            log.error("reload refused, keeping the running config: %s", e)
            return
        for key in ("state", "listen", "api_url", "token_file"):
            if getattr(new, key) != getattr(self.config, key):
                log.warning("reload: [%s] changed; it takes effect after a restart", key)
        old = {b.id: b for b in self.config.boards}
        fresh = {b.id: b for b in new.boards}
        for board_id in old.keys() - fresh.keys():
            self.scheduler.remove_job(board_id)
            self.backoffs.pop(board_id, None)
            self.metrics.forget_board(board_id)
        self.config = new
        self._boards = fresh
        self.deliverer.config = new
        self.alarms.config = new
        changed = [b for b in new.boards if old.get(b.id) != b]
        for board in changed:
            self._add_job(board, random.uniform(0, min(board.interval, 1.0)))
        self.metrics.set_boards(len(new.boards))
        log.info(
            "reloaded %s: %d boards (%d added or changed, %d removed)",
            path,
            len(new.boards),
            len(changed),
            len(old.keys() - fresh.keys()),
        )

    async def stop(self) -> None:
        self.stopping.set()
        self.wake_deliverer.set()
        if self.scheduler.running:
            self.scheduler.pause()
        if self._inflight:
            _done, pending = await asyncio.wait(set(self._inflight), timeout=STOP_GRACE)
            for task in pending:
                task.cancel()  # safe: each poll records in one transaction or not at all
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


async def run_service(
    config_path: Path,
    *,
    dry_run: bool = False,
    started: asyncio.Event | None = None,
    web_url: list[str] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT. Raises ConfigError (exit 2) before anything starts."""
    config = load_config(config_path)
    for warning in config.warnings:
        log.warning("%s", warning)
    dry_run = dry_run or config.dry_run
    lock = StateLock(config.state)
    lock.acquire()
    store = Store(config.state)
    # The worker threads run SQLite calls (serialized by the store's lock anyway) and feed
    # writes: two are plenty, and each thread more costs a malloc arena of resident memory.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="relay-io")
    )
    try:
        async with contextlib.AsyncExitStack() as stack:
            from relay.entry.cli import make_fetcher, open_sender

            fetcher = await stack.enter_async_context(make_fetcher(config))
            sender = await stack.enter_async_context(
                open_sender(config, dry_run=dry_run, strict=False)
            )
            service = Service(config, store, fetcher, sender, dry_run=dry_run)  # type: ignore[arg-type]
            if isinstance(sender, DryRunSender):
                log.info("dry run: messages are printed, not sent")
            await _serve(service, config_path, stack, started, web_url)
    finally:
        store.close()
        lock.release()
    return 0


async def _serve(
    service: Service,
    config_path: Path,
    stack: contextlib.AsyncExitStack,
    started: asyncio.Event | None,
    web_url: list[str] | None,
) -> None:
    config = service.config
    loop = asyncio.get_running_loop()
    for board in config.boards:  # a feed lost from disk, or dirty after a crash, is rewritten
        await write_feed(board, service.store)
    web: WebServer | None = None
    if config.listen:
        from relay.service.web import start_web  # aiohttp: ~10 MB, loaded only when serving

        host, port = split_listen(config.listen)
        web = await start_web(
            host, port, feeds_dir=config.feeds_dir, health=service.health, metrics=service.metrics
        )
        stack.push_async_callback(web.close)
        log.info("serving feeds at %s/feeds/, health at %s/healthz", web.url, web.url)
        if web_url is not None:
            web_url.append(web.url)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, service.stopping.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: _reload(service, config_path))
    service.scheduler.start()
    service.schedule(config.boards)
    service.metrics.set_boards(len(config.boards))
    worker = asyncio.create_task(service.deliver_forever(), name="deliveries")
    watchdog = asyncio.create_task(_watchdog(service), name="watchdog")
    notify.ready()
    notify.status(f"polling {len(config.boards)} boards")
    log.info(
        "running: %d boards, state %s, feeds %s", len(config.boards), config.state, config.feeds_dir
    )
    if started is not None:
        started.set()
    try:
        await service.stopping.wait()
    finally:
        notify.stopping()
        log.info("stopping")
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        await service.stop()
        watchdog.cancel()
        try:
            async with asyncio.timeout(3.0):
                await worker  # finishes the message in flight, if any
        except TimeoutError:
            worker.cancel()  # at worst that one message is sent again after restart
        log.info("stopped")


def _reload(service: Service, path: Path) -> None:
    notify.reloading()
    service.reload(path)
    notify.ready()


async def _watchdog(service: Service) -> None:
    interval = notify.watchdog_interval()
    if not interval:
        return
    while not service.stopping.is_set():
        notify.watchdog()
        await asyncio.sleep(interval / 2)
