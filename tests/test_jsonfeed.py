"""relay.core.jsonfeed: JSON Feed 1.1 from the Atom feed's inputs, checked against the spec.

`check_json_feed` encodes the spec's rules for what board-relay writes (required fields, their
types, RFC 3339 dates); its own tests show each rule fails on a feed that breaks it. The other
tests compare the JSON items with the Atom entries rendered from the same posts.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from relay.core.atom import render_feed
from relay.core.jsonfeed import JSON_FEED_VERSION, render_json_feed
from relay.core.models import FeedInfo, StoredPost

KST = ZoneInfo("Asia/Seoul")
ATOM = {"a": "http://www.w3.org/2005/Atom"}
SEEN = datetime(2025, 2, 5, 5, 10, 30, 123456, tzinfo=UTC)
INFO = FeedInfo(
    board_id="ranknews",
    title="랭크뉴스 자유게시판",
    site_url="https://example.com/board/ranknews",
    feed_url="https://feeds.example.org/ranknews.atom",
    tag_authority="example.com",
)
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")


def post(post_id: str, **fields: object) -> StoredPost:
    values: dict[str, object] = {
        "board_id": "ranknews",
        "id": post_id,
        "url": f"https://example.com/board/ranknews/{post_id}",
        "title": f"글 {post_id}",
        "number": None,
        "author": "홍길동",
        "published": datetime(2025, 2, 5, 14, 3, tzinfo=KST),
        "first_seen": SEEN,
        "updated": SEEN,
    }
    values.update(fields)
    return StoredPost(**values)  # type: ignore[arg-type]


def check_json_feed(feed: Any) -> list[str]:
    """What breaks JSON Feed 1.1 (the fields board-relay writes), as readable complaints."""
    problems = []
    if not isinstance(feed, dict):
        return ["top level is not an object"]
    if feed.get("version") != JSON_FEED_VERSION:
        problems.append(f"version is {feed.get('version')!r}")
    if not isinstance(feed.get("title"), str) or not feed["title"]:
        problems.append("title missing or not a string")
    for key in ("home_page_url", "feed_url", "language"):
        if key in feed and not isinstance(feed[key], str):
            problems.append(f"{key} not a string")
    problems += _check_authors(feed.get("authors", []), "feed")
    items = feed.get("items")
    if not isinstance(items, list):
        return [*problems, "items missing or not an array"]
    ids = [item.get("id") for item in items if isinstance(item, dict)]
    if len(set(map(str, ids))) != len(ids):
        problems.append("item ids not unique")
    for n, item in enumerate(items):
        where = f"item {n}"
        if not isinstance(item, dict):
            problems.append(f"{where} not an object")
            continue
        if not isinstance(item.get("id"), str) or not item["id"]:
            problems.append(f"{where}: id missing or not a string")
        if not any(isinstance(item.get(k), str) for k in ("content_html", "content_text")):
            problems.append(f"{where}: neither content_html nor content_text")
        for key in ("url", "title", "summary", "image", "language", "content_html"):
            if key in item and not isinstance(item[key], str):
                problems.append(f"{where}: {key} not a string")
        for key in ("date_published", "date_modified"):
            if key in item and not (isinstance(item[key], str) and RFC3339.fullmatch(item[key])):
                problems.append(f"{where}: {key} {item[key]!r} is not RFC 3339")
        problems += _check_authors(item.get("authors", []), where)
    return problems


def _check_authors(authors: Any, where: str) -> list[str]:
    if not isinstance(authors, list) or not all(
        isinstance(a, dict) and isinstance(a.get("name"), str) for a in authors
    ):
        return [f"{where}: authors is not an array of objects with a name"]
    return []


def render(posts: list[StoredPost], **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"max_entries": 50, "tz": KST}
    options.update(kwargs)
    data = render_json_feed(INFO, posts, **options)
    feed: dict[str, Any] = json.loads(data.decode("utf-8"))
    assert check_json_feed(feed) == []
    return feed


# --- the checker ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        (lambda f: f.pop("version"), "version"),
        (lambda f: f.update(title=3), "title"),
        (lambda f: f.pop("items"), "items"),
        (lambda f: f["items"][0].pop("id"), "id missing"),
        (lambda f: f["items"][0].update(id=7), "id missing"),
        (lambda f: f["items"][0].pop("content_text"), "neither content_html nor content_text"),
        (lambda f: f["items"][0].update(date_published="2025-02-05 14:03"), "RFC 3339"),
        (lambda f: f["items"].append(dict(f["items"][0])), "not unique"),
        (lambda f: f.update(authors=["홍길동"]), "authors"),
    ],
)
def test_the_checker_catches_each_breakage(breakage: Any, complaint: str) -> None:
    feed = json.loads(render_json_feed(INFO, [post("1")], max_entries=5, tz=KST))
    assert check_json_feed(feed) == []
    breakage(feed)
    assert any(complaint in p for p in check_json_feed(feed))


# --- the feed ---------------------------------------------------------------------------------


def test_feed_level_fields() -> None:
    feed = render([post("1")], feed_url="https://feeds.example.org/ranknews.json")
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "랭크뉴스 자유게시판"
    assert feed["home_page_url"] == INFO.site_url
    assert feed["feed_url"] == "https://feeds.example.org/ranknews.json"
    assert feed["authors"] == [{"name": "랭크뉴스 자유게시판"}] and feed["language"] == "ko"
    assert "feed_url" not in render([post("1")])


def test_items_match_the_atom_entries_id_for_id_and_in_order() -> None:
    posts = [post(str(n), first_seen=SEEN + timedelta(minutes=n)) for n in (9, 47209, 12, 100)]
    posts.append(post("9"))  # given twice: listed once
    atom = etree.fromstring(render_feed(INFO, posts, max_entries=3, tz=KST))
    feed = render(posts, max_entries=3)
    assert [i["id"] for i in feed["items"]] == atom.xpath("a:entry/a:id/text()", namespaces=ATOM)
    assert [i["id"] for i in feed["items"]] == [
        "tag:example.com,2025:ranknews/47209",
        "tag:example.com,2025:ranknews/100",
        "tag:example.com,2025:ranknews/12",
    ]
    published = atom.xpath("a:entry/a:published/text()", namespaces=ATOM)
    assert [datetime.fromisoformat(i["date_published"]) for i in feed["items"]] == [
        datetime.fromisoformat(p) for p in published
    ]


def test_item_fields_and_dates_in_the_board_zone() -> None:
    edited = SEEN + timedelta(hours=2)
    [item] = render([post("5", updated=edited, image="https://img.example/a.jpg")])["items"]
    assert item["url"] == "https://example.com/board/ranknews/5" and item["title"] == "글 5"
    assert item["date_published"] == "2025-02-05T14:03:00+09:00"
    assert item["date_modified"] == "2025-02-05T16:10:30+09:00"  # whole seconds, KST
    assert item["authors"] == [{"name": "홍길동"}] and item["language"] == "ko"
    assert item["image"] == "https://img.example/a.jpg"


def test_full_body_goes_in_content_html_with_the_excerpt_as_summary() -> None:
    posts = [post("1", excerpt="요약", text="긴 본문"), post("2", excerpt="요약2", text="본문2")]
    feed = render(posts, bodies={"1": "<p>긴 <b>본문</b></p>"})
    by_id = {i["id"].rsplit("/", 1)[1]: i for i in feed["items"]}
    assert by_id["1"]["content_html"] == "<p>긴 <b>본문</b></p>"
    assert by_id["1"]["summary"] == "요약" and "content_text" not in by_id["1"]
    assert by_id["2"]["content_text"] == "본문2" and by_id["2"]["summary"] == "요약2"
    assert "content_html" not in by_id["2"]


def test_without_a_body_the_text_or_excerpt_is_content_text() -> None:
    feed = render([post("1", excerpt="짧은 글"), post("2")])
    first, second = feed["items"][1], feed["items"][0]
    assert first["content_text"] == "짧은 글" and "summary" not in first  # no repeat
    assert second["content_text"] == ""


def test_scraped_strings_lose_control_characters_and_unsafe_images() -> None:
    bad = post("1", title="a\x00b\x1b<c>", author="x\x7f", image="javascript:alert(1)")
    [item] = render([bad])["items"]
    assert item["title"] == "ab<c>" and item["authors"] == [{"name": "x"}]
    assert "image" not in item


def test_bytes_are_stable_utf8_and_need_no_clock() -> None:
    posts = [post("1", excerpt="한글"), post("2")]
    first = render_json_feed(INFO, posts, max_entries=5, tz=KST)
    assert first == render_json_feed(INFO, list(reversed(posts)), max_entries=5, tz=KST)
    assert "한글".encode() in first  # not \\u escapes


def test_empty_feed_and_bad_arguments() -> None:
    assert render([])["items"] == []
    with pytest.raises(ValueError, match="ranknews: max_entries"):
        render_json_feed(INFO, [], max_entries=-1, tz=KST)
    with pytest.raises(ValueError, match="tag authority"):
        render_json_feed(replace(INFO, tag_authority="", site_url="/x"), [], max_entries=1, tz=KST)
