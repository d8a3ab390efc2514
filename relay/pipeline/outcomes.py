"""What a send's answer does to the queue: recorded sent, kept for a retry, failed for good, or
followed to the supergroup a group became. Shared by single messages and digests.

Every state call runs in a worker thread and any failure of it becomes a StateError that
says what could not be done. A send the state refused to record is remembered here (by seq)
and recorded before anything else is sent: this process never sends it again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, ParamSpec, TypeVar

from relay.core.backoff import FLOOD_WAIT_CAP, BackoffPolicy, clamp_retry_after
from relay.core.errors import DeliveryError, PermanentDeliveryError, StateError
from relay.core.state import Delivery, State
from relay.pipeline.senders import CutOff, DrainReport

log = logging.getLogger("relay.pipeline.deliver")

Answer = Literal["sent", "moved", "not sent"]
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(slots=True)
class Outcomes:
    """Records what Telegram answered. `now` is the wall clock the queue's `not_before` is
    written in; `monotonic` times the retries this process set itself (`retry_at`), so a
    wall-clock step cannot stretch a backoff; `rng` draws the backoff's jitter."""

    store: State
    now: Callable[[], datetime]
    monotonic: Callable[[], float]
    rng: random.Random
    policy: BackoffPolicy
    on_sent: Callable[[str], None]
    on_failed: Callable[[str], None]
    retry_at: dict[int, float] = field(default_factory=dict)  # seq -> monotonic retry time
    # Sent, but the state refused to record it: (sent at, message id, sent as) by seq.
    _unmarked: dict[int, tuple[datetime, int, str]] = field(default_factory=dict)

    async def state(self, what: str, call: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
        """Run one state call in a thread; any failure becomes a StateError saying what."""
        try:
            return await asyncio.to_thread(call, *args, **kw)
        except Exception as e:  # sqlite3's errors, or another state's: the pipeline knows none
            raise StateError(
                f"state {self.store.location}: cannot {what}: {type(e).__name__}: {e}"
            ) from e

    async def send_and_record(
        self,
        send: Callable[[], Awaitable[tuple[int, str]]],
        carried: list[Delivery],
        report: DrainReport,
        where: str,
        *,
        failure: str = "",
    ) -> Answer:
        """Make one send (`send()` gives the message id and how it went) of the deliveries it
        carries, and record Telegram's answer: "sent"; "moved" when the chat became a
        supergroup (its deliveries follow it, and may go at once); "not sent" when it was cut
        off at the drain's deadline, failed for good (each carried delivery failed, its error
        after `failure`) or is to be retried (the first carried one holds the chat)."""
        first = carried[0]
        try:
            message_id, sent_as = await send()
        except CutOff:
            return "not sent"
        except PermanentDeliveryError as e:
            if e.migrate_to_chat_id is not None:
                await self.follow(first, str(e.migrate_to_chat_id), first.board_id)
                return "moved"
            for delivery in carried:
                await self.fail(delivery, f"{failure}{e}", report)
            return "not sent"
        except DeliveryError as e:
            await self.retry_later(first, e, report, where)
            return "not sent"
        await self.sent(carried, message_id, sent_as, report, where)
        return "sent"

    async def sent(
        self,
        deliveries: list[Delivery],
        message_id: int,
        sent_as: str,
        report: DrainReport,
        where: str,
    ) -> None:
        """Record a send: every delivery it carried, in one transaction."""
        sent_at = self.now()
        report.sent += len(deliveries)
        for delivery in deliveries:
            self.on_sent(delivery.board_id)
        log.info("%s sent message=%s", where, message_id)
        seqs = [d.seq for d in deliveries]
        what = f"mark {where} sent (it was, message={message_id}; it is not sent again)"
        try:
            if len(seqs) > 1 or sent_as == "digest":
                await self.state(
                    what, self.store.mark_sent_many, seqs, sent_at, message_id, sent_as
                )
            else:
                await self._mark_sent(what, seqs[0], sent_at, message_id, sent_as)
        except StateError:
            for seq in seqs:
                self._unmarked[seq] = (sent_at, message_id, sent_as)
            raise

    async def record_unmarked(self) -> None:
        """Record the sends the state refused before; raises StateError while it still does."""
        for seq, (sent_at, message_id, sent_as) in list(self._unmarked.items()):
            what = f"mark delivery {seq} sent (it was, message={message_id}; it is not sent again)"
            await self._mark_sent(what, seq, sent_at, message_id, sent_as)
            del self._unmarked[seq]

    async def _mark_sent(
        self, what: str, seq: int, sent_at: datetime, message_id: int, sent_as: str
    ) -> None:
        await self.state(what, self.store.mark_sent, seq, sent_at, message_id, sent_as)

    async def follow(self, delivery: Delivery, new_chat: str, board_id: str) -> None:
        """The chat became a supergroup: its pending deliveries go to the new id."""
        moved = await self.state(
            f"move chat {delivery.chat}'s deliveries to {new_chat}",
            self.store.move_chat,
            delivery.chat,
            new_chat,
        )
        log.warning(
            "board=%s chat=%s became supergroup %s: %d pending deliveries "
            "follow it; update the config's chat to %s",
            board_id,
            delivery.chat,
            new_chat,
            moved,
            new_chat,
        )

    async def retry_later(
        self, delivery: Delivery, error: DeliveryError, report: DrainReport, where: str
    ) -> None:
        """Keep it pending until Telegram's wait (believed within [1 s, 24 h]) or the backoff's."""
        delay = clamp_retry_after(error.retry_after, FLOOD_WAIT_CAP)
        if delay is None:
            delay = self.policy.delay(delivery.attempts, self.rng)
        not_before = self.now() + timedelta(seconds=delay)
        self.retry_at[delivery.seq] = self.monotonic() + delay
        await self.state(
            f"record the retry of {where}",
            self.store.mark_retry,
            delivery.seq,
            str(error),
            not_before,
        )
        log.warning("%s not sent (%s): retry in %.0fs", where, error.reason, delay)
        report.errors.append(str(error))

    async def fail(self, delivery: Delivery, error: str, report: DrainReport) -> None:
        await self.state(
            f"mark delivery {delivery.seq} failed", self.store.mark_failed, delivery.seq, error
        )
        report.failed += 1
        report.errors.append(error)
        self.on_failed(delivery.board_id)
        log.error(
            "board=%s chat=%s post=%s delivery failed: %s (relay retry puts it back)",
            delivery.board_id,
            delivery.chat,
            delivery.post_id,
            error,
        )
