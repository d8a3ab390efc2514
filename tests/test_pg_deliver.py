"""Two delivery workers on one PostgreSQL state, each with its own state object, courier and
claims, as two instances would be: every delivery is sent once, in order per chat, at the
chat's pace; a digest marks its posts once; an edit is made once; a 429 one instance heard
holds the chat for the instance that takes it over.

Simulator -> PostgreSQL state -> two deliverers -> fake Bot API, all over loopback.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import TOKEN, make_config
from delivery_rig import news_board
from pgclaims import sql

from relay.adapters.courier import Courier
from relay.adapters.fetch import Fetcher
from relay.adapters.postgres import PostgresState
from relay.adapters.postgres.claims import PostgresClaims
from relay.core.clock import utc_now
from relay.core.config import Config
from relay.core.coordination import InstanceId
from relay.core.pace import Pace, bot_spacing
from relay.core.state_url import parse_postgres_url
from relay.pipeline.deliver import Deliverer, DrainReport
from relay.pipeline.poll import poll_board, poll_boards
from relay.pipeline.shared_pace import SharedPaceSender
from relay.sim import BoardSimulator, SimBoard

PACE = Pace(per_chat_interval=0.25, group_max=0, bot_max=0)


@dataclass
class Instance:
    state: PostgresState
    claims: PostgresClaims
    deliverer: Deliverer


class Cluster:
    """A config on the shared state, and `count` instances on it."""

    def __init__(self, config: Config, url: str, stack: AsyncExitStack, fakebot: Any) -> None:
        self.config, self.url, self.stack, self.bot = config, url, stack, fakebot
        self.clock = utc_now  # not_before is wall time: it must move
        self.instances: list[Instance] = []

    async def add(self) -> Instance:
        n = len(self.instances)
        state = PostgresState(parse_postgres_url(self.url))
        self.stack.callback(state.close)
        courier = await self.stack.enter_async_context(
            Courier(TOKEN, self.bot.api_url, pace=PACE, timeout=5)
        )
        me = InstanceId(f"i{n}", "host", n)
        sql(  # its heartbeat, as the lease task writes it: the instances share the chats
            self.url,
            "INSERT INTO instances (name, host, pid, started, seen) VALUES (%s, %s, %s, now(), "
            "now() + interval '1 hour')",
            me.name,
            me.host,
            me.pid,
        )
        claims = PostgresClaims(
            state.database,
            me,
            claim_seconds=30,
            bot_spacing=bot_spacing(PACE),
        )
        sender = SharedPaceSender(courier, claims, PACE, state.location)
        deliverer = Deliverer(self.config, state, sender, self.clock, claims=claims)
        self.instances.append(Instance(state, claims, deliverer))
        return self.instances[-1]

    async def poll(self) -> None:
        state = self.instances[0].state
        async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
            poll = functools.partial(poll_board, fetcher=fetcher, state=state, now=self.clock)
            outcomes = await poll_boards(self.config.boards, poll, concurrency=4)
        assert all(o.ok for o in outcomes), outcomes

    async def drain_all(self, seconds: float) -> list[DrainReport]:
        deadline = asyncio.get_running_loop().time() + seconds
        return list(await asyncio.gather(*(i.deliverer.drain(deadline) for i in self.instances)))


@pytest.fixture
def news(sim: BoardSimulator) -> SimBoard:
    return news_board(sim)


@pytest.fixture
async def cluster(
    request: pytest.FixtureRequest, tmp_path: Path, news: SimBoard, pg_url: str, fakebot: Any
) -> AsyncIterator[Cluster]:
    routes = getattr(request, "param", [{"chat": "@news"}, {"chat": "@other"}])
    config = make_config(
        tmp_path,
        [{"id": "news", "url": news.list_url, "routes": routes}],
        telegram={"api_url": fakebot.api_url},
        state=pg_url,
    )
    async with AsyncExitStack() as stack:
        cluster = Cluster(config, pg_url, stack, fakebot)
        await cluster.add()
        await cluster.add()
        await cluster.poll()  # the first poll only records
        yield cluster


async def queue_posts(cluster: Cluster, board: SimBoard, count: int) -> list[str]:
    """`count` new posts on the board, polled: their deliveries queued. Their titles."""
    titles = [f"새 글 {i}" for i in range(count)]
    for title in titles:
        board.add_post(title, "글쓴이", f"<p>{title}</p>")
    await cluster.poll()
    return titles


def title_of(text: str) -> str:
    return text.split("\n")[0].removeprefix("<b>").removesuffix("</b>")


async def test_two_instances_send_every_delivery_once_in_order_at_the_pace(
    cluster: Cluster, news: SimBoard, fakebot: Any
) -> None:
    titles = await queue_posts(cluster, news, 6)
    for instance in cluster.instances:  # each claims its share first: one chat
        assert len({d.chat for d in instance.claims.claim()}) == 1
    reports = await cluster.drain_all(15)
    assert [r.sent for r in reports] == [6, 6]  # a chat each
    for chat in ("@news", "@other"):
        mine = [m for m in fakebot.messages if m.chat_id == chat]
        assert [title_of(m.text) for m in mine] == titles  # once each, oldest first
        gaps = [b.time - a.time for a, b in itertools.pairwise(mine)]
        assert min(gaps) >= PACE.per_chat_interval * 0.98, gaps
    assert cluster.instances[0].state.pending_deliveries() == []


@pytest.mark.parametrize("cluster", [[{"chat": "@news", "digest_over": 3}]], indirect=True)
async def test_a_digest_carries_each_post_once_across_instances(
    cluster: Cluster, news: SimBoard, fakebot: Any
) -> None:
    titles = await queue_posts(cluster, news, 8)
    reports = await cluster.drain_all(10)
    assert sum(r.sent for r in reports) == 8
    carried = Counter(
        line
        for m in fakebot.messages
        for line in re.findall(r'^• <a href="[^"]*">([^<]*)</a>$', m.text, flags=re.M)
    )
    assert carried == Counter(titles)  # every post in a digest, none twice
    assert cluster.instances[1].state.pending_deliveries() == []


async def test_an_edit_is_made_by_one_instance(
    cluster: Cluster, news: SimBoard, fakebot: Any
) -> None:
    post = news.add_post("옛 제목", "글쓴이", "<p>본문</p>")
    await cluster.poll()
    await cluster.drain_all(5)
    news.edit_title(post.id, "고친 제목")
    await cluster.poll()
    await cluster.drain_all(5)
    assert sorted(e.chat_id for e in fakebot.edits) == ["@news", "@other"]  # one per message
    assert all("고친 제목" in e.text for e in fakebot.edits)
    await cluster.drain_all(1)
    assert len(fakebot.edits) == 2


@pytest.mark.parametrize("cluster", [[{"chat": "@news"}]], indirect=True)
async def test_a_429_heard_by_one_instance_holds_the_chat_for_the_next_one(
    cluster: Cluster, news: SimBoard, fakebot: Any
) -> None:
    await queue_posts(cluster, news, 1)
    first, second = cluster.instances
    fakebot.fail_next(429, retry_after=2)
    loop = asyncio.get_running_loop()
    told = loop.time()
    await first.deliverer.drain()  # tried once: the 429
    first.claims.release()  # a clean stop: the other instance takes the chat over
    assert fakebot.messages == []
    await second.deliverer.drain(loop.time() + 5)
    assert len(fakebot.messages) == 1
    assert fakebot.messages[-1].time - told >= 2 * 0.98
