"""A sender whose pace is kept in the shared state, so that it holds across instances.

Wraps the courier (whose own pacer keeps counting in memory) only when several instances may
send with one bot (a PostgreSQL state): before each request it books the chat's slot and
the bot's (relay.core.claims.ChatPace); after Telegram answered it writes when the chat's
next message may go, counted from the answer (relay.core.pace.shared_spacing); a 429 writes
its `retry_after`, so every instance waits it out, not only the one that was told.

A wait as short as the chat's own pace (the spacing after the last answer) is slept, as the
courier sleeps its own pace; a longer one (a request of another instance under way, a 429's
retry_after) is not: the send fails at once as a flood wait of that length, and the
delivery waits like after a 429.

A state that cannot book fails the send with a StateError (nothing is sent while the pace
is unknown); one that cannot record the answer only logs it: the message went, and its mark
must not be lost over the pace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, Protocol, TypeVar

from relay.core.backoff import FLOOD_WAIT_CAP, MIN_WAIT, clamp_retry_after
from relay.core.claims import ChatPace
from relay.core.errors import DeliveryError, StateError, TransientDeliveryError
from relay.core.models import OutgoingMessage
from relay.core.pace import Pace, shared_spacing
from relay.pipeline.edits import Editor
from relay.pipeline.senders import Sender

log = logging.getLogger("relay.pipeline.deliver")

IN_FLIGHT_HOLD = 20.0  # seconds a booked chat is held while its request is under way (the
# courier's timeout is 15 s): a crash mid-request frees the chat after this
P = ParamSpec("P")
T = TypeVar("T")


class _CourierLike(Sender, Editor, Protocol):
    pass


class SharedPaceSender:
    """`Sender` (and `Editor`) over `inner`, paced through `pace` (see the module docstring).
    `location` names the state in errors."""

    def __init__(self, inner: _CourierLike, pace: ChatPace, limits: Pace, location: str) -> None:
        self._inner = inner
        self._pace = pace
        self._limits = limits
        self._location = location

    def pace_delay(self, chat: str) -> float:
        return max(self._inner.pace_delay(chat), self._pace.waiting(chat))

    async def send(self, msg: OutgoingMessage) -> int:
        return await self._paced(msg.chat, self._inner.send, msg)

    async def edit(self, msg: OutgoingMessage, message_id: int, *, caption: bool) -> None:
        await self._paced(msg.chat, self._inner.edit, msg, message_id, caption=caption)

    async def _paced(
        self, chat: str, call: Callable[P, Awaitable[T]], *args: P.args, **kw: P.kwargs
    ) -> T:
        await self._book(chat)
        spacing = shared_spacing(chat, self._limits)
        try:
            result = await call(*args, **kw)
        except DeliveryError as e:
            wait = clamp_retry_after(e.retry_after, FLOOD_WAIT_CAP) if e.retry_after else None
            if wait is not None:
                await self._note("hold", chat, self._pace.hold, chat, wait)
            else:
                await self._note("record the answer for", chat, self._pace.answered, chat, spacing)
            raise
        except BaseException:
            # Cut off (the drain's deadline, a stop): the request may have arrived.
            self._note_later(chat, spacing)
            raise
        await self._note("record the answer for", chat, self._pace.answered, chat, spacing)
        return result

    async def _book(self, chat: str) -> None:
        """Book the chat's slot, sleeping out a wait as short as the chat's own pace (the
        courier sleeps those too); a longer one is a flood wait for the caller."""
        short = max(shared_spacing(chat, self._limits), MIN_WAIT)
        while True:
            try:
                slot = await asyncio.to_thread(self._pace.book, chat, IN_FLIGHT_HOLD)
            except Exception as e:  # the state's own errors: the pipeline knows none
                raise StateError(
                    f"state {self._location}: cannot book chat {chat}'s pace: "
                    f"{type(e).__name__}: {e}"
                ) from e
            if slot.booked:
                if slot.wait > 0:
                    await asyncio.sleep(slot.wait)  # the bot-wide spacing: a fraction of a second
                return
            if slot.wait > short:
                raise TransientDeliveryError(
                    f"chat {chat} is paced by another instance: free in {slot.wait:.1f} s",
                    reason="flood",
                    retry_after=slot.wait,
                )
            await asyncio.sleep(slot.wait)

    async def _note(
        self, what: str, chat: str, call: Callable[P, None], *args: P.args, **kw: P.kwargs
    ) -> None:
        try:
            await asyncio.to_thread(call, *args, **kw)
        except Exception as e:
            log.warning(
                "state %s: cannot %s chat %s's pace (%s: %s)",
                self._location,
                what,
                chat,
                type(e).__name__,
                e,
            )

    def _note_later(self, chat: str, spacing: float) -> None:
        """Record the answer from a worker thread without waiting for it: the task is being
        cancelled, and a state call must not block the event loop meanwhile."""
        try:
            future = asyncio.get_running_loop().run_in_executor(
                None, self._pace.answered, chat, spacing
            )
        except RuntimeError:  # the loop's executor is shut down: the process is ending
            return

        def logged(done: asyncio.Future[None]) -> None:
            if not done.cancelled() and done.exception() is not None:
                log.warning(
                    "state %s: cannot record chat %s's pace (%s)",
                    self._location,
                    chat,
                    done.exception(),
                )

        future.add_done_callback(logged)
