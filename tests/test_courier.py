"""relay.adapters.courier against the fake Bot API on loopback: what is sent, and how each
failure is
classified (transient: retry later; permanent: retrying will not help)."""

from __future__ import annotations

import asyncio
import math
import time
import traceback
import warnings
from collections.abc import AsyncIterator, Iterator

import pytest
from fakebot import FakeBot
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

from relay.adapters.bot_answers import ServerError, classify
from relay.adapters.courier import Courier, Pace
from relay.core.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from relay.core.models import OutgoingMessage

NO_PACE = Pace(per_chat_interval=0, group_max=0, group_period=0, bot_max=0, bot_period=0)
CHANNEL = "@relay_test"
MSG = OutgoingMessage(chat=CHANNEL, text='<b>새 글</b>\n\n<a href="https://x/1">게시판</a>')


@pytest.fixture
def fakebot() -> Iterator[FakeBot]:
    with FakeBot() as server:
        yield server


@pytest.fixture
async def courier(fakebot: FakeBot) -> AsyncIterator[Courier]:
    async with Courier(fakebot.token, fakebot.api_url, pace=NO_PACE, timeout=2) as c:
        yield c


def full_text(error: BaseException) -> str:
    """Everything a log line with a traceback could show of `error`."""
    return "".join(traceback.format_exception(error)) + repr(error)


async def test_check_returns_the_bot_username(courier: Courier) -> None:
    assert await courier.check() == "relay_test_bot"


async def test_send_uses_html_link_preview_options_and_thread(
    courier: Courier, fakebot: FakeBot
) -> None:
    msg = OutgoingMessage(
        chat=CHANNEL,
        text=MSG.text,
        disable_notification=True,
        preview_url="https://x/1",
        message_thread_id=5,
    )
    message_id = await courier.send(msg)
    [got] = fakebot.messages
    assert message_id == got.message_id
    assert (got.chat_id, got.text, got.parse_mode) == (CHANNEL, MSG.text, "HTML")
    assert got.disable_notification is True
    assert got.link_preview_options == {"url": "https://x/1"}
    assert got.message_thread_id == 5
    assert "disable_web_page_preview" not in got.params


async def test_no_preview_url_disables_the_preview(courier: Courier, fakebot: FakeBot) -> None:
    await courier.send(MSG)
    [got] = fakebot.messages
    assert got.link_preview_options == {"is_disabled": True}
    assert got.disable_notification is False and got.message_thread_id is None


async def test_wrong_token_is_permanent_and_never_shown(fakebot: FakeBot) -> None:
    wrong = "987654321:AAWrongTokenWrongTokenWrongToken123"
    async with Courier(wrong, fakebot.api_url, pace=NO_PACE) as c:
        assert wrong not in repr(c)
        with pytest.raises(PermanentDeliveryError) as raised:
            await c.check()
        with pytest.raises(PermanentDeliveryError) as raised_on_send:
            await c.send(MSG)
    assert "Telegram token was rejected (401" in str(raised.value)
    for error in (raised.value, raised_on_send.value):
        assert error.reason == "unauthorized"
        assert wrong not in full_text(error)
        assert "987654321" not in full_text(error)


async def test_unknown_chat_is_permanent(courier: Courier) -> None:
    with pytest.raises(PermanentDeliveryError) as raised:
        await courier.send(OutgoingMessage(chat="@nobody_here", text="hi"))
    assert raised.value.reason == "Chat not found"
    assert "@nobody_here" in str(raised.value)


async def test_kicked_bot_is_permanent(courier: Courier, fakebot: FakeBot) -> None:
    fakebot.kick(CHANNEL)
    with pytest.raises(PermanentDeliveryError) as raised:
        await courier.send(MSG)
    assert "bot was kicked" in raised.value.reason


async def test_migrated_group_reports_the_new_chat_id(courier: Courier, fakebot: FakeBot) -> None:
    fakebot.migrate("-1001234567890", -1009876543210)
    with pytest.raises(PermanentDeliveryError) as raised:
        await courier.send(OutgoingMessage(chat="-1001234567890", text="hi"))
    assert raised.value.migrate_to_chat_id == -1009876543210
    assert "-1009876543210" in str(raised.value)
    assert await courier.send(OutgoingMessage(chat="-1009876543210", text="hi")) > 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x" * 4097, "Message is too long"),
        ("a<br>b", "Can't parse entities"),
        ("<b>open", "Can't parse entities"),
    ],
)
async def test_a_message_telegram_refuses_is_permanent(
    courier: Courier, text: str, reason: str
) -> None:
    with pytest.raises(PermanentDeliveryError) as raised:
        await courier.send(OutgoingMessage(chat=CHANNEL, text=text))
    assert raised.value.reason.startswith(reason)


async def test_429_hands_back_retry_after_without_sleeping(
    courier: Courier, fakebot: FakeBot
) -> None:
    fakebot.fail_next(429, retry_after=43837)
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError) as raised:
        await courier.send(MSG)
    assert time.monotonic() - started < 1
    assert (raised.value.reason, raised.value.retry_after) == ("flood", 43837)
    # the chat stays blocked without asking Telegram again; other chats are not
    asked = len(fakebot.requests)
    with pytest.raises(TransientDeliveryError, match="flood") as again:
        await courier.send(MSG)
    assert again.value.retry_after is not None and again.value.retry_after > 43000
    assert len(fakebot.requests) == asked
    assert await courier.send(OutgoingMessage(chat="42", text="hi")) > 0


async def test_server_side_flood_limit_is_reported(courier: Courier, fakebot: FakeBot) -> None:
    fakebot.set_flood(2, per=30)
    await courier.send(MSG)
    await courier.send(MSG)
    with pytest.raises(TransientDeliveryError) as raised:
        await courier.send(MSG)
    assert raised.value.reason == "flood"
    assert raised.value.retry_after is not None and 1 <= raised.value.retry_after <= 30


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_transient_with_its_status(
    courier: Courier, fakebot: FakeBot, status: int
) -> None:
    fakebot.fail_next(status)
    with pytest.raises(TransientDeliveryError) as raised:
        await courier.send(MSG)
    assert raised.value.reason == f"http {status}"
    assert await courier.send(MSG) > 0  # the next attempt goes through


async def test_dropped_connection_is_transient_though_telegram_got_it(
    courier: Courier, fakebot: FakeBot
) -> None:
    fakebot.drop_after_accept(1)
    with pytest.raises(TransientDeliveryError) as raised:
        await courier.send(MSG)
    assert raised.value.reason in ("network", "timeout")
    assert len(fakebot.messages) == 1  # delivered: the caller may send a duplicate


async def test_slow_answer_is_a_transient_timeout(fakebot: FakeBot) -> None:
    fakebot.stall_next(0.5)
    async with Courier(fakebot.token, fakebot.api_url, pace=NO_PACE, timeout=0.2) as c:
        with pytest.raises(TransientDeliveryError) as raised:
            await c.send(MSG)
    assert raised.value.reason == "timeout"
    assert "may have been delivered" in str(raised.value)


async def test_unreachable_server_is_transient() -> None:
    with FakeBot() as gone:
        url = gone.api_url
    async with Courier(gone.token, url, pace=NO_PACE, timeout=1) as c:
        with pytest.raises(TransientDeliveryError) as raised:
            await c.check()
    assert raised.value.reason == "network"


async def test_messages_to_one_chat_are_spaced(fakebot: FakeBot) -> None:
    pace = Pace(per_chat_interval=0.2, group_max=0, group_period=0, bot_max=0, bot_period=0)
    async with Courier(fakebot.token, fakebot.api_url, pace=pace) as c:
        await asyncio.gather(*(c.send(MSG) for _ in range(3)))
        await c.send(OutgoingMessage(chat="42", text="other chat"))
    times = [m.time for m in fakebot.messages]
    assert times[1] - times[0] >= 0.18 and times[2] - times[1] >= 0.18
    assert times[3] - times[2] < 0.15  # another chat does not wait for this one


async def test_a_channel_gets_at_most_group_max_per_period(fakebot: FakeBot) -> None:
    pace = Pace(per_chat_interval=0, group_max=2, group_period=0.4, bot_max=0, bot_period=0)
    async with Courier(fakebot.token, fakebot.api_url, pace=pace) as c:
        for _ in range(3):
            await c.send(MSG)
    times = [m.time for m in fakebot.messages]
    assert times[1] - times[0] < 0.15
    assert times[2] - times[0] >= 0.38


async def test_the_bot_as_a_whole_is_paced(fakebot: FakeBot) -> None:
    pace = Pace(per_chat_interval=0, group_max=0, group_period=0, bot_max=2, bot_period=0.3)
    async with Courier(fakebot.token, fakebot.api_url, pace=pace) as c:
        for chat in ("42", CHANNEL, "-1001234567890"):
            await c.send(OutgoingMessage(chat=chat, text="hi"))
    times = [m.time for m in fakebot.messages]
    assert times[2] - times[0] >= 0.28


def test_default_pace_is_telegrams() -> None:
    assert Pace() == Pace(
        per_chat_interval=1.0, group_max=20, group_period=60.0, bot_max=30, bot_period=1.0
    )


def _retry_after(seconds: int) -> RetryAfter:
    with warnings.catch_warnings():  # PTB 22 warns on construction
        warnings.simplefilter("ignore")
        return RetryAfter(seconds)


@pytest.mark.parametrize(
    ("error", "kind", "reason"),
    [
        (_retry_after(7), TransientDeliveryError, "flood"),
        (ChatMigrated(-100), PermanentDeliveryError, "chat migrated"),
        (InvalidToken("Unauthorized"), PermanentDeliveryError, "unauthorized"),
        (Forbidden("Forbidden: bot was blocked by the user"), PermanentDeliveryError, "Forbidden"),
        (BadRequest("Chat not found"), PermanentDeliveryError, "Chat not found"),
        (TimedOut(), TransientDeliveryError, "timeout"),
        (ServerError("HTTP 502: Bad Gateway", 502), TransientDeliveryError, "http 502"),
        (NetworkError("httpx.ConnectError: refused"), TransientDeliveryError, "network"),
        (TelegramError("Invalid server response"), TransientDeliveryError, "telegram"),
    ],
)
def test_classify_checks_subclasses_before_their_bases(
    error: TelegramError, kind: type[DeliveryError], reason: str
) -> None:
    result = classify(error, chat="@c")
    assert type(result) is kind
    assert result.reason.startswith(reason)


# --- malformed answers: every one classified, none escapes as itself ------------------------

DAY = 24 * 3600.0


@pytest.mark.parametrize(
    ("status", "retry_after", "raw", "kind", "reason", "wait"),
    [
        (200, None, b'{"ok":false}', TransientDeliveryError, "bad answer", None),
        (200, None, b"[1]", TransientDeliveryError, "bad answer", None),
        (200, None, b"<html>502 Bad Gateway</html>", TransientDeliveryError, "bad answer", None),
        (200, None, b'{"ok":true}', TransientDeliveryError, "bad answer", None),  # no result
        (200, None, b'{"ok":true,"result":{}}', TransientDeliveryError, "bad answer", None),
        (200, None, b'{"ok":true,"result":[1]}', TransientDeliveryError, "bad answer", None),
        (200, None, b'{"ok":true,"result":true}', TransientDeliveryError, "bad answer", None),
        (200, None, b"[" * 100_000, TransientDeliveryError, "bad answer", None),  # recursion
        (
            200,
            None,
            b'{"ok":true,"result":{"message_id":"7","date":1,"chat":{"id":1,"type":"channel"}}}',
            TransientDeliveryError,
            "bad answer",
            None,
        ),
        (
            200,
            None,
            b'{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}',
            PermanentDeliveryError,
            "Chat not found",
            None,
        ),
        (429, 1e308, None, TransientDeliveryError, "flood", DAY),
        (429, math.inf, None, TransientDeliveryError, "flood", DAY),
        (429, math.nan, None, TransientDeliveryError, "flood", DAY),
        (429, 10**30, None, TransientDeliveryError, "flood", DAY),
        (429, -5, None, TransientDeliveryError, "flood", 1.0),
        (429, 0, None, TransientDeliveryError, "flood", 1.0),
        (429, 2.5, None, TransientDeliveryError, "flood", 2.5),
        (429, "30", None, TransientDeliveryError, "flood", 30.0),
        (429, "soon", None, TransientDeliveryError, "bad answer", None),
        (429, None, b"[1]", TransientDeliveryError, "bad answer", None),
        (400, None, b'{"ok":false,"parameters":[1]}', PermanentDeliveryError, "HTTP 400", None),
        # Not the Bot API's wording: a proxy's or a firewall's page, so not a verdict on the
        # chat or the token (a retry later, not a failed delivery).
        (403, None, b"[1]", TransientDeliveryError, "bad answer", None),
        (404, None, b"<html>x</html>", TransientDeliveryError, "bad answer", None),
        (401, None, b"<html>Unauthorized</html>", TransientDeliveryError, "bad answer", None),
        (502, None, b"upstream went away", TransientDeliveryError, "http 502", None),
        (302, None, b"", TransientDeliveryError, "network", None),
    ],
)
async def test_a_malformed_answer_is_classified_and_the_courier_goes_on(
    courier: Courier,
    fakebot: FakeBot,
    status: int,
    retry_after: object,
    raw: bytes | None,
    kind: type[DeliveryError],
    reason: str,
    wait: float | None,
) -> None:
    fakebot.fail_next(status, retry_after=retry_after, raw=raw)
    with pytest.raises(DeliveryError) as raised:
        await courier.send(MSG)
    assert type(raised.value) is kind
    assert raised.value.reason.startswith(reason)
    assert raised.value.retry_after == wait
    assert CHANNEL in str(raised.value)  # names the chat
    assert await courier.send(OutgoingMessage(chat="42", text="still works")) > 0
    if wait is None:
        assert courier.pace_delay(CHANNEL) == 0  # no flood wait invented
    else:
        assert wait - 1 < courier.pace_delay(CHANNEL) <= wait


async def test_a_malformed_getme_answer_is_a_transient_failure(
    courier: Courier, fakebot: FakeBot
) -> None:
    fakebot.fail_next(200, raw=b'{"ok":true,"result":[]}')
    with pytest.raises(TransientDeliveryError) as raised:
        await courier.check()
    assert raised.value.reason == "bad answer"
    assert await courier.check() == "relay_test_bot"


def test_classify_turns_any_exception_into_a_transient_bad_answer() -> None:
    for error in (KeyError("date"), TypeError("pop"), OverflowError("big"), ValueError("x")):
        result = classify(error, chat="@c")
        assert type(result) is TransientDeliveryError and result.reason == "bad answer"
        assert type(error).__name__ in str(result) and "@c" in str(result)


class StepClock:
    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


async def test_flood_waits_run_on_the_injected_monotonic_clock(fakebot: FakeBot) -> None:
    clock = StepClock()
    async with Courier(fakebot.token, fakebot.api_url, pace=NO_PACE, clock=clock) as c:
        fakebot.fail_next(429, retry_after=30)
        with pytest.raises(TransientDeliveryError):
            await c.send(MSG)
        assert c.pace_delay(CHANNEL) == 30  # the clock has not moved
        clock.at += 29.5
        assert c.pace_delay(CHANNEL) == 0.5
        with pytest.raises(TransientDeliveryError, match="flood"):
            await c.send(MSG)  # still blocked: Telegram is not asked
        clock.at += 0.5
        assert c.pace_delay(CHANNEL) == 0
        assert await c.send(MSG) > 0
    assert fakebot.requests == ["sendMessage", "sendMessage"]
