"""Which polls may run now: at most `concurrency` at once, and one per host at a time.

The fetcher already sends one request at a time to a host, `host_delay` apart. A second
poll of a busy host would only wait for it — while holding one of the `concurrency` slots.
When many boards of a few hosts come due together (a start, a takeover, boards polled one
after another by `relay once`), those waiting polls took every slot and the other hosts sat
idle: the first round at 1,000 simulated boards (20 per host) took several intervals. So a
poll first waits for its host's turn, without a slot, and only then for a slot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit


class PollGate:
    """Admission of polls (see the module docstring)."""

    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def admit(self, url: str) -> AsyncIterator[None]:
        """Hold the poll of the board at `url` until its host is free and a slot is."""
        host = urlsplit(url).netloc.lower()  # as the fetcher spaces its requests
        async with self._hosts.setdefault(host, asyncio.Lock()), self._slots:
            yield
