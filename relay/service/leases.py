"""The lease task of `relay run`: which boards this instance may poll, kept fresh.

Every third of a lease (or at once when woken) one round heartbeats and renews/takes leases
through the state's `Coordination`. What the round returned is kept in memory with a LOCAL
validity on the monotonic clock — the time the round started, plus the lease, minus a
margin — so an instance that cannot reach the database, or was paused (SIGSTOP, a frozen
VM), stops *starting* polls before the database lets another instance take its boards. A
poll already under way is caught by the fence instead (`apply_poll(fence=lease)`).

While a round is in flight, the boards it may give back (`spare`) count as not held: a poll
started in that window could otherwise hit the board just before its new owner does.

For a state one process owns (`Solo`), leases never lapse and rounds run inline (no I/O). A
shared state's rounds run in a thread of their own: queued behind polls' state calls in the
service's two I/O threads, a renewal could come too late and lapse leases that are alive.
Runs under the service's Supervisor; a failed round is a warning, and `problem()` turns
`/healthz` red once no round succeeded for a whole lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from relay.core.coordination import Coordination, InstanceId, Lease
from relay.core.errors import StateError

log = logging.getLogger("relay.leases")
T = TypeVar("T")

ROUNDS_PER_LEASE = 3  # a lease is renewed this many times before it would lapse
MARGIN = 0.15  # of a lease: local validity ends this much before the database's expiry


class LeaseKeeper:
    """The leases this instance holds, and the task that keeps them."""

    def __init__(
        self,
        coordination: Coordination,
        me: InstanceId,
        lease_seconds: float,
        *,
        monotonic: Callable[[], float],
        boards: Callable[[], Sequence[str]],
        spare: Callable[[], Sequence[str]] = lambda: (),
        on_taken: Callable[[list[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.coordination = coordination
        self.me = me
        self.lease_seconds = lease_seconds
        self._monotonic = monotonic
        self._boards = boards
        self._spare = spare
        self._on_taken = on_taken
        self.held: dict[str, Lease] = {}
        self._valid_until = -math.inf  # monotonic: no poll starts after this
        self._renewed: float | None = None  # monotonic time of the last round that succeeded
        self._started = monotonic()
        self._giving: frozenset[str] = frozenset()  # spare boards of the round in flight
        self._settled = asyncio.Event()  # set while no round is in flight
        self._settled.set()
        self.wake = asyncio.Event()
        self._turn = asyncio.Lock()  # one round or release at a time
        self._released = False  # after a clean stop's release, no round takes anything again
        self._thread: ThreadPoolExecutor | None = None  # made on first use, shared states only

    @property
    def shared(self) -> bool:
        return self.coordination.shared

    def lease_for(self, board_id: str) -> Lease | None:
        """The lease to fence a poll of `board_id` with, or None: do not poll it now."""
        lease = self.held.get(board_id)
        if lease is None or not self.shared:
            return lease
        if board_id in self._giving or self._monotonic() >= self._valid_until:
            return None
        return lease

    async def current_lease(self, board_id: str) -> Lease | None:
        """`lease_for`, once a round in flight that may give the board away has ended: a
        poll due meanwhile waits for it (a fraction of a second) rather than being skipped
        until its next fire, an interval later. A round that hangs (the database gone) is
        waited for a third of a lease at most: the poll is then skipped, as before."""
        if board_id in self._giving:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.lease_seconds / ROUNDS_PER_LEASE):
                    await self._settled.wait()
        return self.lease_for(board_id)

    def drop(self, lost: Lease) -> None:
        """The state said this lease is no longer ours (LeaseLost): stop polling the board —
        unless a round has taken it again meanwhile, under a newer token."""
        held = self.held.get(lost.board_id)
        if held is not None and held.token == lost.token:
            del self.held[lost.board_id]

    def take_inline(self) -> None:
        """A round without awaiting, for a state with nothing to wait for (Solo): the
        service holds every configured board before its first poll, and after a reload."""
        if self.shared:
            raise RuntimeError("a shared state's lease round needs the event loop")
        self.held = self._take(list(self._boards()), ())
        self._renewed = self._monotonic()

    def _take(self, boards: list[str], spare: tuple[str, ...]) -> dict[str, Lease]:
        """The round's state calls (in a worker thread for a shared state)."""
        self.coordination.heartbeat(self.me, self.lease_seconds)
        return self.coordination.take_leases(self.me, boards, self.lease_seconds, spare=spare)

    async def round(self) -> list[str]:
        """One round; the boards newly taken (or taken again under a new token), for which
        `on_taken` has run. Bookkeeping stays on the event loop; only the calls go to a
        thread."""
        async with self._turn:
            if self._released:
                return []
            started = self._monotonic()
            boards, spare = list(self._boards()), tuple(self._spare())
            self._giving = frozenset(spare)
            self._settled.clear()
            try:
                if self.shared:
                    leases = await self._in_thread(self._take, boards, spare)
                else:
                    leases = self._take(boards, spare)
            finally:
                self._giving = frozenset()
                self._settled.set()
            if self._released:  # a clean stop came during the call: it keeps nothing
                return []
            fresh = sorted(b for b, lease in leases.items() if self._is_new(b, lease))
            lost = sorted(self.held.keys() - leases.keys())
            self.held = leases
            self._valid_until = started + self.lease_seconds * (1 - MARGIN)
            self._renewed = started
            if self.shared and (fresh or lost):
                log.info(
                    "leases: %d held, took %s, gave up %s",
                    len(leases),
                    " ".join(fresh) or "none",
                    " ".join(lost) or "none",
                )
            if fresh and self._on_taken is not None:
                await self._on_taken(fresh)
            return fresh

    def _is_new(self, board_id: str, lease: Lease) -> bool:
        old = self.held.get(board_id)
        return old is None or old.token != lease.token

    async def keep_forever(self) -> None:
        """Runs for the service's life: a round every third of a lease, or when woken."""
        while not self._released:
            self.wake.clear()
            try:
                await self.round()
            except StateError as e:
                log.warning("lease round failed (%d board(s) held): %s", len(self.held), e)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.lease_seconds / ROUNDS_PER_LEASE):
                    await self.wake.wait()

    def problem(self) -> str | None:
        """Why /healthz should be red: no round succeeded for longer than a lease."""
        if not self.shared:
            return None
        since = self._renewed if self._renewed is not None else self._started
        age = self._monotonic() - since
        if age <= self.lease_seconds:
            return None
        return f"leases not renewed for {age:.0f}s (lease {self.lease_seconds:g}s)"

    async def release(self) -> None:
        """A clean stop: hand every board back so the other instances take them at once."""
        self._released = True
        self.held = {}  # at once: no poll starts while a round under way finishes
        self._valid_until = -math.inf
        async with self._turn:  # a round under way ends first (and keeps nothing: released)
            try:
                if self.shared:
                    await self._in_thread(self.coordination.release_leases, self.me)
                else:
                    self.coordination.release_leases(self.me)
            except StateError as e:
                log.warning("leases not released (they expire by themselves): %s", e)
        if self._thread is not None:
            self._thread.shutdown(wait=False)

    async def _in_thread(self, call: Callable[..., T], *args: object) -> T:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-leases")
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)
