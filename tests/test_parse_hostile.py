"""Hostile list and article pages, served by the simulator and read by the parser: only http(s)
links become post URLs or images (a row linking elsewhere is dropped and said in the warnings),
bidi controls never reach a title, and a page of 100,000 rows is read up to the row cap, fast.
Normal links keep working: relative ones resolve, against <base href> when there is one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from relay.core.engines import GNUBOARD, RHYMIX, Selectors
from relay.core.errors import LayoutError
from relay.core.parse import MAX_ROWS, ListPage, ParsedList, parse_article, parse_list_page
from relay.core.text import decode_html
from relay.sim import BoardSimulator, SimBoard

NOW = datetime(2025, 2, 5, 12, 0, tzinfo=UTC)
SEOUL = ZoneInfo("Asia/Seoul")
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# The links of issue 9, each with an id the engines' patterns find (the trap: an "id" alone
# made them posts).
DANGEROUS = (
    "JavaScript:alert(1)//102",
    "data:text/html,<script>alert(document.domain)</script>?document_srl=104&wr_id=104",
    "vbscript:msgbox(1)//105",
    "java\tscript:alert(1)//103",
    "file:///etc/passwd/110",
    " \x01javascript:alert(1)//106",
    "JAVA\nSCRIPT:alert(1)//107",
)
PRESETS = {"rhymix": RHYMIX, "gnuboard": GNUBOARD}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


def read(client: httpx.Client, board: SimBoard, **kwargs: int) -> ParsedList:
    response = client.get(board.list_url)
    text = decode_html(response.content, response.headers.get("content-type")).text
    return parse_list_page(
        ListPage(text, board.list_url, NOW, SEOUL), PRESETS[board.engine], **kwargs
    )


def hostile_board(sim: BoardSimulator, engine: str) -> SimBoard:
    board = sim.add_board(f"b_{engine}", engine)
    board.add_post("첫 글", "작성자")
    for link in DANGEROUS:
        board.add_post(f"클릭 {link[:4]}", "공격자", link=link)
    board.add_post(f"사진 {BIDI}gpj.exe", f"관리{BIDI}자")
    board.add_post("외부 글", link="//mirror.example/board/108")  # protocol-relative: http
    return board


@pytest.mark.parametrize("engine", ["rhymix", "gnuboard"])
def test_rows_with_dangerous_links_are_dropped_with_a_warning(
    sim: BoardSimulator, client: httpx.Client, engine: str
) -> None:
    board = hostile_board(sim, engine)
    parsed = read(client, board)
    urls = {p.url for p in parsed.posts}
    assert all(u.startswith(("http://", "https://")) for u in urls)
    assert not any(word in u.lower() for u in urls for word in ("script", "data:", "file:"))
    assert [p.title for p in parsed.posts if "클릭" in p.title] == []
    assert {"첫 글", "사진 gpj.exe", "외부 글"} <= {p.title for p in parsed.posts}
    assert "http://mirror.example/board/108" in urls
    assert len(parsed.warnings) == len(DANGEROUS)
    for warning in parsed.warnings:
        assert warning.startswith(board.list_url + ": row of post ")
        assert "is not http(s)" in warning
    assert all("\t" not in w and "\n" not in w and "\x01" not in w for w in parsed.warnings)


@pytest.mark.parametrize("engine", ["rhymix", "gnuboard"])
def test_bidi_controls_never_reach_titles_or_authors(
    sim: BoardSimulator, client: httpx.Client, engine: str
) -> None:
    board = hostile_board(sim, engine)
    posts = read(client, board).posts
    shown = " ".join(p.title + " " + p.author for p in posts)
    assert not any(ch in shown for ch in BIDI)
    assert "사진 gpj.exe" in shown and "관리자" in shown


def test_an_article_image_that_is_not_http_is_passed_over(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("news")
    body = (
        '<p><img src="JavaScript:alert(1)" alt=""></p>'
        '<p><img src="data:image/png;base64,iVBORw0KGgo=" alt=""></p>'
        '<p><img src="java&#9;script:alert(2)" alt=""></p>'
        f"<p>본문 {BIDI}입니다</p>"
        '<p><img src="/files/photo.jpg" alt=""></p>'
    )
    post = board.add_post("그림 글", body=body)
    html = client.get(board.article_url(post.id)).text
    article = parse_article(
        html, url=board.article_url(post.id), selectors=RHYMIX, excerpt_chars=200
    )
    assert article.image == f"{sim.base_url}/files/photo.jpg"
    assert "본문 입니다" in article.excerpt and not any(ch in article.text for ch in BIDI)
    only_bad = board.add_post("나쁜 그림", body='<p>글</p><p><img src="vbscript:x" alt=""></p>')
    html = client.get(board.article_url(only_bad.id)).text
    parsed = parse_article(
        html, url=board.article_url(only_bad.id), selectors=RHYMIX, excerpt_chars=50
    )
    assert parsed.image is None


def test_a_page_whose_every_row_links_elsewhere_is_a_layout_error_saying_why(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("news")
    for n in range(3):
        board.add_post(f"글 {n}", link=f"javascript:alert({n})//{200 + n}")
    with pytest.raises(LayoutError, match=r"no post rows with an http\(s\) link.*javascript"):
        read(client, board)


def row_page(hrefs: list[str], base: str = "") -> str:
    rows = "".join(
        f'<tr><td class="no">{9 - i}</td><td class="title"><a href="{href}">글 {i}</a></td></tr>'
        for i, href in enumerate(hrefs)
    )
    head = f'<head><base href="{base}"></head>' if base else ""
    return f"<html>{head}<body><div class='board_list'><table><tbody>{rows}</tbody></table>"


@pytest.mark.parametrize(
    ("base", "href", "expected"),
    [
        ("", "/free/47209", "https://b.example/free/47209"),
        ("", "47209", "https://b.example/list/47209"),
        ("", "HTTPS://b.example/free/47209", "https://b.example/free/47209"),
        ("", "  https://b.example/free/47209\n", "https://b.example/free/47209"),
        ("", "//cdn.example/free/47209", "https://cdn.example/free/47209"),
        ("http://other.example/x/", "free/47209", "http://other.example/x/free/47209"),
        ("/m/", "47209", "https://b.example/m/47209"),
        (
            "",
            "/index.php?mid=free&document_srl=47209&page=3",
            "https://b.example/index.php?mid=free&document_srl=47209",
        ),
    ],
)
def test_normal_links_resolve_as_before(base: str, href: str, expected: str) -> None:
    parsed = parse_list_page(
        ListPage(row_page([href], base), "https://b.example/list/", NOW, SEOUL), RHYMIX
    )
    assert [p.url for p in parsed.posts] == [expected] and parsed.warnings == ()


def test_a_safe_link_in_the_row_wins_over_a_dangerous_one() -> None:
    html = (
        "<div class='board_list'><table><tbody><tr><td class='title'>"
        "<a href='javascript:go(47209)//47209'>글</a> <a href='/free/47209'>[3]</a>"
        "</td></tr></tbody></table></div>"
    )
    parsed = parse_list_page(ListPage(html, "https://b.example/free", NOW, SEOUL), RHYMIX)
    assert [p.url for p in parsed.posts] == ["https://b.example/free/47209"]
    assert parsed.warnings == ()


def test_rows_beyond_the_cap_are_not_read_and_that_is_said() -> None:
    html = row_page([f"/free/{1000 + i}" for i in range(30)])

    def read_capped(max_rows: int) -> ParsedList:
        return parse_list_page(
            ListPage(html, "https://b.example/free", NOW, SEOUL), RHYMIX, max_rows=max_rows
        )

    capped = read_capped(10)
    assert [p.id for p in capped.posts] == [str(1000 + i) for i in range(10)]
    assert capped.warnings == (
        "https://b.example/free: the page has 30 rows; only the first 10 were read "
        "(the cap on rows per list page)",
    )
    whole = read_capped(30)
    assert len(whole.posts) == 30 and whole.warnings == ()
    with pytest.raises(ValueError, match="max_rows"):
        read_capped(0)


def test_a_hundred_thousand_row_page_is_read_to_the_cap_quickly(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("big", page_size=100_000, article_list_size=20)
    board.add_posts(100_000, published=NOW)
    response = client.get(board.list_url)
    text = decode_html(response.content, response.headers.get("content-type")).text
    started = time.monotonic()
    LexborHTMLParser(text)
    tree_only = time.monotonic() - started
    started = time.monotonic()
    parsed = parse_list_page(ListPage(text, board.list_url, NOW, SEOUL), RHYMIX)
    elapsed = time.monotonic() - started
    assert len(parsed.posts) == MAX_ROWS == 500
    assert [p.title for p in parsed.posts[:2]] == ["글 99999", "글 99998"]
    assert parsed.warnings[-1].endswith(
        "the page has 100,000 rows; only the first 500 were read (the cap on rows per list page)"
    )
    # Reading 500 rows costs little next to building the tree of a 30 MB page: the other
    # 99,500 rows cost nothing beyond that (uncapped, this took over 20 times as long).
    assert elapsed < 4 * tree_only + 1.0, (elapsed, tree_only)


def test_selectors_of_a_custom_board_are_capped_too() -> None:
    custom = Selectors(row=("li.item",), link=("a",), title=("a",), id_pattern=(r"/(\d+)$",))
    html = "<ul>" + "".join(f"<li class='item'><a href='/p/{i}'>t{i}</a></li>" for i in range(2000))
    parsed = parse_list_page(ListPage(html, "http://c.example/", NOW, SEOUL), custom)
    assert len(parsed.posts) == 500 and "2,000 rows" in parsed.warnings[0]
