"""relay.core.opml: the subscription list, read back by two XML parsers field by field."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import lxml.etree
import pytest

from relay.core.opml import OpmlFeed, render_opml

NOW = datetime(2025, 2, 5, 6, 30, 15, tzinfo=UTC)
FEEDS = [
    OpmlFeed(
        title="랭킹뉴스 — 자유게시판",
        xml_url="http://127.0.0.1:8080/feeds/ranknews.atom",
        html_url="https://rank.example.kr/free",
        description="ranknews",
        language="ko",
    ),
    OpmlFeed(
        title='Q&A <질문> "답변" \'s',
        xml_url="http://127.0.0.1:8080/feeds/qna.json",
        html_url="https://ex.kr/bbs/board.php?bo_table=qna&page=1",
    ),
    OpmlFeed(title="a\x00b\x1bc\ufffe", xml_url="http://h/feeds/c.atom", html_url="http://h/c"),
]


def _outlines(data: bytes) -> list[dict[str, str]]:
    return [dict(el.attrib) for el in ET.fromstring(data).iter("outline")]


def test_every_field_round_trips_through_elementtree_and_lxml() -> None:
    data = render_opml(FEEDS, title="board-relay 피드", now=NOW)
    root = lxml.etree.fromstring(data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "board-relay 피드"
    assert [dict(el.attrib) for el in root.iter("outline")] == _outlines(data)
    first, second, third = _outlines(data)
    assert first == {
        "type": "rss",
        "text": "랭킹뉴스 — 자유게시판",
        "title": "랭킹뉴스 — 자유게시판",
        "xmlUrl": "http://127.0.0.1:8080/feeds/ranknews.atom",
        "htmlUrl": "https://rank.example.kr/free",
        "description": "ranknews",
        "language": "ko",
    }
    assert second["text"] == second["title"] == 'Q&A <질문> "답변" \'s'
    assert second["htmlUrl"] == "https://ex.kr/bbs/board.php?bo_table=qna&page=1"
    assert "description" not in second and "language" not in second
    assert third["title"] == "abc"  # characters XML cannot carry are dropped, not fatal


def test_document_is_utf8_with_korean_intact_and_escaped_markup() -> None:
    data = render_opml(FEEDS, title="t", now=NOW)
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert "랭킹뉴스".encode() in data  # not turned into character references
    assert b"<\xec\xa7\x88" not in data and b"&lt;" in data and b"&amp;" in data


def test_date_created_is_rfc822_of_now() -> None:
    kst = timezone(timedelta(hours=9))
    data = render_opml([], title="t", now=NOW.astimezone(kst))
    created = ET.fromstring(data).findtext("head/dateCreated")
    assert created is not None and parsedate_to_datetime(created) == NOW
    assert ET.fromstring(data).find("body") is not None and _outlines(data) == []


def test_order_is_kept_and_an_empty_title_falls_back_to_the_url() -> None:
    feeds = [
        OpmlFeed(title=" ", xml_url="http://h/feeds/z.atom", html_url="http://h/z"),
        OpmlFeed(title="  둘\n  줄 ", xml_url="http://h/feeds/a.atom", html_url="http://h/a"),
    ]
    outlines = _outlines(render_opml(feeds, title="t", now=NOW))
    assert [o["xmlUrl"] for o in outlines] == ["http://h/feeds/z.atom", "http://h/feeds/a.atom"]
    assert [o["text"] for o in outlines] == ["http://h/feeds/z.atom", "둘 줄"]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        render_opml(FEEDS, title="t", now=datetime(2025, 1, 1))
