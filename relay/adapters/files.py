"""Replace a file atomically, so a web server or feed reader never sees a half-written feed.

A reader sees the old bytes or the new bytes, never a mix, and after a crash or power cut the
file is one or the other: temp file in the same folder (same filesystem, so the rename is
atomic), fsync, os.replace, fsync of the folder (which makes the rename itself durable).
Unchanged bytes are not rewritten at all, so the file's mtime (and a web server's
Last-Modified/ETag) moves only when the feed does. Knows nothing of Atom.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from relay.core.errors import FeedWriteError

FILE_MODE = 0o644  # mkstemp makes 0600, which a web server running as another user cannot read


def write_atomically(path: Path, data: bytes) -> bool:
    """Make `path` hold `data`. Return False (file untouched) if it already did, True if written.

    Raises FeedWriteError, naming the path and the OS reason, when the file cannot be replaced
    (disk full, read-only, no permission); the old file is then intact and no temp file is left.
    """
    if _holds(path, data):
        return False
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise _error(path, e) from e
    try:
        with open(fd, "wb") as tmp:
            os.fchmod(tmp.fileno(), FILE_MODE)
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException as e:
        # BaseException too: a KeyboardInterrupt or cancellation must not leave temp files.
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise _error(path, e) from e
        raise
    _fsync_folder(path)
    return True


def _holds(path: Path, data: bytes) -> bool:
    """Whether `path` already has exactly `data`. Unreadable counts as "no": the write that
    follows reports the real problem."""
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def _fsync_folder(path: Path) -> None:
    """Make the rename durable. The new file is already in place when this runs, so a failure
    is reported as such; a filesystem that cannot fsync a directory (EINVAL) is not a failure."""
    try:
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        if e.errno == errno.EINVAL:
            return
        raise FeedWriteError(
            f"feed {path} was replaced but may not survive a crash: "
            f"cannot fsync its folder: {e.strerror or e}"
        ) from e


def _error(path: Path, e: OSError) -> FeedWriteError:
    return FeedWriteError(
        f"cannot write feed {path}: {e.strerror or e}; the previous file, if any, is unchanged"
    )
