"""The Telegram adapter: sends an OutgoingMessage through the Bot API and says how it failed.

With relay.adapters.bot_answers, the only module that imports python-telegram-bot, used as
a plain Bot API client (no `Application`, no polling). It paces sends to Telegram's limits,
but it never sleeps out a 429: a retry_after can be twelve hours, so the error goes back to
the caller, which keeps the delivery pending. Every answer is read by `read_answer` and every
failure, whatever its type, classified by `classify` (both in bot_answers), once.

The token is a secret. It appears in no error message or repr made here; PTB's own leaks
(its "Bot API URL" debug line, `repr(Bot)`, the InvalidToken that `Bot.initialize` raises
with the token inside) are avoided or left to relay.service.logs' redaction.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import InvalidToken
from telegram.request import HTTPXRequest, RequestData

from relay.adapters.bot_answers import BadAnswer, classify, read_answer
from relay.core.errors import DeliveryError, TransientDeliveryError
from relay.core.models import OutgoingMessage
from relay.core.pace import Pace, is_group

__all__ = ["DEFAULT_API_URL", "Courier", "Pace", "Pacer"]

DEFAULT_API_URL = "https://api.telegram.org"
BUTTON_TEXT = "원문 보기"  # the inline button that opens the post (OutgoingMessage.button_url)


class _BotApiRequest(HTTPXRequest):
    """PTB's HTTPX transport, every answer read by `read_answer` before PTB sees it.

    Also: PTB 22.2+ warns when a RetryAfter is *constructed*, so under warnings-as-errors
    PTB's own 429 handling would raise the warning instead; and for 5xx PTB keeps only the
    description, while here the status code survives for the caller's "http 502" reason.
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
        error = read_answer(status, payload)
        if error is not None:
            raise error
        return status, payload


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

    def answered(self, booked: float, now: float) -> None:
        """The request booked at `booked` was answered at `now`: its event counts from then
        (the stamps stay in time order, for `delay`)."""
        if booked in self.stamps:
            self.stamps.remove(booked)
            bisect.insort(self.stamps, max(booked, now))


class Pacer:
    """Waits until a message to `chat` fits every limit of `Pace`, then takes its slot."""

    def __init__(self, pace: Pace, clock: Callable[[], float] = time.monotonic) -> None:
        self._pace, self._clock = pace, clock
        self._bot = _Window(pace.bot_max, pace.bot_period)
        self._chats: dict[str, _Window] = {}
        self._groups: dict[str, _Window] = {}
        self._booked: dict[str, float] = {}  # chat -> when its request in flight was booked

    def _windows(self, chat: str) -> list[_Window]:
        pace = self._pace
        windows = [self._bot]
        windows.append(self._chats.setdefault(chat, _Window(1, pace.per_chat_interval)))
        if is_group(chat):
            windows.append(
                self._groups.setdefault(chat, _Window(pace.group_max, pace.group_period))
            )
        return windows

    def delay(self, chat: str) -> float:
        """Seconds until a message to `chat` would fit every limit (0: now); books nothing."""
        now = self._clock()
        return max(window.delay(now) for window in self._windows(chat))

    def done(self, chat: str) -> None:
        """The request that took `chat`'s slot has returned: its slot counts from now.

        The slot is booked when the request leaves; a request that is slow to arrive (a new
        connection, a busy loop) would otherwise reach Telegram closer to the next one than
        the pace allows. Counting every window's event (the chat's, its group's and the
        bot's) from the answer keeps the spacing as Telegram sees it."""
        booked = self._booked.pop(chat, None)
        if booked is None:
            return
        now = self._clock()
        for window in self._windows(chat):
            window.answered(booked, now)

    async def acquire(self, chat: str) -> None:
        windows = self._windows(chat)
        while True:
            now = self._clock()
            wait = max(window.delay(now) for window in windows)
            if wait <= 0:  # no await between the check and the booking: no other task interleaves
                for window in windows:
                    window.stamps.append(now)
                self._booked[chat] = now
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` is monotonic seconds, shared by the pacer and the flood waits (tests move it)."""
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
        self._clock = clock
        self._pacer = Pacer(pace or Pace(), clock)
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
        flood = self._flood_until.get(chat, 0.0) - self._clock()
        return max(flood, self._pacer.delay(chat), 0.0)

    async def check(self) -> str:
        """The bot's username, proving the token works. PermanentDeliveryError if it does not."""
        try:
            me = await self._bot.get_me()
            name = me.username or me.first_name
        except Exception as e:  # every failure is classified: see classify()
            raise self._failure(e, chat="(getMe)") from _cause(e)
        return str(name)

    async def send(self, msg: OutgoingMessage) -> int:
        """Send `msg`; return Telegram's message_id. Raises a DeliveryError subclass, whatever
        the answer was (classify() sorts every exception; none escapes as itself).

        A chat still under a 429's retry_after fails at once, without asking Telegram again.
        """
        await self._clear_to_send(msg.chat)
        try:
            if msg.photo_url is not None:
                sent = await self._bot.send_photo(
                    chat_id=msg.chat,
                    photo=msg.photo_url,
                    caption=msg.text,
                    parse_mode=ParseMode.HTML,
                    disable_notification=msg.disable_notification,
                    message_thread_id=msg.message_thread_id,
                    reply_markup=_keyboard(msg),
                )
            else:
                sent = await self._bot.send_message(
                    chat_id=msg.chat,
                    text=msg.text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=_preview(msg),
                    disable_notification=msg.disable_notification,
                    message_thread_id=msg.message_thread_id,
                    reply_markup=_keyboard(msg),
                )
            message_id = sent.message_id
            if not isinstance(message_id, int) or isinstance(message_id, bool):
                raise BadAnswer(f"sendMessage answered a message_id of {message_id!r:.40}")
        except Exception as e:  # every failure is classified: see classify()
            raise self._flood_noted(e, msg.chat) from _cause(e)
        finally:
            self._pacer.done(msg.chat)
        return message_id

    async def _clear_to_send(self, chat: str) -> None:
        """Fail at once while the chat is under a 429's retry_after; else wait for the pace."""
        blocked = self._flood_until.get(chat, 0.0) - self._clock()
        if blocked > 0:
            raise TransientDeliveryError(
                f"Telegram flood control for chat {chat}: retry after {blocked:.0f} s",
                reason="flood",
                retry_after=blocked,
            )
        await self._pacer.acquire(chat)

    async def edit(self, msg: OutgoingMessage, message_id: int, *, caption: bool) -> None:
        """Replace the text (or a photo's caption) of a sent message with `msg`'s. Raises a
        DeliveryError like `send` (Telegram refuses edits of deleted or unchanged messages)."""
        await self._clear_to_send(msg.chat)
        # The keys both edit methods take (Any: python-telegram-bot types each keyword).
        same: dict[str, Any] = {
            "chat_id": msg.chat,
            "message_id": message_id,
            "parse_mode": ParseMode.HTML,
            "reply_markup": _keyboard(msg),
        }
        try:
            if caption:
                await self._bot.edit_message_caption(caption=msg.text, **same)
            else:
                await self._bot.edit_message_text(
                    text=msg.text, link_preview_options=_preview(msg), **same
                )
        except Exception as e:  # every failure is classified: see classify()
            raise self._flood_noted(e, msg.chat) from _cause(e)
        finally:
            self._pacer.done(msg.chat)

    def _flood_noted(self, exc: Exception, chat: str) -> DeliveryError:
        error = self._failure(exc, chat=chat)
        if error.retry_after:
            self._flood_until[chat] = self._clock() + error.retry_after
        return error

    def _failure(self, exc: Exception, *, chat: str) -> DeliveryError:
        """classify(), then belt and braces: no message leaves here with the token in it."""
        error = classify(exc, chat=chat)
        text = str(error)
        if self._token and self._token in text:
            error.args = (text.replace(self._token, "<token>"),)
        return error


def _preview(msg: OutgoingMessage) -> LinkPreviewOptions:
    if msg.preview_url is None:
        return LinkPreviewOptions(is_disabled=True)
    return LinkPreviewOptions(url=msg.preview_url)


def _keyboard(msg: OutgoingMessage) -> InlineKeyboardMarkup | None:
    if msg.button_url is None:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(BUTTON_TEXT, url=msg.button_url)]])


def _cause(exc: Exception) -> Exception | None:
    """The error to chain, except an InvalidToken: Bot.initialize puts the token in those."""
    return None if isinstance(exc, InvalidToken) else exc
