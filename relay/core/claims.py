"""Which deliveries this instance may send, and the chats' pace when several instances send.
Protocols, a record and the single-owner implementation; pure (no storage library).

A state that one process owns (SQLite, under its file lock) needs no claim: `OwnedQueue`
hands the delivery worker the whole queue, exactly as it read it before claims existed, and
the pace stays in the courier's memory. A shared state (PostgreSQL) implements
`DeliveryClaims` with rows:

- claims are **per chat**: an instance claims every pending delivery of a chat that no live
  claim of another instance holds, oldest first, so a chat's order holds across instances
  (only one of them sends to it at a time), and a digest sees the chat's whole backlog;
- a claim has an expiry of its own, judged by the state's clock; `claim` renews this
  instance's claims each time the worker reads its queue (also while it waits out a long
  429), booking a request to a chat renews the chat's (so a claim outlives the request it
  covers), and `release` hands them back at a clean stop. A crashed instance's claims expire
  and another instance sends them: the one message that was in flight at the crash may go
  twice, which is the "at most one duplicate per crash" of a single process too;
- marking a delivery sent, retried or failed releases its claim (the state's mark_* calls);
- an instance claims at most its share of the chats (those with pending deliveries divided
  by the instances alive), so that several instances send side by side.

`ChatPace` is the per-chat pace of Telegram kept where every instance reads it (a row per
chat with the time its next message may go), so that a handover, an edit sent by another
instance, or a 429's `retry_after` holds the chat for every instance, not just for the one
that heard it. Times are seconds from now by the state's clock, which keeps one machine's
clock step out of the pace.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from relay.core.state import Delivery, DeliveryQueue, Edit

Boards = Collection[str] | None  # the boards whose deliveries to claim; None: every board


class DeliveryClaims(Protocol):
    """What the delivery worker may send. Every call is one short transaction (run it in a
    worker thread)."""

    def claim(self, boards: Boards = None) -> list[Delivery]:
        """The pending deliveries this instance holds, oldest first: its claims renewed, and
        the chats no live claim of another instance holds claimed. Only deliveries of
        `boards` (None: any), the boards this instance has in its config: instances with
        different board lists each send their own boards' posts, a chat passing between
        them as each one's pending deliveries are sent, rather than one holding a chat whose
        posts it cannot build."""
        ...

    def claim_edits(self, boards: Boards = None) -> list[Edit]:
        """The queued edits this instance holds (claimed the same way), oldest first."""
        ...

    def release(self) -> None:
        """A clean stop: hand every claim back, so that others need not wait for expiry."""
        ...


@dataclass(frozen=True, slots=True)
class Slot:
    """The answer to booking a chat's next message: `booked` and go after `wait` seconds
    (the bot-wide spacing, a fraction of a second), or not booked and `wait` seconds until
    the chat is free (another instance's message, a 429's retry_after)."""

    booked: bool
    wait: float


class ChatPace(Protocol):
    """Telegram's pace per chat (and per bot), shared by every instance on the state."""

    def book(self, chat: str, hold: float) -> Slot:
        """Take the chat's next slot when it is free (holding it `hold` seconds while the
        request is under way), and the bot's next slot with it."""
        ...

    def answered(self, chat: str, spacing: float) -> None:
        """Telegram answered: the chat's next message goes `spacing` seconds from now (the
        pace counts from the answer, as the courier's own does)."""
        ...

    def hold(self, chat: str, seconds: float) -> None:
        """Telegram asked for a wait (429 retry_after): nobody sends to the chat before it."""
        ...

    def waiting(self, chat: str) -> float:
        """Seconds before the chat is free, as last read or booked; from memory (it is asked
        for every pending delivery on every pass of the drain)."""
        ...


class OwnedQueue:
    """`DeliveryClaims` for a state this process owns alone: everything pending is this
    process's; nothing is written, nothing to hand back."""

    def __init__(self, queue: DeliveryQueue) -> None:
        self._queue = queue

    def claim(self, boards: Boards = None) -> list[Delivery]:
        return self._queue.pending_deliveries()  # all: the worker waits out unknown boards

    def claim_edits(self, boards: Boards = None) -> list[Edit]:
        return self._queue.pending_edits()

    def release(self) -> None:
        return None
