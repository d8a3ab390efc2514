"""Draining the delivery queue: each pending delivery becomes one Telegram message, oldest first.

The queue is the `deliveries` table, filled in the same transaction that records a post, so
nothing found is ever lost. A delivery is marked sent only after Telegram answered; a crash
between the two sends that message once more on restart. Exactly one message is in flight at
any moment, so one crash (or one lost answer) can cause at most one duplicate. When the state
refuses the mark (disk full, I/O error), the drain stops with a StateError and this process
remembers the message as sent: it retries the mark, never the send.

Every drain ends: with a deadline it returns by it (a send in flight is cut off at it), and
without one each pending delivery is tried at most once. Waits are never shorter than a
second (a `retry_after` of 0 must not spin), and a drain that waits on the pace says how far
it is every few seconds.

Per chat, order holds: while a chat waits out a flood limit or a backoff, its later posts wait
too; other chats go on. On a state shared by several instances the worker sees only the
deliveries its instance claimed (relay.core.claims: whole chats, so the order holds across
instances too), and each instance has its one message in flight. A `retry_after` of hours
(Telegram has answered 43,837 s) only keeps that chat's deliveries pending: nothing sleeps
on it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from relay.core.backoff import DELIVERY_BACKOFF, FLOOD_WAIT_CAP, BackoffPolicy
from relay.core.claims import DeliveryClaims, OwnedQueue
from relay.core.compose import compose, route_index
from relay.core.config import Config
from relay.core.pace import human_wait, pace_of, queue_duration
from relay.core.routes import Route
from relay.core.state import Delivery, State
from relay.pipeline.digests import DigestSending
from relay.pipeline.edits import Editor, apply_edits
from relay.pipeline.outcomes import Outcomes
from relay.pipeline.senders import DrainReport, DryRunSender, Progress, Sender

__all__ = ["Deliverer", "DrainReport", "DryRunSender", "Sender"]

log = logging.getLogger("relay.pipeline.deliver")

PROGRESS_EVERY = 10.0  # seconds: a drain that waits logs its progress at most this often,
# the first time once it has gone on (or faces a wait) for half of that


@runtime_checkable
class _CanEdit(Editor, Protocol):
    pass


class Deliverer(DigestSending):
    """Sends what the queue holds. One instance per process; `drain` is not re-entrant.

    `now` is the wall clock (aware UTC) the queue's `not_before` is written in; `monotonic`
    is what this process waits by: a retry it set itself is timed on it, so a wall-clock step
    cannot stretch a 5 s backoff into an hour (the stored `not_before` only serves after a
    restart). `rng` draws the backoff's jitter; `policy` is the backoff of a transient failure
    without a named wait. `claims` says which deliveries and edits are this instance's (on a
    shared state, the chats it claimed); by default the whole queue of a state it owns.
    """

    def __init__(
        self,
        config: Config,
        store: State,
        sender: Sender,
        now: Callable[[], datetime],
        *,
        dry_run: bool = False,
        on_sent: Callable[[str], None] = lambda board_id: None,
        on_failed: Callable[[str], None] = lambda board_id: None,
        rng: random.Random | None = None,
        policy: BackoffPolicy = DELIVERY_BACKOFF,
        progress_every: float = PROGRESS_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
        claims: DeliveryClaims | None = None,
    ) -> None:
        self.config = config  # the setter also indexes the board ids
        self._monotonic = monotonic
        self._store = store
        self._claims = claims if claims is not None else OwnedQueue(store)
        self._sender = sender
        self._now = now
        self._dry_run = dry_run
        self._outcomes = Outcomes(
            store,
            now=now,
            monotonic=monotonic,
            rng=rng if rng is not None else random.Random(),
            policy=policy,
            on_sent=on_sent,
            on_failed=on_failed,
        )
        self._state = self._outcomes.state
        self._progress_every = progress_every
        self._printed: set[int] = set()  # dry run: seqs already shown by this process
        self._printed_edits: set[int] = set()  # dry run: edits (by seq) already shown
        self._warned_boards: set[str] = set()
        self._warned_routes: set[tuple[str, str]] = set()

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        self._config = config
        self._board_ids = frozenset(b.id for b in config.boards)
        # (board id, stored route key) -> route, with the keys carried over from before
        # routes: looked up for every pending delivery on every pass of the drain.
        self._routes = {
            (board.id, key): route
            for board in config.boards
            for key, route in route_index(board.routes).items()
        }

    async def drain(self, deadline: float | None = None) -> DrainReport:
        """Send every pending delivery that is due; wait for those due before `deadline`.

        `deadline` is a loop-time (asyncio monotonic) bound, checked before every send and
        cutting off a send still in flight at it. Without one, only what is due now is sent,
        each delivery at most once. Returns what happened; what is left stays pending. Raises
        StateError (naming the state and the delivery) when the queue cannot be read or
        written: nothing more is sent until the state works again.
        """
        report = DrainReport()
        loop = asyncio.get_running_loop()
        await self._outcomes.record_unmarked()
        progress = Progress(started=loop.time(), every=self._progress_every)
        tried: set[int] = set()  # without a deadline: tried once in this drain, not again
        moved: set[int] = set()  # followed to a supergroup once in this drain
        while True:
            pending = await self._pending()
            due, wait = self._next_due(pending, self._now(), tried)
            if deadline is not None and loop.time() >= deadline:
                report.next_due = 0.0 if due is not None else wait
                break
            if due is not None:
                followed = await self._deliver(due, report, deadline, pending)
                if deadline is None and (not followed or due.seq in moved):
                    tried.add(due.seq)
                if followed:
                    moved.add(due.seq)
                continue
            report.next_due = wait
            if wait is None or deadline is None or loop.time() + wait > deadline:
                break
            if progress.due(loop.time(), wait):
                self._log_progress(report, pending, deadline - loop.time())
            await asyncio.sleep(max(0.05, min(wait, self._progress_every)))
        report.deferred = len(pending)
        if isinstance(self._sender, _CanEdit):
            # After the new posts: an edit is never worth delaying news. A dry run prints
            # them (once per process) and leaves them queued.
            report.edited = await apply_edits(
                self._config,
                self._store,
                self._sender,
                self._state,
                deadline,
                functools.partial(self._claims.claim_edits, self._board_ids),
                shown=self._printed_edits if self._dry_run else None,
            )
        return report

    async def _pending(self) -> list[Delivery]:
        pending = await self._state("read the delivery queue", self._claims.claim, self._board_ids)
        if self._dry_run:
            pending = [d for d in pending if d.seq not in self._printed]
        return pending

    def _next_due(
        self, pending: list[Delivery], now: datetime, tried: set[int]
    ) -> tuple[Delivery | None, float | None]:
        """The oldest delivery whose chat is free; else how long until one is. A delivery
        already `tried` holds its chat (order) and is due for the next drain, not this one."""
        blocked: set[str] = set()
        soonest: float | None = None
        for delivery in pending:
            if delivery.chat in blocked:
                continue  # an older post of this chat waits: keep the chat's order
            if delivery.board_id not in self._board_ids:
                if delivery.board_id not in self._warned_boards:
                    self._warned_boards.add(delivery.board_id)
                    log.warning(
                        "board=%s is not in the config: its pending deliveries wait",
                        delivery.board_id,
                    )
                continue
            if self._route(delivery) is None:
                continue
            wait = self._wait(delivery, now)
            if wait > 0 or delivery.seq in tried:
                blocked.add(delivery.chat)
                soonest = wait if soonest is None else min(soonest, wait)
                continue
            return delivery, None
        return None, soonest

    def _route(self, delivery: Delivery) -> Route | None:
        """The route a delivery was queued for; None (and a warning, once) when the config
        no longer has it: its deliveries wait, like those of a board taken out."""
        key = (delivery.board_id, delivery.route_key)
        route = self._routes.get(key)
        if route is None and key not in self._warned_routes:
            self._warned_routes.add(key)
            log.warning(
                "board=%s route=%s is not in the config: its pending deliveries wait",
                delivery.board_id,
                delivery.route_key,
            )
        return route

    def _wait(self, delivery: Delivery, now: datetime) -> float:
        """Seconds before `delivery` may go: its backoff, and Telegram's pace for its chat
        (20 a minute per channel: that chat waits, the others are served)."""
        wait = 0.0
        retry_at = self._outcomes.retry_at.get(delivery.seq)
        if retry_at is not None:
            wait = max(0.0, retry_at - self._monotonic())
        elif delivery.not_before is not None and delivery.not_before > now:
            # Set before this process started: the wall clock is all there is, but no wait is
            # longer than the longest Telegram may ask for.
            wait = min((delivery.not_before - now).total_seconds(), FLOOD_WAIT_CAP)
        return max(wait, self._sender.pace_delay(delivery.chat))

    async def _deliver(
        self,
        delivery: Delivery,
        report: DrainReport,
        deadline: float | None,
        pending: list[Delivery],
    ) -> bool:
        """Try one delivery (or the digest it opens); True when it was moved to a supergroup
        (and may go at once)."""
        board = self.config.board(delivery.board_id)
        route = self._route(delivery)
        assert route is not None  # _next_due hands out only deliveries with a route
        group = self._digest_group(delivery, route, pending)
        if group:
            return await self._send_digest(group, route, report, deadline)
        where = f"board={board.id} chat={delivery.chat} post={delivery.post_id}"
        posts = await self._state(
            f"read post {where}", self._store.posts, board.id, [delivery.post_id]
        )
        post = posts.get(delivery.post_id)
        if post is None:
            await self._outcomes.fail(delivery, "the post is missing from the state", report)
            return False
        try:
            composed = compose(post, chat=delivery.chat, board=board.message, route=route)
        except ValueError as e:
            await self._outcomes.fail(delivery, f"message cannot be built: {e}", report)
            return False
        if self._dry_run:
            await self._sender.send(composed.photo or composed.text)
            self._printed.add(delivery.seq)
            return False
        answer = await self._outcomes.send_and_record(
            lambda: self._send_composed(composed, deadline, where), [delivery], report, where
        )
        return answer == "moved"

    def _log_progress(self, report: DrainReport, pending: list[Delivery], left: float) -> None:
        now = self._now()
        needs = self.estimate(pending, now)
        until = (now + timedelta(seconds=needs)).strftime("%H:%M:%S %Z")
        beyond = needs > left
        log.info(
            "deliveries: %d sent, %d left; the pace needs about %s more (until %s)%s",
            report.sent,
            len(pending),
            human_wait(needs),
            until,
            f"; this drain stops in {human_wait(left)}, the rest stays queued" if beyond else "",
        )

    def estimate(self, pending: list[Delivery], now: datetime) -> float:
        """Seconds until the last of `pending` could be sent at the config's pace."""
        chats: dict[str, tuple[int, float]] = {}
        for delivery in pending:  # oldest first: a chat's first delivery says when it starts
            if delivery.board_id not in self._board_ids:
                continue
            if delivery.chat in chats:
                count, wait = chats[delivery.chat]
                chats[delivery.chat] = (count + 1, wait)
            else:
                chats[delivery.chat] = (1, self._wait(delivery, now))
        return queue_duration(chats, pace_of(self.config))
