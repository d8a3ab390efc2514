"""One relay process per state: an exclusive advisory lock (flock) on the state's folder.

Two processes on one state would announce the same posts twice. The lock is taken on the
folder itself, not on a file beside the state: deleting a lock file (or the state file) must
not let a second `relay run` in. The kernel drops the lock when the process dies, so a crash
(even kill -9) never leaves a stale lock. One folder holds one state (systemd's
StateDirectory= gives each service its own). A note file names the holder for the error
message only; it is not the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from relay.core.errors import StartError, StateError


class StateLock:
    """The single-instance lock of a state. `acquire` raises StateError when it is held."""

    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        self.folder = state_path.parent
        self.note = state_path.with_name(state_path.name + ".lock")
        self._fd: int | None = None
        self._file_fd: int | None = None

    def acquire(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise StartError(f"{self.folder}: cannot use the state folder: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = "another process"
            with contextlib.suppress(OSError):
                holder = self.note.read_text(encoding="utf-8").strip() or holder
            raise StateError(
                f"{self.state_path}: in use by {holder}: only one relay may run on a state file "
                f"(the lock is on its folder {self.folder}; two would announce the same posts)"
            ) from None
        try:
            self.note.write_text(f"pid {os.getpid()}\n", encoding="utf-8")
            file_fd = os.open(self.state_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            os.close(fd)
            raise StartError(
                f"{self.folder}: the state folder is not writable: {e.strerror}"
            ) from None
        try:
            # The file too: a hard link to the state in another folder is the same inode.
            # (flock, not fcntl: SQLite's own POSIX locks on this file are not disturbed, and
            # this descriptor stays open until the state is closed.)
            fcntl.flock(file_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(file_fd)
            os.close(fd)
            raise StateError(
                f"{self.state_path}: in use by another relay through another path (a hard "
                "link): only one relay may run on a state file"
            ) from None
        self._fd = fd
        self._file_fd = file_fd

    def release(self) -> None:
        if self._file_fd is not None:
            os.close(self._file_fd)
            self._file_fd = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.note.unlink()
            os.close(self._fd)
            self._fd = None
