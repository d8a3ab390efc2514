"""What a Bot API answer means, and whether a failed send is worth retrying. No I/O.

Two steps, each written once. `read_answer` reads the raw status and bytes of any answer:
PTB reads answers trustingly (a JSON `[1]` ends in an AttributeError, a `retry_after` of
1e308 in an OverflowError), so the courier's transport hands PTB only well-formed successes
and raises the error read here for everything else. `classify` then turns *any* exception
of a call (PTB's tree, `BadAnswer`, or whatever PTB raises reading a malformed `result`)
into a transient or permanent DeliveryError. A `retry_after` is believed within
[1 s, 24 h]; a non-finite one is the long wait.
"""

from __future__ import annotations

import json
import warnings
from datetime import timedelta
from typing import Any

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from relay.core.backoff import FLOOD_WAIT_CAP, MIN_WAIT, clamp_retry_after
from relay.core.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError


class ServerError(NetworkError):
    """A 5xx answer from the Bot API; PTB would drop the status code, which we report."""

    __slots__ = ("status",)

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _retry_after_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after in seconds, read without PTB 22's deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class BadAnswer(TelegramError):
    """An answer the Bot API does not give: not JSON, not an object, `ok` without a result,
    a 200 saying `ok: false`, a 429 without a usable wait. Proxies and outages send such."""


def _json_object(payload: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(payload.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None
    return answer if isinstance(answer, dict) else None


def _excerpt(payload: bytes, limit: int = 120) -> str:
    text = payload[: limit * 4].decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _is_bot_api_error(body: dict[str, Any] | None) -> bool:
    """`{"ok": false, ...}`: how the Bot API words every refusal (a proxy's page does not)."""
    return body is not None and body.get("ok") is False


def read_answer(status: int, payload: bytes) -> TelegramError | None:
    """What one raw Bot API answer means: None for a well-formed success, else the error.

    PTB reads answers trustingly (a JSON `[1]` or a `retry_after` of 1e308 end in an
    AttributeError or OverflowError); every answer is read here first, and PTB only ever
    sees well-formed successes. The error types are PTB's, so `classify` has one tree to
    sort; `BadAnswer` is the one added for answers no Bot API gives.
    """
    body = _json_object(payload)
    if 200 <= status <= 299:
        if body is None:
            return BadAnswer(f"HTTP {status} whose body is not a JSON object: {_excerpt(payload)}")
        if body.get("ok") is True:
            return None if "result" in body else BadAnswer(f"HTTP {status} with ok but no result")
        code = body.get("error_code")
        if not (isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599):
            return BadAnswer(f"HTTP {status} that is not ok: {_excerpt(payload)}")
        status = code  # an error wrapped in a 200: read it as its error_code says
    elif 400 <= status <= 499 and status != 429 and not _is_bot_api_error(body):
        # A refusal is permanent only when the Bot API itself says so: an HTML 404 or 401
        # from a proxy in front of a restarting self-hosted server must not fail every
        # pending message (nor blame the token).
        return BadAnswer(f"HTTP {status} that is not a Bot API answer: {_excerpt(payload)}")
    body = body or {}
    description = body.get("description")
    if isinstance(description, str) and description:
        detail = f"HTTP {status}: {description}"
    else:
        description = detail = f"HTTP {status} without a description: {_excerpt(payload)}"
    parameters = body.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    migrate_to = parameters.get("migrate_to_chat_id")
    if isinstance(migrate_to, int) and not isinstance(migrate_to, bool) and migrate_to:
        return ChatMigrated(migrate_to)
    if status == 429 or "retry_after" in parameters:
        wait = clamp_retry_after(parameters.get("retry_after"), FLOOD_WAIT_CAP)
        if wait is not None:
            with warnings.catch_warnings():  # PTB 22.2+ warns when one is built
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                return RetryAfter(timedelta(seconds=wait))
        if status == 429:
            raw = parameters.get("retry_after")
            return BadAnswer(f"HTTP 429 without a usable retry_after ({raw!r:.40}): {description}")
    if status == 403:
        return Forbidden(description)
    if status in (401, 404):
        return InvalidToken(description)
    if status == 400:
        return BadRequest(description)
    if status >= 500:
        return ServerError(detail, status)
    return NetworkError(detail)


def classify(exc: Exception, *, chat: str) -> DeliveryError:
    """Transient or permanent, decided once, for *any* failure of a call to the Bot API.

    Order matters: BadRequest and TimedOut are NetworkErrors, so they are tested before
    NetworkError. Whatever is not a TelegramError (PTB reading a malformed `result` raises
    KeyError, TypeError …) is a transient bad answer: retried with backoff, never fatal.
    """
    if not isinstance(exc, TelegramError):
        return TransientDeliveryError(
            f"unreadable answer from Telegram for chat {chat} ({type(exc).__name__}: "
            f"{str(exc)[:200]}; the message may have been delivered)",
            reason="bad answer",
        )
    if isinstance(exc, RetryAfter):
        seconds = clamp_retry_after(_retry_after_seconds(exc), FLOOD_WAIT_CAP) or MIN_WAIT
        return TransientDeliveryError(
            f"Telegram flood control for chat {chat}: retry after {seconds:g} s",
            reason="flood",
            retry_after=seconds,
        )
    if isinstance(exc, BadAnswer):
        return TransientDeliveryError(
            f"malformed answer from Telegram for chat {chat}: {exc.message}", reason="bad answer"
        )
    if isinstance(exc, ChatMigrated):
        return PermanentDeliveryError(
            f"chat {chat} was upgraded to a supergroup; its new id is {exc.new_chat_id}:"
            " put that in the config",
            reason="chat migrated",
            migrate_to_chat_id=exc.new_chat_id,
        )
    if isinstance(exc, InvalidToken):
        code = 404 if "not found" in exc.message.lower() else 401
        return PermanentDeliveryError(
            f"the Telegram token was rejected ({code} {exc.message}): check the bot token",
            reason="unauthorized",
        )
    if isinstance(exc, Forbidden | BadRequest):
        return PermanentDeliveryError(
            f"Telegram refused the message to chat {chat}: {exc.message}", reason=exc.message
        )
    if isinstance(exc, TimedOut):
        return TransientDeliveryError(
            f"Telegram timed out for chat {chat} (the message may have been delivered)",
            reason="timeout",
        )
    if isinstance(exc, ServerError):
        return TransientDeliveryError(
            f"Telegram failed for chat {chat}: {exc.message}", reason=f"http {exc.status}"
        )
    if isinstance(exc, NetworkError):
        return TransientDeliveryError(
            f"network error talking to Telegram for chat {chat}: {exc.message}",
            reason="network",
        )
    return TransientDeliveryError(
        f"unexpected Telegram answer for chat {chat}: {exc.message}", reason="telegram"
    )
