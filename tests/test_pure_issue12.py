"""The pure building blocks of issue 12 stay pure: importing them loads no I/O library.

The same check as test_layers.py's, for the modules added since its PURE list was written
(fold them into that list when the pieces are wired in)."""

from __future__ import annotations

import subprocess
import sys

from test_layers import IO_LIBRARIES

NEW_PURE = [
    "relay.core.sanitize",
    "relay.core.opml",
    "relay.core.jsonfeed",
    "relay.core.quiet",
    "relay.core.sparkline",
    "relay.core.statuspage",
]


def test_new_pure_modules_import_no_io_library() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in NEW_PURE)
        + f"print(','.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
