"""Draining the delivery queue: each pending delivery becomes one Telegram message, oldest first.

The queue is the `deliveries` table, filled in the same transaction that records a post, so
nothing found is ever lost. A delivery is marked sent only after Telegram answered; a crash
between the two sends that message once more on restart. Exactly one message is in flight at
any moment, so one crash (or one lost answer) can cause at most one duplicate.

Per chat, order holds: while a chat waits out a flood limit or a backoff, its later posts wait
too; other chats go on. A `retry_after` of hours (Telegram has answered 43,837 s) only keeps
that chat's deliveries pending: nothing sleeps on it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TextIO

from relay.core.config import Config
from relay.core.errors import DeliveryError, PermanentDeliveryError
from relay.core.message import format_message
from relay.core.models import OutgoingMessage
from relay.core.state import Delivery, State

log = logging.getLogger("relay.pipeline.deliver")

BACKOFF_BASE = 5.0  # seconds before the first retry of a transient failure
BACKOFF_CAP = 1800.0  # never wait longer than this between two tries (unless Telegram says so)


class Sender(Protocol):
    async def send(self, msg: OutgoingMessage) -> int: ...

    def pace_delay(self, chat: str) -> float: ...


class DryRunSender:
    """Prints each message instead of sending it; deliveries stay pending (nothing was sent)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out

    def pace_delay(self, chat: str) -> float:
        return 0.0

    async def send(self, msg: OutgoingMessage) -> int:
        out = self._out or sys.stdout
        preview = msg.preview_url or "none"
        print(
            f"--- dry run: to {msg.chat} (preview: {preview}) ---\n{msg.text}\n",
            file=out,
            flush=True,
        )
        return 0


@dataclass
class DrainReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0  # still pending at the end (flood limits, backoff, deadline)
    next_due: float | None = None  # seconds until the next pending delivery may go
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> float:
    """Exponential backoff with ±10% jitter: 5 s, 10 s, 20 s … capped at 30 minutes."""
    delay: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts))
    return delay * random.uniform(0.9, 1.1)


class Deliverer:
    """Sends what the queue holds. One instance per process; `drain` is not re-entrant."""

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
    ) -> None:
        self.config = config  # the setter also indexes the board ids
        self._store = store
        self._sender = sender
        self._now = now
        self._dry_run = dry_run
        self._on_sent = on_sent
        self._on_failed = on_failed
        self._printed: set[int] = set()  # dry run: seqs already shown by this process
        self._warned_boards: set[str] = set()

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        self._config = config
        self._board_ids = frozenset(b.id for b in config.boards)

    async def drain(self, deadline: float | None = None) -> DrainReport:
        """Send every pending delivery that is due; wait for those due before `deadline`.

        `deadline` is a loop-time (asyncio monotonic) bound: without one, only what is due now
        is sent. Returns what happened; what is left stays pending.
        """
        report = DrainReport()
        loop = asyncio.get_running_loop()
        while True:
            pending = await asyncio.to_thread(self._store.pending_deliveries)
            if self._dry_run:
                pending = [d for d in pending if d.seq not in self._printed]
            now = self._now()
            due, wait = self._next_due(pending, now)
            if due is not None:
                await self._deliver(due, report)
                continue
            report.deferred = len(pending)
            report.next_due = wait
            if wait is None or deadline is None or loop.time() + wait > deadline:
                return report
            await asyncio.sleep(max(0.05, wait))

    def _next_due(
        self, pending: list[Delivery], now: datetime
    ) -> tuple[Delivery | None, float | None]:
        """The oldest delivery whose chat is free; else how long until one is."""
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
            wait = 0.0
            if delivery.not_before is not None and delivery.not_before > now:
                wait = (delivery.not_before - now).total_seconds()
            # Telegram's pace (20 a minute per channel): wait for this chat, serve the others.
            wait = max(wait, self._sender.pace_delay(delivery.chat))
            if wait > 0:
                blocked.add(delivery.chat)
                soonest = wait if soonest is None else min(soonest, wait)
                continue
            return delivery, None
        return None, soonest

    async def _deliver(self, delivery: Delivery, report: DrainReport) -> None:
        board = self.config.board(delivery.board_id)
        posts = await asyncio.to_thread(self._store.posts, board.id, [delivery.post_id])
        post = posts[delivery.post_id]
        try:
            message = format_message(post, chat=delivery.chat, settings=board.message)
        except ValueError as e:
            await self._fail(delivery, f"message cannot be built: {e}", report)
            return
        if self._dry_run:
            await self._sender.send(message)
            self._printed.add(delivery.seq)
            return
        try:
            message_id = await self._sender.send(message)
        except PermanentDeliveryError as e:
            if e.migrate_to_chat_id is not None:
                new_chat = str(e.migrate_to_chat_id)
                moved = await asyncio.to_thread(self._store.move_chat, delivery.chat, new_chat)
                log.warning(
                    "board=%s chat=%s became supergroup %s: %d pending deliveries "
                    "follow it; update the config's chat to %s",
                    board.id,
                    delivery.chat,
                    new_chat,
                    moved,
                    new_chat,
                )
                return
            await self._fail(delivery, str(e), report)
            return
        except DeliveryError as e:
            delay = e.retry_after if e.retry_after is not None else backoff(delivery.attempts)
            not_before = self._now() + timedelta(seconds=delay)
            await asyncio.to_thread(self._store.mark_retry, delivery.seq, str(e), not_before)
            log.warning(
                "board=%s chat=%s post=%s not sent (%s): retry in %.0fs",
                board.id,
                delivery.chat,
                delivery.post_id,
                e.reason,
                delay,
            )
            report.errors.append(str(e))
            return
        await asyncio.to_thread(self._store.mark_sent, delivery.seq, self._now(), message_id)
        report.sent += 1
        self._on_sent(board.id)
        log.info(
            "board=%s chat=%s post=%s sent message=%s",
            board.id,
            delivery.chat,
            delivery.post_id,
            message_id,
        )

    async def _fail(self, delivery: Delivery, error: str, report: DrainReport) -> None:
        await asyncio.to_thread(self._store.mark_failed, delivery.seq, error)
        report.failed += 1
        report.errors.append(error)
        self._on_failed(delivery.board_id)
        log.error(
            "board=%s chat=%s post=%s delivery failed: %s (relay retry puts it back)",
            delivery.board_id,
            delivery.chat,
            delivery.post_id,
            error,
        )
