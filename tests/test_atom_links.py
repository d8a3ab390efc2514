"""Only http(s) links in a feed: from a hostile board served by the simulator to the Atom bytes,
no javascript:, data:, vbscript: or file: URL becomes a <link href> or an <img src>, and no bidi
control a title. atom.py checks links again itself, for posts stored before the parser did."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from atomcheck import assert_valid_atom
from lxml import etree

from relay.adapters.fetch import Fetcher
from relay.core.atom import render_feed
from relay.core.engines import GNUBOARD, RHYMIX, Selectors
from relay.core.models import FeedInfo, StoredPost
from relay.core.parse import ListPage, parse_article, parse_list_page
from relay.core.text import decode_html
from relay.sim import BoardSimulator

KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 2, 5, 3, 0, tzinfo=UTC)
ATOM = {"a": "http://www.w3.org/2005/Atom"}
BIDI = "\u202e\u2066\u2069\u200f\u061c"
DANGEROUS = (
    "JavaScript:alert(1)//102",
    "data:text/html,<script>alert(1)</script>?document_srl=104&wr_id=104",
    "vbscript:msgbox(1)//105",
    "java\tscript:alert(1)//103",
    "file:///etc/passwd/110",
)
INFO = FeedInfo(
    board_id="b", title="게시판", site_url="https://b.example/free", tag_authority="b.example"
)


def stored(post_id: str, url: str, image: str | None = None, board_id: str = "b") -> StoredPost:
    return StoredPost(
        board_id=board_id,
        id=post_id,
        url=url,
        title=f"글 {post_id}",
        number=None,
        author="작성자",
        published=None,
        first_seen=NOW,
        updated=NOW,
        image=image,
    )


def hrefs(feed: bytes) -> list[str]:
    tree = etree.fromstring(feed)
    return [str(h) for h in tree.xpath("//a:link/@href", namespaces=ATOM)]


def assert_nothing_dangerous(feed: bytes) -> None:
    lowered = feed.lower()
    for word in (b"javascript", b"vbscript", b"data:", b"file:", b"java\tscript", b"java&#9;"):
        assert word not in lowered, word
    assert all(h.startswith(("http://", "https://")) for h in hrefs(feed))
    assert not any(ch.encode() in feed for ch in BIDI)


@pytest.mark.parametrize(("engine", "selectors"), [("rhymix", RHYMIX), ("gnuboard", GNUBOARD)])
async def test_a_hostile_board_gives_a_feed_with_only_web_links(
    sim: BoardSimulator, engine: str, selectors: Selectors
) -> None:
    board = sim.add_board("hostile", engine)
    board.add_post("평범한 글", body="<p>본문</p><p><img src='/files/a.jpg' alt=''></p>")
    for link in DANGEROUS:
        board.add_post("클릭하세요", link=link)
    board.add_post(
        f"속임수 {BIDI}gpj.exe", f"관{BIDI}리자", body="<p><img src='javascript:alert(3)'></p>"
    )
    async with Fetcher(user_agent="t", host_delay=0, timeout=10) as fetcher:
        page = await fetcher.get(board.list_url)
        text = decode_html(page.body, page.content_type).text
        parsed = parse_list_page(ListPage(text, page.url, NOW, KST), selectors)
        posts = []
        for post in parsed.posts:
            article_page = await fetcher.get(post.url)
            article = parse_article(
                decode_html(article_page.body, article_page.content_type).text,
                url=article_page.url,
                selectors=selectors,
                excerpt_chars=100,
            )
            posts.append(
                StoredPost(
                    board_id="hostile",
                    id=post.id,
                    url=post.url,
                    title=post.title,
                    number=post.number,
                    author=post.author,
                    published=post.published,
                    first_seen=NOW,
                    updated=NOW,
                    excerpt=article.excerpt,
                    text=article.text,
                    image=article.image,
                )
            )
    assert len(parsed.warnings) == len(DANGEROUS) and len(posts) == 2
    info = FeedInfo(board_id="hostile", title="hostile", site_url=board.list_url)
    feed = render_feed(info, posts, max_entries=50, tz=KST)
    assert_valid_atom(feed)
    assert_nothing_dangerous(feed)
    assert f"{sim.base_url}/files/a.jpg".encode() in feed
    assert "속임수 gpj.exe".encode() in feed and "관리자".encode() in feed


@pytest.mark.parametrize("url", [*DANGEROUS, " \x01javascript:alert(1)//9", "//b.example/free/9"])
def test_a_stored_post_with_a_dangerous_url_links_to_the_board_instead(url: str) -> None:
    feed = render_feed(
        INFO, [stored("9", url), stored("8", "https://b.example/free/8")], max_entries=10, tz=KST
    )
    assert_valid_atom(feed)
    assert_nothing_dangerous(feed)
    assert hrefs(feed) == [
        "https://b.example/free",
        "https://b.example/free",
        "https://b.example/free/8",
    ]


@pytest.mark.parametrize(
    "image",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:image/png;base64,AAAA",
        "java\tscript:x",
        "/relative.jpg",
    ],
)
def test_an_image_that_is_not_a_web_url_is_dropped(image: str) -> None:
    feed = render_feed(
        INFO, [stored("9", "https://b.example/free/9", image)], max_entries=10, tz=KST
    )
    assert_valid_atom(feed)
    assert b"&lt;img" not in feed and b"<img" not in feed and b"relative.jpg" not in feed


def test_a_web_image_is_kept_with_its_scheme_lowered() -> None:
    feed = render_feed(
        INFO,
        [stored("9", "https://b.example/free/9", "HTTPS://cdn.example/a.jpg")],
        max_entries=10,
        tz=KST,
    )
    assert b"https://cdn.example/a.jpg" in feed


def test_feed_level_links_that_are_not_web_urls_are_left_out() -> None:
    info = FeedInfo(
        board_id="b",
        title="게시판",
        site_url="javascript:alert(1)",
        feed_url="data:text/xml,<x/>",
        tag_authority="b.example",
    )
    feed = render_feed(info, [stored("9", "https://b.example/free/9")], max_entries=10, tz=KST)
    assert_valid_atom(feed)
    assert_nothing_dangerous(feed)
    assert hrefs(feed) == ["https://b.example/free/9"]
