"""The status page in a real browser: a `relay run` process polls simulated boards, and a
headless Chromium (tests/cdp.py) loads `/` and `/boards/<id>` from its listener. The test
reads the DOM as rendered — every board's card, the sparkline's bars against the posts the
simulator added, the board page's posts and delivery states — checks that the browser
reported no console error or exception, and saves screenshots (their paths are printed).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from cdp import PHONE_WIDTH, chromium
from conftest import write_config
from test_daemon import Running, free_port, wait_for

from relay.sim import BoardSimulator

CARDS = """[...document.querySelectorAll('article[data-board]')].map(a => ({
    id: a.dataset.board,
    cls: a.className,
    health: a.querySelector('.health').textContent,
    bars: [...a.querySelectorAll('svg.spark rect')].map(r => Number(r.dataset.count)),
    drawn: [...a.querySelectorAll('svg.spark rect')].map(r => r.getBBox().height > 0),
    right: a.getBoundingClientRect().right,
}))"""
ROWS = """[...document.querySelectorAll('tbody tr')].map(tr => ({
    id: tr.cells[0].textContent,
    states: [...tr.cells[3].querySelectorAll('span')].map(s => s.className),
}))"""


@pytest.mark.slow
async def test_the_status_pages_render_in_chromium(tmp_path: Path, sim: BoardSimulator) -> None:
    added = {"news": 6, "free": 3, "quiet": 1}
    boards = []
    for name, engine in (("news", "rhymix"), ("free", "gnuboard"), ("quiet", "rhymix")):
        board = sim.add_board(name, engine)
        for i in range(added[name]):
            board.add_post(f"{name} 글 {i}", "글쓴이", "<p>본문</p>")
        boards.append({"id": name, "url": board.list_url, "engine": engine, "chat": "@news"})
    port = free_port()
    config = write_config(
        tmp_path,
        boards,
        telegram={"dry_run": True},
        http={"listen": f"127.0.0.1:{port}", "lang": "en"},
    )
    base = f"http://127.0.0.1:{port}"
    running = Running(config)
    try:

        def polled() -> bool:
            try:
                page = httpx.get(f"{base}/", timeout=2).text
            except httpx.HTTPError:
                return False
            return page.count("<dt>Last success</dt><dd><time") == 3

        wait_for(polled, timeout=30, what="every board polled once")
        for i in range(4):  # news gains posts while the service runs: announced, pending
            sim.boards["news"].add_post(f"새 글 {i}", "기자", "<p>새 본문</p>")
        added["news"] += 4
        wait_for(
            lambda: "<dt>Posts known</dt><dd>10</dd>" in httpx.get(f"{base}/", timeout=2).text,
            timeout=30,
            what="the new posts on the status page",
        )
        async with chromium(tmp_path / "chromium") as tab:
            await tab.open(f"{base}/")
            cards = await tab.evaluate(CARDS)
            index_shot = await tab.screenshot(tmp_path / "status-index.png")
            await tab.open(f"{base}/boards/news")
            rows = await tab.evaluate(ROWS)
            scroll = await tab.evaluate("document.documentElement.scrollWidth")
            title = await tab.evaluate("document.querySelector('h2').textContent")
            board_shot = await tab.screenshot(tmp_path / "status-board-news.png")
            problems = tab.problems
        print(f"screenshots: {index_shot} {board_shot}")
    finally:
        running.stop()
    assert [c["id"] for c in cards] == ["news", "free", "quiet"]
    for card in cards:
        assert card["cls"] == "board ok" and card["health"] == "ok", card
        assert len(card["bars"]) == 48
        assert sum(card["bars"]) == added[card["id"]], card  # every post, first seen lately
        assert card["drawn"] == [n > 0 for n in card["bars"]]  # a bar shows where posts came
        assert card["right"] <= PHONE_WIDTH  # fits a phone's width
    assert title == "news" and scroll <= PHONE_WIDTH  # the table scrolls in its own box
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), key=int, reverse=True)
    assert len(rows) == 10
    # The four posts found while running were announced (a dry run leaves them pending); the
    # six of the first poll are history for the feed only.
    assert sum(1 for r in rows if r["states"] == ["s-pending"]) == 4
    assert sum(1 for r in rows if r["states"] == []) == 6
    assert problems == []
    assert index_shot.stat().st_size > 1000 and board_shot.read_bytes()[:4] == b"\x89PNG"
    assert re.search(r"board=news", running.log) is not None
