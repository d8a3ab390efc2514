"""One relay process per state file: an exclusive advisory lock (flock) beside it.

Two processes on one state would announce the same posts twice. The kernel drops the lock
when the process dies, so a crash (even kill -9) never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from relay.core.errors import StateError


class StateLock:
    """An exclusive advisory lock next to the state file: one relay process per state.

    Two processes on one state would announce the same posts twice.
    """

    def __init__(self, state_path: Path) -> None:
        self.path = state_path.with_name(state_path.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StateError(
                f"{self.path.with_suffix('')}: in use by {holder}: only one relay may run on a "
                "state file (both would announce the same posts)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
