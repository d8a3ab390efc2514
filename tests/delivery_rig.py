"""The delivery tests' rig: a simulated board, the state, a courier to the fake Bot API."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import TOKEN, make_config

from relay.adapters.courier import Courier, Pace
from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.config import Config
from relay.pipeline.deliver import Deliverer, DrainReport
from relay.pipeline.poll import poll_board, poll_boards
from relay.sim import BoardSimulator, SimBoard

FAST = Pace(per_chat_interval=0, group_max=0, bot_max=0)
NASTY = '<script>alert("x")</script> & 뉴스 "인용" 🇰🇷😀 <b>굵게</b> a<b & c>d'


class Clock:
    """A clock tests move by hand: backoff and retry_after without waiting for real."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class Rig:
    def __init__(
        self,
        tmp_path: Path,
        fakebot: Any,
        boards: list[dict[str, Any]],
        *,
        store: type[SqliteState] = SqliteState,
        telegram: dict[str, Any] | None = None,
        routes: list[dict[str, Any]] | None = None,
    ) -> None:
        self.config: Config = make_config(
            tmp_path,
            boards,
            telegram={"api_url": fakebot.api_url, **(telegram or {})},
            routes=routes,
        )
        self.store = store(self.config.state)
        self.bot = fakebot
        self.clock = Clock()

    async def poll(self) -> None:
        async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
            poll = functools.partial(poll_board, fetcher=fetcher, state=self.store, now=self.clock)
            outcomes = await poll_boards(self.config.boards, poll, concurrency=4)
        assert all(o.ok for o in outcomes), outcomes

    async def drain(self, deadline: float | None = None, pace: Pace = FAST) -> DrainReport:
        async with Courier(TOKEN, self.bot.api_url, pace=pace, timeout=2) as courier:
            deliverer = Deliverer(self.config, self.store, courier, self.clock)
            loop = asyncio.get_running_loop()
            return await deliverer.drain(None if deadline is None else loop.time() + deadline)

    def delivery(self, post_id: str) -> dict[str, Any]:
        rows = self.store._db.query("SELECT * FROM deliveries WHERE post_id = ?", (post_id,))
        return dict(rows[0])


def board_entry(board: SimBoard, chat: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": board.name,
        "url": board.list_url,
        "engine": board.engine,
        "title": f"{board.name} 게시판",
        "chat": chat,
        **extra,
    }


def news_board(sim: BoardSimulator) -> SimBoard:
    """The board most delivery tests use: five posts that the first poll only records."""
    board = sim.add_board("news", "rhymix")
    for i in range(5):
        board.add_post(f"기존 글 {i}", "작성자", "<p>본문</p>")
    return board


async def first_poll_then_add(rig: Rig, board: SimBoard, titles: list[str]) -> list[str]:
    await rig.poll()
    ids = [
        str(board.add_post(t, "글쓴이 <관리자>", f"<p>{t} 본문 &amp; 내용</p>").id) for t in titles
    ]
    await rig.poll()
    return ids
