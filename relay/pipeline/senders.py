"""What the delivery worker sends through, and what a drain reports.

`Sender` is the Bot API seen from the pipeline (the courier is one, `DryRunSender` another);
`Editor` (relay.pipeline.edits) the optional edits of sent messages.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from relay.core.models import OutgoingMessage


class Sender(Protocol):
    async def send(self, msg: OutgoingMessage) -> int: ...

    def pace_delay(self, chat: str) -> float: ...


class DryRunSender:
    """Prints each message (and each edit) instead of sending it; deliveries and edits stay
    queued (nothing was sent)."""

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

    async def edit(self, msg: OutgoingMessage, message_id: int, *, caption: bool) -> None:
        out = self._out or sys.stdout
        what = "caption of" if caption else "message"
        print(
            f"--- dry run: edit {msg.chat} {what} {message_id} ---\n{msg.text}\n",
            file=out,
            flush=True,
        )


@dataclass
class DrainReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0  # still pending at the end (flood limits, backoff, deadline)
    next_due: float | None = None  # seconds until the next pending delivery may go
    edited: int = 0  # sent messages brought up to date (their post was retitled)
    errors: list[str] = field(default_factory=list)


class CutOff(Exception):
    """A send cut off by the drain's deadline: the delivery stays pending."""


@dataclass
class Progress:
    """When a waiting drain says how far it is: once it has gone on (or faces a wait) for
    half of `every` seconds, then at most every `every` seconds."""

    started: float  # loop time
    every: float
    last: float | None = None

    def due(self, now: float, wait: float) -> bool:
        if now - self.started < self.every / 2 and wait < self.every / 2:
            return False
        if self.last is not None and now - self.last < self.every:
            return False
        self.last = now
        return True
