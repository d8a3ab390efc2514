"""The reader's feed end to end: `feed_content = "full"` puts the sanitized article body in the
Atom file (and the JSON Feed beside it), the listener serves both and an OPML of every feed,
and `relay opml` prints the same. The simulator serves hostile bodies; the fetcher, parser,
sanitizer, state and feed writer are the real ones.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx
import pytest
from atomcheck import assert_valid_atom
from conftest import make_config, run_relay, write_config
from fakebot import telegram_units
from feedparser.sanitizer import _sanitize_html

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.config import Config
from relay.core.engines import RHYMIX
from relay.core.errors import ConfigError
from relay.core.message import MAX_LENGTH, format_message
from relay.core.models import StoredPost
from relay.core.sanitize import sanitize_page
from relay.pipeline.feed import opml_document
from relay.pipeline.poll import poll_board
from relay.service.metrics import Metrics
from relay.service.web import Health, WebServer, feeds_of, start_web
from relay.sim import BoardSimulator

HOSTILE_BODY = (
    '<p onclick="steal()">첫 문단 <a href="javascript:alert(1)">링크</a></p>'
    "<script>alert('x')</script><svg><script>alert(2)</script></svg>"
    '<p><img src="/files/spacer.gif" data-src="/files/real.jpg" onerror="alert(3)"></p>'
    '<p style="width: expression(alert(4))"><a href="/board/other">상대 링크</a></p>'
    '<iframe src="https://evil.example/"></iframe><a href="data:text/html,x">data</a>'
)


def now() -> datetime:
    return datetime.now(UTC)


def _config(tmp_path: Path, sim: BoardSimulator, **settings: object) -> Config:
    board = sim.add_board("free", engine="rhymix")
    board.add_post("평범한 글", body="그냥 본문")
    board.add_post("위험한 글", body=HOSTILE_BODY)
    entry = {"id": "free", "url": board.list_url, "engine": "rhymix", "title": "자유게시판"}
    return make_config(tmp_path, [{**entry, **settings}])


async def _poll(config: Config) -> None:
    state = SqliteState(config.state)
    try:
        async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
            outcome = await poll_board(config.boards[0], fetcher, state, now)
        assert outcome.ok, outcome.error
    finally:
        state.close()


def _dangerous(html: str) -> list[str]:
    lowered = html.lower()
    return [
        word
        for word in ("<script", "onerror", "onclick", "javascript:", "data:", "expression(")
        if word in lowered
    ] + (["<iframe"] if "<iframe" in lowered else [])


async def test_full_content_carries_the_sanitized_body_in_a_valid_atom_feed(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    config = _config(tmp_path, sim, feed_content="full", excerpt_chars=10000)
    await _poll(config)
    parsed = assert_valid_atom(config.boards[0].feed_path.read_bytes())
    entry = next(e for e in parsed.entries if e.title == "위험한 글")
    body = entry.content[0].value
    assert entry.content[0].type == "text/html"
    assert "첫 문단" in body and "상대 링크" in body
    assert _dangerous(body) == []
    host = config.boards[0].url.split("/")[2]
    assert f"http://{host}/files/real.jpg" in body  # the lazy image's real source, absolute
    assert f'href="http://{host}/board/other"' in body  # a relative link made absolute
    # feedparser's own sanitizer finds nothing more to remove.
    assert _sanitize_html(body, "utf-8", "text/html").count("<") == body.count("<")
    # The raw file too: no dangerous markup escaped or not.
    raw = ET.fromstring(config.boards[0].feed_path.read_bytes())
    contents = [c.text or "" for c in raw.iter("{http://www.w3.org/2005/Atom}content")]
    assert contents and all(_dangerous(c) == [] for c in contents)


async def test_excerpt_mode_keeps_plain_text_content(tmp_path: Path, sim: BoardSimulator) -> None:
    config = _config(tmp_path, sim)
    await _poll(config)
    parsed = assert_valid_atom(config.boards[0].feed_path.read_bytes())
    entry = next(e for e in parsed.entries if e.title == "위험한 글")
    assert "<a " not in entry.get("content", [{"value": ""}])[0]["value"]
    assert not (config.boards[0].json_path).exists()  # json_feed is off by default


def test_excerpt_chars_accepts_any_positive_size(tmp_path: Path) -> None:
    board = {"id": "a", "url": "http://127.0.0.1:1/a", "excerpt_chars": 100000}
    assert make_config(tmp_path, [board]).boards[0].excerpt_chars == 100000
    with pytest.raises(ConfigError, match="feed_content"):
        make_config(tmp_path, [{**board, "feed_content": "everything"}])


def test_two_boards_cannot_share_a_json_feed(tmp_path: Path) -> None:
    boards = [
        {"id": "a", "url": "http://127.0.0.1:1/a", "feed": "x.atom", "json_feed": True},
        {"id": "b", "url": "http://127.0.0.1:1/b", "feed": "x.xml", "json_feed": True},
    ]
    with pytest.raises(ConfigError, match='"x.json" is already a feed of boards'):
        make_config(tmp_path, boards)


@pytest.fixture
async def served(tmp_path: Path, sim: BoardSimulator) -> AsyncIterator[tuple[Config, WebServer]]:
    config = _config(tmp_path, sim, feed_content="full", json_feed=True)
    await _poll(config)

    class Opml:
        def opml(self, base_url: str) -> bytes:
            return opml_document(config.boards, base_url, now())

        async def index(self) -> str:
            return "<p>index</p>"

        async def board(self, board_id: str) -> str | None:
            return None

    web = await start_web(
        "127.0.0.1",
        0,
        feeds=lambda: feeds_of(config.boards),
        health=lambda: Health(ok=True),
        metrics=Metrics(),
        pages=Opml(),
    )
    yield config, web
    await web.close()


async def test_json_feed_beside_the_atom_file_is_served_with_its_type(
    served: tuple[Config, WebServer],
) -> None:
    config, web = served
    assert config.boards[0].json_path.name == "free.json"
    async with httpx.AsyncClient(base_url=web.url) as client:
        r = await client.get("/feeds/free.json")
        atom = feedparser.parse((await client.get("/feeds/free.atom")).content)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/feed+json")
    feed = json.loads(r.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and feed["title"] == "자유게시판"
    assert all({"id", "url", "title"} <= item.keys() for item in feed["items"])
    assert [i["id"] for i in feed["items"]] == [e.id for e in atom.entries]
    hostile = next(i for i in feed["items"] if i["title"] == "위험한 글")
    assert "첫 문단" in hostile["content_html"] and _dangerous(hostile["content_html"]) == []


async def test_the_listener_serves_an_opml_of_every_feed(served: tuple[Config, WebServer]) -> None:
    config, web = served
    async with httpx.AsyncClient(base_url=web.url) as client:
        r = await client.get("/feeds.opml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/x-opml")
    outlines = ET.fromstring(r.content).findall("./body/outline")
    assert [(o.get("text"), o.get("xmlUrl"), o.get("htmlUrl")) for o in outlines] == [
        ("자유게시판", f"{web.url}/feeds/free.atom", config.boards[0].url)
    ]


def test_relay_opml_prints_every_boards_feed(tmp_path: Path) -> None:
    boards = [
        {"id": "a", "url": "http://127.0.0.1:1/a", "title": "에이"},
        {"id": "b", "url": "http://127.0.0.1:1/b", "feed_url": "https://feeds.example/b.atom"},
    ]
    path = write_config(tmp_path, boards, http={"listen": "127.0.0.1:8099"})
    done = run_relay("opml", "-c", str(path))
    assert done.returncode == 0, done.stderr
    outlines = ET.fromstring(done.stdout.encode()).findall("./body/outline")
    assert [(o.get("text"), o.get("xmlUrl")) for o in outlines] == [
        ("에이", "http://127.0.0.1:8099/feeds/a.atom"),
        ("b", "https://feeds.example/b.atom"),
    ]
    bare = write_config(tmp_path, boards[:1])
    refused = run_relay("opml", "-c", str(bare))
    assert refused.returncode == 2 and "--base-url" in refused.stderr


def test_a_huge_excerpt_is_cut_to_fit_a_telegram_message(tmp_path: Path) -> None:
    """excerpt_chars has no upper bound for the feed; the message is cut to Telegram's limit
    (counted as the fake Bot API counts it: UTF-16 units after entity parsing)."""
    board = {"id": "a", "url": "http://127.0.0.1:1/a", "excerpt_chars": 20000}
    config = make_config(tmp_path, [board])
    seen = now()
    post = StoredPost("a", "1", "http://127.0.0.1:1/a/1", "제목", 1, "", None, seen, seen)
    message = format_message(
        replace(post, excerpt="글 " * 10000), chat="@c", settings=config.boards[0].message
    )
    assert telegram_units(message.text) <= MAX_LENGTH
    assert "글 " * 100 in message.text


def test_a_whole_article_page_resolves_links_against_its_own_base_href() -> None:
    page = (
        '<html><head><base href="/mirror/"></head><body><div class="read_body">'
        '<div class="xe_content"><p><a href="post/2">다음</a> <img data-original="i.png" '
        'src="data:image/gif;base64,R0lGOD"></p><script>x()</script></div></div></body></html>'
    )
    body = sanitize_page(page, url="https://board.example.kr/free/1", body_selectors=RHYMIX.body)
    assert 'href="https://board.example.kr/mirror/post/2"' in body.html
    assert 'src="https://board.example.kr/mirror/i.png"' in body.html
    assert _dangerous(body.html) == [] and not body.truncated
