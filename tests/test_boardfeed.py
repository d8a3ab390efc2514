"""The board's own feed: found where the engines put it, read as the list parser reads rows.

The corpus (tests/corpus/feeds/) holds feeds written the way the engines' templates render
them (Rhymix rss20/atom10, XE 1.x rss20, Gnuboard 5 and 4 bbs/rss.php), each next to its
`.expected.json`, plus what a disabled feed answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from relay.core.boardfeed import (
    BoardFeedError,
    board_key,
    entry_article,
    feed_candidates,
    parse_board_feed,
)
from relay.core.engines import PRESETS
from relay.core.text import fold_whitespace

FEEDS = Path(__file__).parent / "corpus" / "feeds"
CASES = sorted(p.name.removesuffix(".expected.json") for p in FEEDS.glob("*.expected.json"))


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FEEDS / f"{name}.expected.json").read_text("utf-8"))
    return data


def feed_file(name: str) -> bytes:
    return next(FEEDS.glob(f"{name}.xml")).read_bytes()


def read(name: str, data: bytes | None = None) -> list[Any]:
    case = expected(name)
    return list(
        parse_board_feed(
            feed_file(name) if data is None else data,
            engine=case["engine"],
            board_url=case["board_url"],
            id_pattern=PRESETS[case["engine"]].id_pattern,
            content_type=case["content_type"],
        )
    )


@pytest.mark.parametrize("name", CASES)
def test_corpus_feed_reads_field_by_field(name: str) -> None:
    case = expected(name)
    entries = read(name)
    assert [e.id for e in entries] == [want["id"] for want in case["entries"]]
    for entry, want in zip(entries, case["entries"], strict=True):
        assert entry.url == want["url"]
        assert entry.title == want["title"]
        assert entry.author == want["author"]
        assert entry.category == want["category"]
        assert entry.published == datetime.fromisoformat(want["published"])
        assert entry.published is not None and entry.published.utcoffset() is not None
        assert entry.comments == want["comments"]
        article = entry_article(entry, excerpt_chars=200)
        text = fold_whitespace(article.text)
        for fragment in want["body_contains"]:
            assert fragment in text, (entry.id, fragment, text)
        for fragment in want["body_excludes"]:
            assert fragment not in text, (entry.id, fragment)
        assert article.image == want["image"]


def test_the_corpus_has_every_engine_and_format() -> None:
    assert {expected(n)["engine"] for n in CASES} == {"rhymix", "xe", "gnuboard"}
    assert {"rhymix_rss", "rhymix_atom", "xe_rss", "gnuboard4_rss_euckr"} <= set(CASES)


def test_an_euc_kr_feed_is_read_as_cp949_even_when_the_header_says_nothing() -> None:
    entries = read("gnuboard4_rss_euckr")
    assert entries[0].title.startswith("햏자의 똠방각하")
    with_header = parse_board_feed(
        feed_file("gnuboard4_rss_euckr"),
        engine="gnuboard",
        board_url="http://g4.example.kr/bbs/board.php?bo_table=humor",
        id_pattern=PRESETS["gnuboard"].id_pattern,
        content_type="text/xml; charset=EUC-KR",
    )
    assert with_header == entries


def test_a_disabled_rhymix_feed_is_an_error_that_says_why() -> None:
    with pytest.raises(BoardFeedError) as caught:
        parse_board_feed(
            (FEEDS / "rhymix_disabled.xml").read_bytes(),
            engine="rhymix",
            board_url="https://rhymix.example.kr/free",
            id_pattern=PRESETS["rhymix"].id_pattern,
            feed_url="https://rhymix.example.kr/index.php?mid=free&act=rss",
        )
    assert caught.value.reason == "empty"
    assert "https://rhymix.example.kr/index.php?mid=free&act=rss" in str(caught.value)
    assert "피드(Feed) 기능이 잠겨 있습니다" in str(caught.value)


@pytest.mark.parametrize("name", ["gnuboard_disabled.txt", "gnuboard_members_only.txt"])
def test_gnuboards_refusal_is_not_a_feed(name: str) -> None:
    body = (FEEDS / name).read_bytes()
    with pytest.raises(BoardFeedError) as caught:
        parse_board_feed(
            body,
            engine="gnuboard",
            board_url="https://g5.example.kr/bbs/board.php?bo_table=free",
            id_pattern=PRESETS["gnuboard"].id_pattern,
        )
    assert caught.value.reason == "not a feed"
    assert body.decode() in str(caught.value)


def test_a_list_page_is_not_a_feed() -> None:
    page = (FEEDS.parent / "rhymix_default.html").read_bytes()
    with pytest.raises(BoardFeedError, match="not a feed"):
        parse_board_feed(
            page,
            engine="rhymix",
            board_url="https://rhymix.example.kr/free",
            id_pattern=PRESETS["rhymix"].id_pattern,
        )


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" ?><rss version="2.0"><channel><title>t</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(link: str, title: str = "제목") -> str:
    return f"<item><title>{title}</title><link>{link}</link><description>x</description></item>"


def test_entries_without_an_id_or_from_another_board_are_skipped() -> None:
    data = rss(
        item("https://r.example.kr/free/101", "하나"),
        item("https://r.example.kr/page/about", "소개 페이지"),
        item("https://r.example.kr/index.php?mid=notice&document_srl=99", "다른 게시판"),
        item("https://r.example.kr/index.php?mid=free&document_srl=100", "둘"),
        item("https://r.example.kr/free/101", "하나 (중복)"),
    )
    entries = parse_board_feed(
        data,
        engine="rhymix",
        board_url="https://r.example.kr/free",
        id_pattern=PRESETS["rhymix"].id_pattern,
    )
    assert [(e.id, e.title) for e in entries] == [("101", "하나"), ("100", "둘")]


def test_gnuboard_seo_title_links_are_kept_when_the_boards_pattern_reads_them() -> None:
    """`/{bo_table}/{slug}` cannot tell the board from a folder: it never marks an entry
    as another board's; the board's own id_pattern decides."""
    data = rss(item("https://g5.example.kr/free/%EA%B3%B5%EC%A7%80-%EC%95%88%EB%82%B4/", "공지"))
    (entry,) = parse_board_feed(
        data,
        engine="gnuboard",
        board_url="https://g5.example.kr/free",
        id_pattern=[r"/free/([^/?#]+)/?$"],
    )
    assert entry.id == "%EA%B3%B5%EC%A7%80-%EC%95%88%EB%82%B4" and entry.title == "공지"


def test_a_feed_whose_entries_carry_no_id_is_an_error_naming_the_pattern() -> None:
    data = rss(item("https://r.example.kr/about"), item("https://r.example.kr/contact"))
    with pytest.raises(BoardFeedError) as caught:
        parse_board_feed(
            data, engine="custom", board_url="https://r.example.kr/", id_pattern=[r"no=(\d+)"]
        )
    assert caught.value.reason == "no ids" and r"no=(\d+)" in str(caught.value)


def test_relative_links_and_list_state_are_normalised_like_list_rows() -> None:
    data = rss(item("/xe/index.php?mid=free&amp;page=3&amp;document_srl=7#comment"))
    (entry,) = parse_board_feed(
        data,
        engine="xe",
        board_url="http://x.example.kr/xe/index.php?mid=free",
        id_pattern=PRESETS["xe"].id_pattern,
    )
    assert entry.url == "http://x.example.kr/xe/index.php?mid=free&document_srl=7"


# --- where the feed is -----------------------------------------------------------------

RHYMIX_HEAD = """<html><head><title>자유게시판</title>
<link rel="alternate" type="application/rss+xml" title="RSS" href="https://r.example.kr/free/rss" />
<link rel="alternate" type="application/atom+xml" title="Atom"
 href="https://r.example.kr/free/atom" />
<link rel="alternate" type="application/rss+xml" title="Site RSS" href="https://r.example.kr/rss" />
<link rel="alternate" type="application/atom+xml" title="Site Atom"
 href="https://r.example.kr/atom" />
<link rel="alternate" hreflang="en" href="https://r.example.kr/en/free" />
</head><body></body></html>"""


def test_rhymix_candidates_put_the_advertised_board_feeds_first_atom_before_rss() -> None:
    found = feed_candidates("https://r.example.kr/free", RHYMIX_HEAD, "rhymix")
    assert found == [
        "https://r.example.kr/free/atom",
        "https://r.example.kr/free/rss",
        "https://r.example.kr/index.php?mid=free&act=atom",
        "https://r.example.kr/index.php?mid=free&act=rss",
    ]


@pytest.mark.parametrize(
    ("list_url", "known"),
    [
        ("https://r.example.kr/free", "https://r.example.kr/index.php?mid=free&act="),
        ("https://r.example.kr/free/page/3", "https://r.example.kr/index.php?mid=free&act="),
        ("https://r.example.kr/free/category/77", "https://r.example.kr/index.php?mid=free&act="),
        ("http://x.example.kr/xe/freeboard", "http://x.example.kr/xe/index.php?mid=freeboard&act="),
        (
            "http://x.example.kr/xe/index.php?mid=freeboard&page=2",
            "http://x.example.kr/xe/index.php?mid=freeboard&act=",
        ),
        ("http://x.example.kr/?mid=qna", "http://x.example.kr/index.php?mid=qna&act="),
    ],
)
def test_rhymix_known_feed_urls_from_both_url_forms(list_url: str, known: str) -> None:
    page = "<html><head></head><body><p>no feed links</p></body></html>"
    assert feed_candidates(list_url, page, "rhymix") == [known + "atom", known + "rss"]
    assert feed_candidates(list_url, page, "xe") == [known + "atom", known + "rss"]


@pytest.mark.parametrize(
    ("list_url", "known"),
    [
        (
            "https://g5.example.kr/bbs/board.php?bo_table=free",
            "https://g5.example.kr/bbs/rss.php?bo_table=free",
        ),
        (
            "https://g5.example.kr/bbs/board.php?bo_table=free&page=2&sca=잡담",
            "https://g5.example.kr/bbs/rss.php?bo_table=free",
        ),
        ("https://g5.example.kr/free", "https://g5.example.kr/bbs/rss.php?bo_table=free"),
        ("https://g5.example.kr/free/?page=2", "https://g5.example.kr/bbs/rss.php?bo_table=free"),
        ("http://x.example.kr/g5/notice", "http://x.example.kr/g5/bbs/rss.php?bo_table=notice"),
        (
            "http://g4.example.kr/gnu4/bbs/board.php?bo_table=humor",
            "http://g4.example.kr/gnu4/bbs/rss.php?bo_table=humor",
        ),
    ],
)
def test_gnuboard_known_feed_url_from_board_php_and_short_urls(list_url: str, known: str) -> None:
    assert feed_candidates(list_url, "<html><body></body></html>", "gnuboard") == [known]


def test_gnuboards_rss_button_is_a_candidate_and_another_boards_is_not() -> None:
    page = """<div id="bo_list"><ul class="btn_bo_user">
    <li><a href="https://cdn.example.kr/bbs/rss.php?bo_table=free" class="btn_b01 btn" title="RSS">
    <i class="fa fa-rss" aria-hidden="true"></i><span class="sound_only">RSS</span></a></li></ul>
    </div><aside><a href="https://g5.example.kr/bbs/rss.php?bo_table=notice">공지 RSS</a></aside>"""
    found = feed_candidates("https://g5.example.kr/bbs/board.php?bo_table=free", page, "gnuboard")
    assert found == [
        "https://cdn.example.kr/bbs/rss.php?bo_table=free",
        "https://g5.example.kr/bbs/rss.php?bo_table=free",
    ]


def test_a_custom_board_has_only_what_its_page_advertises_resolved_against_base() -> None:
    page = """<html><head><base href="/community/">
    <link rel="alternate" type="application/rss+xml" href="feed.xml"></head><body></body></html>"""
    assert feed_candidates("https://c.example.kr/list?id=1", page, "custom") == [
        "https://c.example.kr/community/feed.xml"
    ]
    assert feed_candidates("https://c.example.kr/list?id=1", "<p>x</p>", "custom") == []


@pytest.mark.parametrize(
    ("url", "engine", "key"),
    [
        ("https://r.example.kr/free/9301364", "rhymix", "free"),
        ("https://r.example.kr/index.php?mid=free&document_srl=1", "rhymix", "free"),
        ("https://r.example.kr/index.php?document_srl=1", "rhymix", None),
        ("https://r.example.kr/", "rhymix", None),
        ("https://r.example.kr/rss", "rhymix", None),
        ("https://g5.example.kr/free/131", "gnuboard", "free"),
        ("https://g5.example.kr/bbs/rss.php?bo_table=free", "gnuboard", "free"),
        ("https://g5.example.kr/bbs/board.php", "gnuboard", None),
        ("https://c.example.kr/free", "custom", None),
    ],
)
def test_board_key_reads_mid_and_bo_table(url: str, engine: str, key: str | None) -> None:
    assert board_key(url, engine) == key


def test_boardfeed_and_decoding_import_no_io_library() -> None:
    code = (
        "import sys, relay.core.boardfeed, relay.core.decoding\n"
        "print([m for m in ('httpx', 'sqlite3', 'telegram', 'apscheduler', 'aiohttp')"
        " if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
