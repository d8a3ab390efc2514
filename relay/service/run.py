"""Running the service until it is told to stop: signals, the listener, the supervised tasks.

SIGTERM/SIGINT stop within 10 s; SIGHUP reloads (RELOADING=1, then READY=1 whatever the
reload did). systemd hears READY=1 once serving, WATCHDOG=1 from the event loop itself, and
STOPPING=1. The exit code is 0 after a requested stop and 1 when a supervised task had to be
given up, so that systemd restarts the process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

from relay.core.errors import StartError
from relay.core.schema import split_listen
from relay.pipeline.feed import write_feed
from relay.service import notify
from relay.service.daemon import Service
from relay.service.parts import Parts
from relay.service.served import FeedSource

log = logging.getLogger("relay.daemon")

WORKER_STOP_GRACE = 3.0  # seconds the delivery worker gets to finish the message in flight


async def serve(
    parts: Parts,
    config_path: Path,
    *,
    started: asyncio.Event | None = None,
    web_url: list[str] | None = None,
) -> int:
    """Run `relay run` on the given parts until SIGTERM/SIGINT; the exit code."""
    service = Service(parts)
    config = parts.config
    if parts.dry_run:
        log.info("dry run: messages are printed, not sent")
    # A feed lost from disk, or dirty after a crash, is rewritten. With a shared state only
    # the boards this instance polls have their file here, each written by its own polls.
    for board in () if parts.shared_state else config.boards:
        await write_feed(board, parts.state)
    web = None
    if config.listen:
        from relay.service.pages import StatusPages
        from relay.service.web import start_web  # aiohttp: ~10 MB, only when serving

        host, port = split_listen(config.listen)
        pages = StatusPages(service)
        try:
            web = await start_web(
                host,
                port,
                feeds=served_feeds(service),
                health=service.health,
                metrics=service.metrics,
                pages=pages,
            )
        except OSError as e:
            raise StartError(f"[http] listen {config.listen}: {e.strerror or e}") from None
        # Built once now, so that not even the first visitor waits for a build (~0.3 s with
        # 1,000 boards); later visitors get the cached page while it is rebuilt behind them.
        warm_up = asyncio.create_task(pages.index(), name="status-page")
        warm_up.add_done_callback(lambda task: task.cancelled() or task.exception())
        log.info("serving feeds at %s/feeds/, health at %s/healthz", web.url, web.url)
        if web_url is not None:
            web_url.append(web.url)
    try:
        return await _run(service, config_path, started)
    finally:
        if web is not None:
            await web.close()


def served_feeds(service: Service) -> FeedSource | Callable[[], Mapping[str, Path]]:
    """What /feeds/ serves, for the boards of the latest reload. A state this instance alone
    writes (SQLite): the feed files it writes, as they are on disk. A shared state: every
    board's feed rendered from the state, since other instances poll some of the boards (the
    same bytes as their files, see relay.service.statefeeds)."""
    from relay.service.web import feeds_of

    if service.parts.shared_state:
        from relay.service.statefeeds import StateFeeds

        return StateFeeds(lambda: service.config.boards, service.parts.state, service.clock)
    return lambda: feeds_of(service.config.boards)


async def _run(service: Service, config_path: Path, started: asyncio.Event | None) -> int:
    loop = asyncio.get_running_loop()
    config = service.config
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, service.stopping.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: _reload(service, config_path))
    service.start()
    supervisor = service.supervisor
    supervisor.start("deliveries", service.deliver_forever)
    supervisor.start("scheduler", service.schedule.follow_clock_steps)
    supervisor.start("watchdog", _watchdog)
    supervisor.start("state", service.watch_state)
    if service.leases.shared:  # a state one process owns holds every board from the start
        supervisor.start("leases", service.leases.keep_forever)
    notify.ready()
    notify.status(f"polling {len(config.boards)} boards")
    log.info(
        "running: %d boards, state %s, feeds %s", len(config.boards), config.state, config.feeds_dir
    )
    if started is not None:
        started.set()
    gave_up = asyncio.create_task(supervisor.gave_up.wait())
    stop = asyncio.create_task(service.stopping.wait())
    try:
        await asyncio.wait({gave_up, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gave_up.cancel()
        stop.cancel()
        notify.stopping()
        failed = dict(supervisor.failed)
        log.info("stopping" + (f": task {', '.join(failed)} given up" if failed else ""))
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        await service.stop()
        # The worker finishes the message in flight, if any; at worst that one message is
        # sent again after a restart.
        await supervisor.stop(WORKER_STOP_GRACE)
        log.info("stopped")
    return 1 if failed else 0


def _reload(service: Service, path: Path) -> None:
    notify.reloading()
    try:
        service.reload(path)
    except Exception:  # a reload must never leave systemd waiting in "reloading"
        log.exception("reload failed; the running config is kept")
    finally:
        notify.ready()


async def _watchdog() -> None:
    """WATCHDOG=1 from the event loop itself: a blocked loop stops it, and systemd notices."""
    interval = notify.watchdog_interval()
    if not interval:
        await asyncio.Event().wait()  # no watchdog asked for: idle until stopped
        return
    while True:
        notify.watchdog()
        await asyncio.sleep(interval / 2)
