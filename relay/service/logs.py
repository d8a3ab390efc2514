"""Logging for a service under systemd: one line per event on stderr, secrets redacted.

journald stamps each line with the time, so the format is `LEVEL logger: message`.

What is redacted, in every line:
- every registered secret (the bot token), of any length, also percent-encoded;
- anything shaped like a bot token (`bot<digits>:...`, or `<digits>:<30+ url-safe characters>`),
  registered or not;
- the userinfo of any URL: `http://user:pass@host/` becomes `http://***@host/` (a board URL
  with credentials appears in fetch warnings and in httpx's error messages).

A secret of 8 characters or more is removed wherever it occurs. A shorter one would blank out
ordinary words if removed inside them, so it is removed where it stands alone: not inside a
longer run of token characters (letters, digits, `_`, `-`, `:`, `%`), except right after "bot"
as in the API's URL path (`/bot1:a/getMe`).

The bot token travels inside URLs (`https://api.telegram.org/bot<token>/sendMessage`), and
httpx logs every request URL at INFO, PTB logs its base URL at DEBUG, and network errors quote
URLs. A `logging.Filter` only sees the message, not the traceback a `log.exception` adds, so
redaction happens twice: a Filter on the handler cleans the record (message, traceback text and
stack, for any handler after ours), and the Formatter cleans the finished text, traceback
included. An exception nobody catches is logged through the same handler (sys.excepthook), so
its traceback is redacted too.

Logging is process-wide by nature; so are the secrets registered here.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TextIO
from urllib.parse import quote

# What logging hands formatException: sys.exc_info()'s triple.
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
REDACTED = "<redacted>"
USERINFO_REDACTED = "***"
FORMAT = "%(levelname)s %(name)s: %(message)s"
# httpx and httpcore log every request URL, token and all; APScheduler logs two INFO lines
# per job run, which at one job per board would drown the relay's own one line per poll.
QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler")

# Telegram bot tokens: "<bot id>:<35 url-safe characters>", alone or after /bot in a URL.
_TOKEN_PATTERNS = (
    re.compile(r"bot\d+:[A-Za-z0-9_-]+"),
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"),
)
# scheme://userinfo@ : the authority ends at the first / ? # or space; the last @ before it
# ends the userinfo (a password with a raw @ in it is still removed whole).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#\"<>]*@")
_REMOVE_ANYWHERE = 8  # secrets this long or longer; shorter ones only where they stand alone
_TOKEN_CHARS = r"A-Za-z0-9_:%-"


class Redactor:
    """Replaces every registered secret, anything shaped like a bot token, and URL userinfo."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secret: str) -> None:
        if not secret:
            return
        with self._lock:
            self._secrets |= {secret, quote(secret, safe=""), quote(secret)}
            # longest first, so a secret that contains another is removed whole
            forms = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(_secret_pattern(form) for form in forms))

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub(rf"\g<1>{USERINFO_REDACTED}@", text)  # first: it spans secrets
        pattern = self._pattern  # one read: add() may swap it from another thread
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        text = _TOKEN_PATTERNS[0].sub("bot" + REDACTED, text)
        return _TOKEN_PATTERNS[1].sub(REDACTED, text)


def _secret_pattern(form: str) -> str:
    if len(form) >= _REMOVE_ANYWHERE:
        return re.escape(form)
    alone_before = rf"(?:(?<=bot)|(?<![{_TOKEN_CHARS}]))"
    return rf"{alone_before}{re.escape(form)}(?![{_TOKEN_CHARS}])"


_REDACT = Redactor()


class RedactingFilter(logging.Filter):
    """Renders the record's message and traceback once, redacted, so no later handler sees
    the secret."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact
        self._plain = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's error path
            return True
        record.msg, record.args = self._redact(message), None
        if record.exc_info:
            # Formatters reuse exc_text when set (an earlier handler may have cached the raw
            # one): every handler after this one prints the clean text.
            text = record.exc_text or self._plain.formatException(record.exc_info)
            record.exc_text = self._redact(text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line, including exception text and stack info."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(FORMAT)
        self._redact = redact

    def formatException(self, ei: ExcInfo) -> str:
        return self._redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return self._redact(super().formatStack(stack_info))

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (pytest swaps it; so may a daemon)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def redact(text: str) -> str:
    """`text` with every registered secret and URL userinfo removed: for what the CLI prints
    to stderr without going through logging."""
    return _REDACT(text)


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
    # "Execution of job ... skipped: maximum number of running instances reached" is a
    # WARNING per fire while one poll runs long: by design (max_instances=1), not news.
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.ERROR, numeric))
    sys.excepthook = _log_uncaught


def _log_uncaught(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    """An exception that ends the process: its traceback through the redacting handler, not
    straight to stderr with the token in it."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    logging.getLogger("relay").critical(
        "uncaught %s, exiting", kind.__name__, exc_info=(kind, error, tb)
    )
