"""The Telegram bot token: its shape, and reading it from a file without trusting the file.

The token goes into every Bot API URL (`/bot<token>/sendMessage`), so its shape is checked
before any request: digits, a colon, then letters, digits, "_" or "-". Anything else — a
"/../" that would change the request path, a newline, a pasted quote — is refused, and no
error message ever shows the token.

The file is opened without blocking and checked to be a small regular file before it is read:
`token_file = "/dev/zero"` must not read forever, and a FIFO must not hang the start.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

MAX_TOKEN_FILE_BYTES = 1024  # a token is under 100 characters; a larger file is not a token
_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")


class TokenError(ValueError):
    """The token or its file cannot be used. The message never contains the token."""


def check_token(token: str) -> None:
    if not _TOKEN.fullmatch(token):
        raise TokenError(
            'is not a bot token (digits, ":", then letters, digits, "_" or "-"); '
            "the value is not shown"
        )


def read_token_file(path: Path) -> str:
    """The token in `path`, stripped and checked. Raises TokenError saying what is wrong."""
    token = read_secret_file(path).strip()
    if not token:
        raise TokenError("is empty")
    check_token(token)
    return token


def read_secret_file(path: Path, what: str = "token") -> str:
    """The text of a small secret file (a token, a password), as written. Raises TokenError
    saying what is wrong with the file, never what it holds."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise TokenError(e.strerror or str(e)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise TokenError("is not a regular file")
        data = b""
        while len(data) <= MAX_TOKEN_FILE_BYTES:
            chunk = os.read(fd, MAX_TOKEN_FILE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as e:
        raise TokenError(e.strerror or str(e)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise TokenError(f"is larger than {MAX_TOKEN_FILE_BYTES} bytes: not a {what} file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenError("is not UTF-8 text") from None
