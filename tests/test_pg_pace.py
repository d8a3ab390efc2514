"""The per-chat pace kept in PostgreSQL holds across instances, measured where Telegram would
see it: two instances (each its own courier, its own pacer in memory, one shared database)
send to one chat, and the fake Bot API's arrival times are never closer than the pace; a
429 told to one instance holds the chat for the other too."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from conftest import TOKEN
from pgclaims import sql

from relay.adapters.courier import Courier
from relay.adapters.postgres import PostgresState
from relay.adapters.postgres.claims import PostgresClaims
from relay.core.coordination import InstanceId
from relay.core.errors import DeliveryError, StateError
from relay.core.models import OutgoingMessage
from relay.core.pace import Pace, bot_spacing
from relay.core.state_url import parse_postgres_url
from relay.pipeline.shared_pace import SharedPaceSender

PACE = Pace(per_chat_interval=0.3, group_max=0, bot_max=0)


async def instances(
    stack: AsyncExitStack, url: str, fakebot: Any, count: int, pace: Pace = PACE
) -> list[SharedPaceSender]:
    senders = []
    for n in range(count):
        courier = await stack.enter_async_context(
            Courier(TOKEN, fakebot.api_url, pace=pace, timeout=5)
        )
        state = PostgresState(parse_postgres_url(url))  # each instance its own pool
        stack.callback(state.close)
        shared = PostgresClaims(
            state.database,
            InstanceId(f"i{n}", "host", n),
            claim_seconds=30,
            bot_spacing=bot_spacing(pace),
        )
        senders.append(SharedPaceSender(courier, shared, pace, "test"))
    return senders


@pytest.fixture
async def two(pg_url: str, fakebot: Any) -> AsyncIterator[list[SharedPaceSender]]:
    async with AsyncExitStack() as stack:
        yield await instances(stack, pg_url, fakebot, 2)


async def send_when_free(sender: SharedPaceSender, chat: str, text: str) -> int:
    """What the delivery worker does: wait out the pace it knows, try, and on a flood wait
    (the chat is another instance's now) wait that out and try again."""
    while True:
        await asyncio.sleep(sender.pace_delay(chat))
        try:
            return await sender.send(OutgoingMessage(chat=chat, text=text))
        except DeliveryError as e:
            if not e.retry_after:
                raise
            await asyncio.sleep(min(e.retry_after, 0.05))


def gaps(fakebot: Any, chat: str) -> list[float]:
    times = [m.time for m in fakebot.messages if m.chat_id == chat]
    return [b - a for a, b in itertools.pairwise(times)]


async def test_two_instances_sending_to_one_chat_keep_its_pace(
    two: list[SharedPaceSender], fakebot: Any
) -> None:
    async def burst(sender: SharedPaceSender, name: str) -> None:
        for i in range(4):
            await send_when_free(sender, "@news", f"{name} {i}")

    await asyncio.gather(burst(two[0], "one"), burst(two[1], "two"))
    texts = [m.text for m in fakebot.messages]
    assert len(texts) == 8
    assert {t.split()[0] for t in texts} == {"one", "two"}
    assert min(gaps(fakebot, "@news")) >= PACE.per_chat_interval * 0.98, gaps(fakebot, "@news")


async def test_other_chats_are_not_held_by_one_chat_s_pace(
    two: list[SharedPaceSender], fakebot: Any
) -> None:
    await send_when_free(two[0], "@news", "a")
    await send_when_free(two[1], "@other", "b")  # at once: another chat
    news, other = (
        next(m.time for m in fakebot.messages if m.chat_id == c) for c in ("@news", "@other")
    )
    assert other - news < PACE.per_chat_interval


async def test_a_429_told_to_one_instance_holds_the_chat_for_the_other(
    two: list[SharedPaceSender], fakebot: Any
) -> None:
    fakebot.fail_next(429, retry_after=2)
    loop = asyncio.get_running_loop()
    told = loop.time()
    with pytest.raises(DeliveryError):
        await two[0].send(OutgoingMessage(chat="@news", text="flooded"))
    await send_when_free(two[1], "@news", "after the wait")
    assert loop.time() - told >= 2.0 * 0.98
    assert [m.text for m in fakebot.messages] == ["after the wait"]


async def test_the_bot_wide_limit_is_shared_by_the_instances(pg_url: str, fakebot: Any) -> None:
    pace = Pace(per_chat_interval=0, group_max=0, bot_max=5, bot_period=1.0)  # 0.2 s apart
    async with AsyncExitStack() as stack:
        one, two = await instances(stack, pg_url, fakebot, 2, pace)
        chats = ["@news", "@other", "-100200300"]
        await asyncio.gather(
            *(
                send_when_free(sender, chat, f"{n}")
                for n, chat in enumerate(chats)
                for sender in (one, two)
            )
        )
    times = sorted(m.time for m in fakebot.messages)
    assert len(times) == 6
    # Each courier alone would let all six go at once (5 a second each): together, the
    # sixth arrives a second after the first, as one bot's limit allows.
    assert times[5] - times[0] >= 1.0 * 0.95, times


async def test_a_send_cut_off_frees_the_chat_after_its_spacing_not_the_in_flight_hold(
    two: list[SharedPaceSender], fakebot: Any, pg_url: str
) -> None:
    fakebot.stall_next(2.0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):  # the drain's deadline cuts the request off
            await two[0].send(OutgoingMessage(chat="@news", text="slow"))
    await asyncio.sleep(0.3)  # recorded from a worker thread, the task being cancelled
    [(wait,)] = sql(
        pg_url,
        "SELECT extract(epoch FROM next_at - clock_timestamp())::float8 FROM chat_pace "
        "WHERE chat = '@news'",
    )
    assert wait <= PACE.per_chat_interval  # not the 20 s a request under way holds it


async def test_nothing_is_sent_while_the_pace_cannot_be_booked(pg_url: str, fakebot: Any) -> None:
    async with AsyncExitStack() as stack:
        state = PostgresState(parse_postgres_url(pg_url))
        courier = await stack.enter_async_context(Courier(TOKEN, fakebot.api_url, pace=PACE))
        claims = PostgresClaims(state.database, InstanceId("i", "host", 1), claim_seconds=30)
        sender = SharedPaceSender(courier, claims, PACE, "postgresql://relay@db/relay")
        state.close()  # the state is gone (a server down answers so after its timeouts)
        with pytest.raises(StateError, match=r"postgresql://relay@db/relay.*chat @news"):
            await sender.send(OutgoingMessage(chat="@news", text="x"))
    assert fakebot.messages == []
