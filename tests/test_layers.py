"""The architecture, checked: the pure core imports no I/O library, and the code is lint- and
type-clean (ruff, mypy --strict) so that a slip fails the suite, not a later reader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
PURE = [
    "relay.core.models",
    "relay.core.errors",
    "relay.core.engines",
    "relay.core.text",
    "relay.core.parse",
    "relay.core.diff",
    "relay.core.atom",
    "relay.core.message",
    "relay.core.config",
    "relay.core.report",
    "relay.core.backoff",
    "relay.core.pace",
    "relay.core.status",
    "relay.core.preview",
    "relay.core.durations",
]
IO_LIBRARIES = ["httpx", "sqlite3", "telegram", "apscheduler", "aiohttp", "prometheus_client"]


def test_pure_modules_import_no_io_library() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in PURE)
        + f"print(','.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "relay", "tests", "bench"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
