"""Logging for a service under systemd: one line per event on stderr, secrets redacted.

journald stamps each line with the time, so the format is `LEVEL logger: message`.

The bot token travels inside URLs (`https://api.telegram.org/bot<token>/sendMessage`), and
httpx logs every request URL at INFO, PTB logs its base URL at DEBUG, and network errors quote
URLs. A `logging.Filter` only sees the message, not the traceback a `log.exception` adds, so
redaction happens twice: a Filter on the handler cleans the record (for any handler after
ours), and the Formatter cleans the finished text, traceback included.

Logging is process-wide by nature; so are the secrets registered here.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "<redacted>"
FORMAT = "%(levelname)s %(name)s: %(message)s"
# httpx and httpcore log every request URL, token and all; APScheduler logs two INFO lines
# per job run, which at one job per board would drown the relay's own one line per poll.
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler")

# Telegram bot tokens: "<bot id>:<35 url-safe characters>", alone or after /bot in a URL.
_TOKEN_PATTERNS = (
    re.compile(r"bot\d+:[A-Za-z0-9_-]+"),
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"),
)
_MIN_SECRET = 4  # shorter "secrets" would blank out ordinary words


class Redactor:
    """Replaces every registered secret and anything shaped like a bot token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add(self, secret: str) -> None:
        if len(secret) < _MIN_SECRET:
            return
        with self._lock:
            forms = {secret, quote(secret, safe=""), quote(secret)}
            # longest first, so a secret that contains another is removed whole
            self._secrets = tuple(sorted(set(self._secrets) | forms, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = _TOKEN_PATTERNS[0].sub("bot" + REDACTED, text)
        return _TOKEN_PATTERNS[1].sub(REDACTED, text)


_REDACT = Redactor()


class RedactingFilter(logging.Filter):
    """Renders the record's message once, redacted, so no later handler sees the secret."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's error path
            return True
        record.msg, record.args = self._redact(message), None
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line, including exception text and stack info."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(FORMAT)
        self._redact = redact

    def formatException(self, ei: object) -> str:
        return self._redact(super().formatException(ei))  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:
        return self._redact(super().formatStack(stack_info))

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (pytest swaps it; so may a daemon)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def add_secret(secret: str) -> None:
    """Redact `secret` from every log line from now on (e.g. a token read after startup)."""
    _REDACT.add(secret)


def setup_logging(level: str = "INFO", *, secrets: Iterable[str] = ()) -> None:
    """Log `level` and above to stderr, one line per event. Safe to call again."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR")
    for secret in secrets:
        add_secret(secret)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(_REDACT))
    handler.addFilter(RedactingFilter(_REDACT))
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric))
