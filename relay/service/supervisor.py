"""Long-lived tasks under an owner that sees them die (Erlang's supervisors, in a few lines).

Every task of `relay run` that should live as long as the service (the delivery worker, the
scheduler's guard, the watchdog) runs here. When one ends unexpectedly — an exception, or a
return while the service is not stopping — the supervisor logs it once with its traceback
(the log formatter redacts secrets), counts it, and starts it again after a backoff. A task
that keeps dying (more than `max_restarts` within `window` seconds) is given up: it is named
in `failed`, which `/healthz` reports as 503, and `gave_up` is set so that the service exits
non-zero and systemd restarts the whole process. A task never dies in silence.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from relay.core.errors import RelayError

log = logging.getLogger("relay.supervisor")

TaskFactory = Callable[[], Coroutine[Any, Any, None]]
RESTART_BASE, RESTART_CAP = 1.0, 30.0  # seconds: 1, 2, 4 ... 30 between restarts


class Supervisor:
    """Starts named tasks, restarts them when they die, and escalates when that does not help."""

    def __init__(
        self,
        *,
        monotonic: Callable[[], float],
        stopping: asyncio.Event | None = None,
        on_restart: Callable[[str], None] = lambda name: None,
        max_restarts: int = 5,
        window: float = 300.0,
    ) -> None:
        self._monotonic = monotonic
        self._on_restart = on_restart
        self._max_restarts = max_restarts
        self._window = window
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._deaths: dict[str, deque[float]] = {}
        self.failed: dict[str, str] = {}  # task name -> why it was given up
        self.gave_up = asyncio.Event()
        self._stop_requested = stopping or asyncio.Event()  # the service's own stop signal

    def start(self, name: str, factory: TaskFactory) -> None:
        """Run `factory()` as task `name`, for as long as the supervisor is not stopped."""
        self._tasks[name] = asyncio.create_task(self._keep(name, factory), name=name)

    @property
    def _stopping(self) -> bool:
        return self._stop_requested.is_set()

    async def _keep(self, name: str, factory: TaskFactory) -> None:
        deaths = self._deaths.setdefault(name, deque())
        while not self._stopping:
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the point of a supervisor: any failure, seen and handled
                if self._stopping:
                    return
                if isinstance(e, RelayError):  # a fault relay named (the state's server
                    log.error("task %s died: %s", name, e)  # down): its message says it all
                else:  # a bug: the traceback is what finds it
                    log.exception("task %s died: %s", name, e)
                why = f"{type(e).__name__}: {e}"
            else:
                if self._stopping or name in self.failed:  # stopped, or escalated itself
                    return
                log.error("task %s ended although the service is running", name)
                why = "ended unexpectedly"
            self._on_restart(name)
            now = self._monotonic()
            deaths.append(now)
            while deaths and deaths[0] < now - self._window:
                deaths.popleft()
            if len(deaths) > self._max_restarts:
                self.failed[name] = f"{why} ({len(deaths)} times in {self._window:g}s)"
                log.critical("task %s given up after %d restarts: %s", name, len(deaths), why)
                self.gave_up.set()
                return
            delay = min(RESTART_CAP, RESTART_BASE * 2.0 ** (len(deaths) - 1))
            log.warning("task %s restarts in %.0fs", name, delay)
            await asyncio.sleep(delay)

    def give_up(self, name: str, why: str) -> None:
        """Escalate at once, without restarts: for a fault no restart can mend (the state
        file replaced under the service)."""
        self.failed[name] = why
        log.critical("%s: %s", name, why)
        self.gave_up.set()

    async def stop(self, timeout: float) -> None:
        """Stop restarting; wait up to `timeout` for the tasks to end by themselves, then
        cancel what is left."""
        self._stop_requested.set()
        tasks = [t for t in self._tasks.values() if not t.done()]
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
