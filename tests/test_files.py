"""relay.adapters.files.write_atomically: a feed file is replaced whole or not at all.

Failures are real where the OS lets an unprivileged test make them (a file size limit set with
RLIMIT_FSIZE in a child process, a folder that is a file, a read-only folder when not root);
ENOSPC and EROFS at the rename are injected by making the os calls themselves fail.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import as_unprivileged

from relay.adapters import files
from relay.adapters.files import write_atomically
from relay.core.errors import FeedWriteError

OLD = b"<feed>old</feed>\n"
NEW = b"<feed>new \xed\x95\x9c</feed>\n" * 100


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_creates_the_folder_and_a_world_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "feeds" / "deep" / "ranknews.atom"
    assert write_atomically(path, NEW) is True
    assert path.read_bytes() == NEW
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert listing(path.parent) == ["ranknews.atom"]


def test_mode_is_0644_whatever_the_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        write_atomically(tmp_path / "f.atom", NEW)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "f.atom").stat().st_mode) == 0o644


def test_same_bytes_leave_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "f.atom"
    path.write_bytes(NEW)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = path.stat()
    assert write_atomically(path, NEW) is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_same_size_different_bytes_are_written(tmp_path: Path) -> None:
    path = tmp_path / "f.atom"
    path.write_bytes(b"a" * 10)
    assert write_atomically(path, b"b" * 10) is True
    assert path.read_bytes() == b"b" * 10


def test_different_bytes_replace_the_file_by_rename(tmp_path: Path) -> None:
    path = tmp_path / "f.atom"
    path.write_bytes(OLD)
    old_inode = path.stat().st_ino
    assert write_atomically(path, NEW) is True
    assert path.read_bytes() == NEW
    assert path.stat().st_ino != old_inode  # a new file renamed over, not rewritten in place
    assert listing(tmp_path) == ["f.atom"]


def test_a_reader_holding_the_old_file_still_reads_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "f.atom"
    path.write_bytes(OLD)
    with path.open("rb") as reader:
        write_atomically(path, NEW)
        assert reader.read() == OLD
    assert path.read_bytes() == NEW


def test_file_size_limit_fails_cleanly(tmp_path: Path) -> None:
    """A real short write: RLIMIT_FSIZE makes write() fail with EFBIG in a child process."""
    path = tmp_path / "f.atom"
    path.write_bytes(OLD)
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from pathlib import Path
        from relay.core.errors import FeedWriteError
        from relay.adapters.files import write_atomically
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(OLD) + 10}, {len(OLD) + 10}))
        try:
            write_atomically(Path({str(path)!r}), {NEW!r})
        except FeedWriteError as e:
            print(e)
            sys.exit(3)
        """
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=30
    )
    assert done.returncode == 3, done.stderr
    assert str(path) in done.stdout
    assert os.strerror(errno.EFBIG) in done.stdout
    assert path.read_bytes() == OLD
    assert listing(tmp_path) == ["f.atom"]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        pytest.param("fsync", errno.ENOSPC, id="fsync-disk-full"),
        pytest.param("replace", errno.EROFS, id="rename-read-only"),
    ],
)
def test_os_failure_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str, code: int
) -> None:
    path = tmp_path / "f.atom"
    path.write_bytes(OLD)

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files.os, call, fail)
    with pytest.raises(FeedWriteError) as caught:
        write_atomically(path, NEW)
    monkeypatch.undo()
    assert str(path) in str(caught.value)
    assert os.strerror(code) in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)
    assert path.read_bytes() == OLD
    assert listing(tmp_path) == ["f.atom"]


def test_an_interrupt_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.atom"

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, NEW)
    monkeypatch.undo()
    assert listing(tmp_path) == []


def test_a_folder_that_is_a_file_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "feeds"
    blocker.write_bytes(b"not a folder")
    with pytest.raises(FeedWriteError, match="feeds/f.atom"):
        write_atomically(blocker / "f.atom", NEW)
    assert blocker.read_bytes() == b"not a folder"


def test_a_path_that_is_a_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "f.atom").mkdir()
    (tmp_path / "f.atom" / "keep").write_bytes(OLD)
    with pytest.raises(FeedWriteError, match="f.atom"):
        write_atomically(tmp_path / "f.atom", NEW)
    assert listing(tmp_path) == ["f.atom"]
    assert (tmp_path / "f.atom" / "keep").read_bytes() == OLD


def test_read_only_folder_is_reported(tmp_path: Path) -> None:
    """Run in a child without root's override capabilities (the tests run as root, and root
    writes into read-only folders)."""
    path = tmp_path / "f.atom"
    path.write_bytes(OLD)
    tmp_path.chmod(0o555)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from relay.adapters.files import write_atomically\n"
        "from relay.core.errors import FeedWriteError\n"
        "try:\n"
        f"    write_atomically(Path({str(path)!r}), {NEW!r})\n"
        "except FeedWriteError as e:\n"
        "    print(e)\n"
        "    sys.exit(3)\n"
    )
    try:
        child = subprocess.run(
            as_unprivileged([sys.executable, "-c", code]), capture_output=True, text=True
        )
    finally:
        tmp_path.chmod(0o755)
    assert child.returncode == 3, child.stderr
    assert os.strerror(errno.EACCES) in child.stdout
    assert path.read_bytes() == OLD
    assert listing(tmp_path) == ["f.atom"]
