"""The composition root: the one place that builds board-relay's parts from a `Config`.

`check`, `once`, `run` and `demo` all get their fetcher, state, sender, clocks and random
source from here; no other module constructs an adapter, so a second state implementation or
a fake clock is one change in this file. Entering `assemble` takes the single-instance lock
before the state is opened and releases it last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from relay.adapters.fetch import Fetcher
from relay.adapters.lock import StateLock
from relay.adapters.sqlite import SqliteState
from relay.adapters.state_file import FileIdentity
from relay.core.claims import DeliveryClaims
from relay.core.clock import Clock
from relay.core.config import Config, load_config, load_state_password, load_token
from relay.core.coordination import Coordination, InstanceId
from relay.core.errors import StateError, TransientDeliveryError
from relay.core.pace import bot_spacing, pace_of
from relay.core.solo import Solo
from relay.core.state import State
from relay.core.state_url import PostgresUrl, StateLocation
from relay.pipeline.deliver import DryRunSender, Sender
from relay.service.logs import add_secret
from relay.service.parts import Parts

if TYPE_CHECKING:
    from relay.adapters.postgres import PostgresState

log = logging.getLogger("relay")


def make_fetcher(config: Config) -> Fetcher:
    return Fetcher(
        user_agent=config.user_agent,
        timeout=config.timeout,
        max_bytes=config.max_page_bytes,
        host_delay=config.host_delay,
    )


@contextlib.asynccontextmanager
async def open_sender(
    config: Config, *, dry_run: bool, strict: bool = True, clock: Clock | None = None
) -> AsyncIterator[Sender]:
    """The courier (or the dry-run printer). A wrong token fails here, at start.

    With `strict=False` (the service), a Telegram that cannot be reached right now is only
    a warning: feeds go on, and deliveries wait in the queue until it answers.
    """
    if dry_run or not config.sends:
        yield DryRunSender()
        return
    from relay.adapters.courier import Courier  # python-telegram-bot: loaded when sending

    token = load_token(config)
    add_secret(token)
    async with Courier(token, config.api_url, pace=pace_of(config)) as courier:
        try:
            name = await courier.check()
        except TransientDeliveryError as e:
            if strict:
                raise
            log.warning("telegram not reachable at start (%s): deliveries wait for it", e)
        else:
            log.info("telegram bot @%s ready", name)
        yield courier


@contextlib.contextmanager
def open_state(config: Config, *, lock: bool = True) -> Iterator[State]:
    """The state, under the single-instance lock unless `lock=False` (read-only commands and
    `relay retry`, which only touch rows that the running service re-reads)."""
    with open_state_at(config.state, password=load_state_password(config), lock=lock) as state:
        yield state


@contextlib.contextmanager
def open_state_at(
    where: StateLocation, *, password: str | None = None, lock: bool = True
) -> Iterator[SqliteState | PostgresState]:
    """The state at a path (SQLite, under its file lock when `lock`) or a URL (PostgreSQL:
    no file lock, several instances sharing it is the point). The password is redacted from
    every log line from here on."""
    with contextlib.ExitStack() as stack:
        store: SqliteState | PostgresState
        if isinstance(where, PostgresUrl):
            from relay.adapters.postgres import PostgresState  # psycopg: loaded when used

            if password:
                add_secret(password)
            store = PostgresState(where, password=password)
        else:
            if lock:
                state_lock = StateLock(where)
                state_lock.acquire()
                stack.callback(state_lock.release)
            store = SqliteState(where)
        stack.callback(store.close)
        yield store


def coordination_of(state: State, clock: Clock) -> Coordination:
    """Who the state is shared with: nobody for a SQLite file (`Solo`, every board held);
    for PostgreSQL, the instances whose leases and heartbeats are rows on the same pool."""
    if isinstance(state, SqliteState):
        return Solo(clock.wall)
    from relay.adapters.postgres import PostgresState  # psycopg: loaded when used
    from relay.adapters.postgres.leases import PostgresLeases

    if isinstance(state, PostgresState):
        return PostgresLeases(state.database)
    return Solo(clock.wall)  # a state of a test's own making: one process


def state_watch(config: Config) -> Callable[[], None]:
    """What the service calls now and then to see that its state is still the one it opened:
    a SQLite file deleted or replaced stops it; a PostgreSQL server has no file to swap (and
    one that is down fails polls, as board failures, rather than stopping the service)."""
    if isinstance(config.state, Path):
        return FileIdentity.of(config.state).check
    return lambda: None


@contextlib.asynccontextmanager
async def assemble(
    config: Config,
    *,
    dry_run: bool,
    strict_telegram: bool,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> AsyncIterator[Parts]:
    """Every part, opened in order (lock, state, fetcher, sender) and closed in reverse."""
    clock = clock or Clock()
    rng = rng or random.Random()
    if config.sends and not dry_run:
        load_token(config)  # no token: fail before the state is opened or a board is polled
    with open_state(config) as state:
        async with contextlib.AsyncExitStack() as stack:
            fetcher = await stack.enter_async_context(make_fetcher(config))
            sender = await stack.enter_async_context(
                open_sender(config, dry_run=dry_run, strict=strict_telegram, clock=clock)
            )
            me = delivery_instance(rng)  # one identity for the claims and the leases
            claims, paced = shared_sending(config, state, sender, clock, me)
            if claims is not None:  # unwound after the worker stopped, before the state closes
                stack.callback(_release, claims)
            yield Parts(
                config=config,
                state=state,
                fetcher=fetcher,
                sender=paced,
                clock=clock,
                rng=rng,
                dry_run=dry_run or isinstance(sender, DryRunSender),
                check_state=state_watch(config),
                # A PostgreSQL state is shared: other instances poll some of the boards, so
                # the listener serves every feed from the state (relay.service.statefeeds).
                shared_state=isinstance(config.state, PostgresUrl),
                claims=claims,
                coordination=coordination_of(state, clock),
                instance=me,
            )


def shared_sending(
    config: Config, state: State, sender: Sender, clock: Clock, me: InstanceId
) -> tuple[DeliveryClaims | None, Sender]:
    """On a shared (PostgreSQL) state: this instance's delivery claims, and the sender paced
    through the state (relay.pipeline.shared_pace). On a state this process owns: no claims
    (the delivery worker takes the whole queue) and the sender as it is (the pace stays in
    the courier's memory), so a single relay sends exactly as it did before claims.

    A dry run claims nothing either: it prints what is pending and leaves it so, and a
    `relay run --dry-run` on a shared state must not hold chats away from the instances
    that send."""
    if not isinstance(config.state, PostgresUrl):
        return None, sender
    from relay.adapters.courier import Courier  # psycopg and PTB: loaded when used

    if not isinstance(sender, Courier):
        return None, sender
    from relay.adapters.postgres import PostgresState
    from relay.adapters.postgres.claims import PostgresClaims
    from relay.pipeline.shared_pace import SharedPaceSender

    assert isinstance(state, PostgresState)  # open_state opens one for a URL
    pace = pace_of(config)
    claims = PostgresClaims(
        state.database,
        me,
        claim_seconds=config.claim,
        bot_spacing=bot_spacing(pace),
        monotonic=clock.monotonic,
    )
    return claims, SharedPaceSender(sender, claims, pace, state.location)


def delivery_instance(rng: random.Random) -> InstanceId:
    """This process, as its delivery claims name it: host, pid and a random suffix, so that
    a restarted process (even with a recycled pid) is a new claimant. The board leases name
    the process the same way: one identity should serve both, since the claims count the
    instances alive by the leases' heartbeats (their fair share of chats)."""
    host = socket.gethostname()
    pid = os.getpid()
    return InstanceId(f"{host}-{pid}-{rng.getrandbits(24):06x}", host, pid)


def _release(claims: DeliveryClaims) -> None:
    """A clean stop hands the claims back; a state that cannot take them now only delays
    the other instances by the claim time."""
    try:
        claims.release()
    except StateError as e:
        log.warning("delivery claims not handed back (they expire by themselves): %s", e)


async def run_service(
    config_path: Path,
    *,
    dry_run: bool = False,
    started: asyncio.Event | None = None,
    web_url: list[str] | None = None,
) -> int:
    """`relay run`: load, assemble, serve until SIGTERM. ConfigError (exit 2) before anything
    starts; the exit code of the service otherwise."""
    from relay.service.run import serve

    config = load_config(config_path)
    for warning in config.warnings:
        log.warning("%s", warning)
    # The worker threads run state calls (serialized by the state's lock anyway) and feed
    # writes: two are plenty, and each thread more costs a malloc arena of resident memory.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="relay-io")
    )
    async with assemble(config, dry_run=dry_run or config.dry_run, strict_telegram=False) as parts:
        return await serve(parts, config_path, started=started, web_url=web_url)
