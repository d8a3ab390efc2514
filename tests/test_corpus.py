"""The engine corpus: pages as Rhymix/XE and Gnuboard really render them, each with the posts a
person reads off the page (tests/corpus/README.md). The parser must agree with every one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from relay.core.engines import PRESETS
from relay.core.parse import ListPage, canonical_post_url, parse_article, parse_list_page
from relay.core.text import decode_html

CORPUS = Path(__file__).parent / "corpus"
OPTIONAL = ("category", "views", "votes")
LISTS = sorted(
    p.stem.removesuffix(".expected")
    for p in CORPUS.glob("*.expected.json")
    if "posts" in json.loads(p.read_text(encoding="utf-8"))
)
ARTICLES = sorted(
    p.stem.removesuffix(".expected")
    for p in CORPUS.glob("*.expected.json")
    if "body_contains" in json.loads(p.read_text(encoding="utf-8"))
)


def load(name: str) -> tuple[str, dict[str, Any]]:
    expected = json.loads((CORPUS / f"{name}.expected.json").read_text(encoding="utf-8"))
    body = (CORPUS / f"{name}.html").read_bytes()
    return decode_html(body, expected.get("content_type")).text, expected


def test_the_corpus_has_every_engine_case() -> None:
    assert {
        "rhymix_default",
        "rhymix_long_urls",
        "sketchbook5",
        "gnuboard5_basic",
        "gnuboard4_cp949",
        "gnuboard4_utf8",
        "gnuboard5_category",
        "gnuboard5_gallery",
        "gnuboard5_short_urls",
        "gnuboard5_seo_urls",
        "gnuboard5_mobile",
        "sketchbook5_webzine",
        "xe1_default",
        "rhymix_category",
    } <= set(LISTS)
    assert {"rhymix_article", "gnuboard5_article"} <= set(ARTICLES)


@pytest.mark.parametrize("name", LISTS)
def test_list_page_parses_to_the_posts_a_reader_sees(name: str) -> None:
    html, expected = load(name)
    tz = ZoneInfo(expected["timezone"])
    posts = parse_list_page(
        ListPage(html, expected["url"], datetime.fromisoformat(expected["now"]), tz),
        PRESETS[expected["engine"]],
    ).posts
    got = [
        {
            "id": p.id,
            "number": p.number,
            "title": p.title,
            "url": p.url,
            "author": p.author,
            "published": p.published.isoformat() if p.published else None,
            "notice": p.notice,
            "comments": p.comments,
            # The fields a page's expectations name: 말머리 and the counts (pages written
            # before they were read leave them out).
            **{key: getattr(p, key) for key in OPTIONAL if key in row},
        }
        for p, row in zip(posts, expected["posts"] + [{}] * len(posts), strict=False)
    ]
    # Post URLs lose list state (page=, search) so that one post has one URL.
    want = [post | {"url": canonical_post_url(post["url"])} for post in expected["posts"]]
    for row in want:
        if row["published"]:
            row["published"] = datetime.fromisoformat(row["published"]).astimezone(tz).isoformat()
    assert got == want


def test_cp949_page_is_decoded_from_its_bytes() -> None:
    html, expected = load("gnuboard4_cp949")
    assert (CORPUS / "gnuboard4_cp949.html").read_bytes().decode("cp949")
    assert any("\uac00" <= ch <= "\ud7a3" for ch in html)  # Hangul syllables came through


@pytest.mark.parametrize("name", ARTICLES)
def test_article_excerpt_keeps_the_body_and_drops_the_noise(name: str) -> None:
    html, expected = load(name)
    article = parse_article(
        html, url=expected["url"], selectors=PRESETS[expected["engine"]], excerpt_chars=3000
    )
    for text in expected["body_contains"]:
        assert text in article.text
    for text in expected["body_excludes"]:
        assert text not in article.text
    assert article.image == expected["image"]
    short = parse_article(
        html, url=expected["url"], selectors=PRESETS[expected["engine"]], excerpt_chars=50
    )
    assert len(short.excerpt) <= 50 and short.excerpt.endswith("…")
    assert " ".join(article.text.split()).startswith(short.excerpt[:-1].rstrip())
