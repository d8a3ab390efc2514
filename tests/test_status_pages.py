"""The status pages served by the listener from a Service (relay.service.pages): every board's
card at `/` with its health, counts and sparkline, `/boards/<id>` with the last posts and
where each delivery stands, nothing secret unless asked, and an index that stays cheap with
1,000 boards. The boards are the simulator's, polled by the real pipeline; the browser test
(tests/test_status_browser.py) renders the same pages in Chromium.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import make_config

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.clock import Clock
from relay.core.models import Post
from relay.core.state import NewPost, PageChanges, PollIntent, Validators
from relay.pipeline.deliver import DryRunSender
from relay.service.daemon import Service
from relay.service.pages import StatusPages
from relay.service.parts import Parts
from relay.service.web import feeds_of, start_web
from relay.sim import BoardSimulator


def _parts(config: Any, state: SqliteState, fetcher: Fetcher) -> Parts:
    return Parts(
        config=config,
        state=state,
        fetcher=fetcher,
        sender=DryRunSender(),
        clock=Clock(),
        rng=random.Random(1),
        dry_run=True,
    )


@pytest.fixture
async def pages_of(
    tmp_path: Path, sim: BoardSimulator
) -> AsyncIterator[tuple[httpx.AsyncClient, Service]]:
    news = sim.add_board("news", "rhymix")
    for i in range(7):
        news.add_post(f"소식 {i}", "기자", "<p>본문</p>")
    down = sim.add_board("down", "gnuboard")
    down.add_post("하나", "x", "<p>본문</p>")
    config = make_config(
        tmp_path,
        [
            {
                **{"id": "news", "url": news.list_url, "title": "뉴스 <b>"},
                **{"chat": "-100200300", "backfill": 7},
            },
            {"id": "down", "url": down.list_url, "engine": "gnuboard", "json_feed": True},
        ],
        http={"listen": "127.0.0.1:0", "lang": "en"},
    )
    state = SqliteState(config.state)
    async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
        service = Service(_parts(config, state, fetcher))
        service.prepare()
        await service.poll_job("news")
        down.fail_next(503, count=5)
        await service.poll_job("down")
        web = await start_web(
            "127.0.0.1",
            0,
            feeds=lambda: feeds_of(config.boards),
            health=service.health,
            metrics=service.metrics,
            pages=StatusPages(service, refresh=0),
        )
        try:
            async with httpx.AsyncClient(base_url=web.url) as client:
                yield client, service
        finally:
            await web.close()
            state.close()


async def test_the_index_has_a_card_per_board_with_its_health_and_counts(
    pages_of: tuple[httpx.AsyncClient, Service],
) -> None:
    client, _ = pages_of
    r = await client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert re.findall(r'data-board="([^"]+)"', page) == ["news", "down"]
    news = page[page.index('id="board-news"') : page.index('id="board-down"')]
    down = page[page.index('id="board-down"') :]
    assert 'class="board ok"' in page and "뉴스 &lt;b&gt;" in news  # escaped, once
    bars = [int(n) for n in re.findall(r'data-count="(\d+)"', news)]
    assert len(bars) == 48 and sum(bars) == 7  # the seven posts, all seen this hour
    assert "<dt>Posts known</dt><dd>7</dd>" in news
    assert "telegram 7" in news and "-100200300" not in page  # no chat ids by default
    assert '<article class="board failing" id="board-down"' in page and "http 503" in down
    assert "backing off until" in down
    assert 'href="feeds/down.json"' in down and 'href="boards/down"' in down


async def test_a_boards_page_lists_its_posts_with_each_delivery_state(
    pages_of: tuple[httpx.AsyncClient, Service],
) -> None:
    client, _ = pages_of
    r = await client.get("/boards/news")
    assert r.status_code == 200
    rows = re.findall(r"<tr><td>(\d+)</td>", r.text)
    assert len(rows) == 7 and rows == sorted(rows, key=int, reverse=True)
    assert r.text.count('class="s-pending"') == 7  # a dry run leaves them pending
    assert "Last poll&#x27;s outcome" in r.text or "Last poll's outcome" in r.text
    assert "ok: 7 new" in r.text
    assert (await client.get("/boards/nope")).status_code == 404


async def test_a_stale_index_is_answered_at_once_and_rebuilt_behind(
    pages_of: tuple[httpx.AsyncClient, Service],
) -> None:
    _, service = pages_of
    steady = [0.0]
    service.clock = Clock(monotonic=lambda: steady[0])
    pages = StatusPages(service, refresh=3)
    first = await pages.index()
    assert await pages.index() is first  # fresh: the same page
    steady[0] = 10.0  # stale now
    assert await pages.index() is first  # answered at once with the last page...
    await asyncio.sleep(0.5)
    rebuilt = await pages.index()
    assert rebuilt is not first  # ...and a rebuild came behind it


async def test_chats_show_only_when_asked(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        [{"id": "a", "url": "http://127.0.0.1:1/a", "chat": "-100200300"}],
        http={"show_chats": True},
    )
    state = SqliteState(config.state)
    post = NewPost(Post("1", "http://127.0.0.1:1/a/1", "t"), announce=True, fetch_article=False)
    changes = PageChanges(Validators(body_hash="h"), "1", (post,), chats=("-100200300",))
    state.apply_poll("a", PollIntent(datetime.now(UTC), True, changes, 1))
    async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
        service = Service(_parts(config, state, fetcher))
        page = await StatusPages(service).index()
        board = await StatusPages(service).board("a")
    state.close()
    assert "-100200300" in page and board is not None and "-100200300" in board
    assert "전송 대기" in page  # Korean labels by default


async def test_the_index_of_1000_boards_is_built_from_a_few_queries_and_cached(
    tmp_path: Path,
) -> None:
    boards = [{"id": f"b{i:04}", "url": f"http://127.0.0.1:1/b{i}"} for i in range(1000)]
    config = make_config(tmp_path, boards)
    state = SqliteState(config.state)
    now = datetime.now(UTC)
    for i, board in enumerate(config.boards):
        posts = tuple(
            NewPost(Post(str(n), f"http://127.0.0.1:1/{n}", f"t{n}"), False, False)
            for n in range(i % 7)
        )
        changes = PageChanges(Validators(body_hash="h"), "0", posts)
        state.apply_poll(board.id, PollIntent(now - timedelta(hours=i % 48), True, changes, 1))
    async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
        service = Service(_parts(config, state, fetcher))
        pages = StatusPages(service, refresh=60)
        started = time.perf_counter()
        page = await pages.index()
        built = time.perf_counter() - started
        started = time.perf_counter()
        again = await pages.index()
        cached = time.perf_counter() - started
    state.close()
    assert page.count("<article ") == 1000 and again is page
    assert sum(int(n) for n in re.findall(r'data-count="(\d+)"', page)) == sum(
        i % 7 for i in range(1000)
    )
    assert built < 2.0, f"building the index took {built:.3f}s"
    assert cached < 0.01, f"a cached hit took {cached:.4f}s"
