"""The Telegram adapter: sends an OutgoingMessage through the Bot API and says how it failed.

The only module that imports python-telegram-bot, used as a plain Bot API client (no
`Application`, no polling). It paces sends to Telegram's limits, but it never sleeps out a
429: a retry_after can be twelve hours, so the error goes back to the caller, which keeps the
delivery pending. Every failure is classified in `classify`, once.

The token is a secret. It appears in no error message or repr made here; PTB's own leaks
(its "Bot API URL" debug line, `repr(Bot)`, the InvalidToken that `Bot.initialize` raises
with the token inside) are avoided or left to relay.service.logs' redaction.
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
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
from telegram.request import HTTPXRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

from relay.core.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from relay.core.models import OutgoingMessage

DEFAULT_API_URL = "https://api.telegram.org"


@dataclass(frozen=True, slots=True)
class Pace:
    """Telegram's sending limits (core.telegram.org/bots/faq, "broadcasting to users").

    Zero in a field turns that limit off (tests do, to run fast).
    """

    per_chat_interval: float = 1.0  # seconds between two messages to one chat
    group_max: int = 20  # messages to one group or channel ...
    group_period: float = 60.0  # ... per this many seconds
    bot_max: int = 30  # messages from the bot to all chats ...
    bot_period: float = 1.0  # ... per this many seconds


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


class _BotApiRequest(HTTPXRequest):
    """PTB's HTTPX transport, raising for 429 and 5xx itself.

    PTB 22.2+ warns when a RetryAfter is *constructed* (not only when read), so under
    warnings-as-errors PTB's own 429 handling raises the warning instead; here the RetryAfter
    is built with that warning silenced. And for 5xx PTB keeps only the description; here the
    status code survives for the caller's "http 502" reason.
    """

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        status, payload = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        if status == 429 or status >= 500:
            try:
                answer = json.loads(payload)
            except ValueError:
                answer = {}
            answer = answer if isinstance(answer, dict) else {}
            retry_after = (answer.get("parameters") or {}).get("retry_after")
            if status == 429 and isinstance(retry_after, int):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", PTBDeprecationWarning)
                    raise RetryAfter(retry_after)
            if status >= 500:
                description = answer.get("description") or "no description"
                raise ServerError(f"HTTP {status}: {description}", status)
        return status, payload


def classify(exc: TelegramError, *, chat: str) -> DeliveryError:
    """Transient or permanent, decided once. Order matters: BadRequest and TimedOut are
    NetworkErrors, so they are tested before NetworkError."""
    if isinstance(exc, RetryAfter):
        seconds = _retry_after_seconds(exc)
        return TransientDeliveryError(
            f"Telegram flood control for chat {chat}: retry after {seconds:g} s",
            reason="flood",
            retry_after=seconds,
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


class _Window:
    """At most `limit` events per sliding `period` seconds."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period
        self.stamps: deque[float] = deque()

    def delay(self, now: float) -> float:
        while self.stamps and self.stamps[0] <= now - self.period:
            self.stamps.popleft()
        if self.limit <= 0 or self.period <= 0 or len(self.stamps) < self.limit:
            return 0.0
        return self.stamps[0] + self.period - now


class Pacer:
    """Waits until a message to `chat` fits every limit of `Pace`, then takes its slot."""

    def __init__(self, pace: Pace, clock: Callable[[], float] = time.monotonic) -> None:
        self._pace, self._clock = pace, clock
        self._bot = _Window(pace.bot_max, pace.bot_period)
        self._chats: dict[str, _Window] = {}
        self._groups: dict[str, _Window] = {}

    def _windows(self, chat: str) -> list[_Window]:
        pace = self._pace
        windows = [self._bot]
        windows.append(self._chats.setdefault(chat, _Window(1, pace.per_chat_interval)))
        if chat.startswith(("@", "-")):  # channels and groups; positive ids are users
            windows.append(
                self._groups.setdefault(chat, _Window(pace.group_max, pace.group_period))
            )
        return windows

    def delay(self, chat: str) -> float:
        """Seconds until a message to `chat` would fit every limit (0: now); books nothing."""
        now = self._clock()
        return max(window.delay(now) for window in self._windows(chat))

    async def acquire(self, chat: str) -> None:
        windows = self._windows(chat)
        while True:
            now = self._clock()
            wait = max(window.delay(now) for window in windows)
            if wait <= 0:  # no await between the check and the booking: no other task interleaves
                for window in windows:
                    window.stamps.append(now)
                return
            await asyncio.sleep(wait)


class Courier:
    """Sends messages to Telegram. `async with Courier(token) as courier: ...`.

    Entering opens the HTTP client and does not call getMe, so an unreachable Telegram cannot
    stop the rest of the service from starting; call `check()` to verify the token.
    """

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        pace: Pace | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._token = token
        self.api_url = api_url.rstrip("/")
        self._request = _BotApiRequest(
            connection_pool_size=8,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        self._bot = Bot(
            token,
            base_url=f"{self.api_url}/bot{{token}}",
            base_file_url=f"{self.api_url}/file/bot{{token}}",
            request=self._request,
            get_updates_request=self._request,
        )
        self._pacer = Pacer(pace or Pace())
        self._flood_until: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"Courier(api_url={self.api_url!r})"

    async def __aenter__(self) -> Courier:
        await self._request.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._request.shutdown()

    def pace_delay(self, chat: str) -> float:
        """Seconds before a message to `chat` may go (pacing or a flood wait); 0 when now."""
        flood = self._flood_until.get(chat, 0.0) - time.monotonic()
        return max(flood, self._pacer.delay(chat), 0.0)

    async def check(self) -> str:
        """The bot's username, proving the token works. PermanentDeliveryError if it does not."""
        try:
            me = await self._bot.get_me()
        except TelegramError as e:
            raise self._failure(e, chat="(getMe)") from _cause(e)
        return me.username or me.first_name

    async def send(self, msg: OutgoingMessage) -> int:
        """Send `msg`; return Telegram's message_id. Raises a DeliveryError subclass.

        A chat still under a 429's retry_after fails at once, without asking Telegram again.
        """
        blocked = self._flood_until.get(msg.chat, 0.0) - time.monotonic()
        if blocked > 0:
            raise TransientDeliveryError(
                f"Telegram flood control for chat {msg.chat}: retry after {blocked:.0f} s",
                reason="flood",
                retry_after=blocked,
            )
        if msg.preview_url is None:
            preview = LinkPreviewOptions(is_disabled=True)
        else:
            preview = LinkPreviewOptions(url=msg.preview_url)
        await self._pacer.acquire(msg.chat)
        try:
            sent = await self._bot.send_message(
                chat_id=msg.chat,
                text=msg.text,
                parse_mode=ParseMode.HTML,
                link_preview_options=preview,
                disable_notification=msg.disable_notification,
                message_thread_id=msg.message_thread_id,
            )
        except TelegramError as e:
            error = self._failure(e, chat=msg.chat)
            if error.retry_after:
                self._flood_until[msg.chat] = time.monotonic() + error.retry_after
            raise error from _cause(e)
        return sent.message_id

    def _failure(self, exc: TelegramError, *, chat: str) -> DeliveryError:
        """classify(), then belt and braces: no message leaves here with the token in it."""
        error = classify(exc, chat=chat)
        text = str(error)
        if self._token and self._token in text:
            error.args = (text.replace(self._token, "<token>"),)
        return error


def _cause(exc: TelegramError) -> TelegramError | None:
    """The PTB error to chain, except an InvalidToken: Bot.initialize puts the token in those."""
    return None if isinstance(exc, InvalidToken) else exc
