"""Noticing that the state file was deleted or replaced under a running relay.

SQLite keeps writing to the file it opened: if someone deletes `state.db` or puts another
file in its place, the running relay would carry on in an unlinked inode — every post it
records then vanishes at exit, and the new file is never announced from. The identity
(device, inode) taken at open is compared with what the path names now.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from relay.core.errors import StateError


@dataclass(frozen=True, slots=True)
class FileIdentity:
    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        info = os.stat(path)
        return cls(path, info.st_dev, info.st_ino)

    def check(self) -> None:
        """Raise StateError when the path no longer names the file that was opened."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            raise StateError(
                f"{self.path}: the state file was deleted while the relay was running; "
                "stopping (restore it, or start again on a new state)"
            ) from None
        except OSError as e:
            raise StateError(
                f"{self.path}: the state file cannot be checked: {e.strerror}"
            ) from None
        if (info.st_dev, info.st_ino) != (self.device, self.inode):
            raise StateError(
                f"{self.path}: the state file was replaced while the relay was running; "
                "stopping (the running relay would write into the old one)"
            )
