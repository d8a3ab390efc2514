"""relay.core.sanitize: article bodies made safe for a feed reader, against hostile markup.

Each hostile body is checked three ways: our own inspection of the output (no element, attribute
or URL scheme outside the allow-list), feedparser's sanitizer called directly, and feedparser
reading an Atom document that carries the output as <content type="html">. feedparser strips
what it finds dangerous, so "feedparser changed nothing" means it agrees nothing is left.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser
from xml.sax.saxutils import escape

import feedparser
import lxml.html
import pytest
from feedparser.sanitizer import _sanitize_html
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core.engines import GNUBOARD, RHYMIX
from relay.core.sanitize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    LINK_REL,
    TRUNCATION_NOTE,
    sanitize_article,
    web_url,
)

PAGE = "https://board.example.kr/free/1234"

HOSTILE = {
    "script element": "<p>before</p><script>alert(1)</script><p>after</p>",
    "script in mixed case": "<p>x</p><ScRiPt SRC=//evil.example/x.js></sCrIpT>",
    "img onerror": '<img src=x onerror="alert(1)"><p>text</p>',
    "event handlers everywhere": '<p onclick="a()" onmouseover=b()>t<b onfocus=c()>b</b></p>',
    "javascript link": '<a href="javascript:alert(1)">click</a>',
    "javascript link entity-obfuscated": '<a href="jav&#x61;script:alert(1)">click</a>',
    "javascript link decimal entities": '<a href="&#106;&#97;vascript:alert(1)">click</a>',
    "javascript link with tab and spaces": '<a href="  java\tscript:alert(1)">x</a>',
    "javascript link upper case": '<a href="JAVASCRIPT:alert(1)">x</a>',
    "data link": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "vbscript link": '<a href="vbscript:msgbox(1)">x</a>',
    "data image": '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "javascript image": '<img src="javascript:alert(1)">',
    "svg with script": "<svg><script>alert(1)</script><circle r=1 /></svg><p>t</p>",
    "svg onload": '<svg onload="alert(1)"><a xlink:href="javascript:alert(1)">x</a></svg>',
    "css expression": '<p style="width: expression(alert(1))">t</p>',
    "css url javascript": "<div style=\"background:url('javascript:alert(1)')\">t</div>",
    "style element": "<style>body{background:url(javascript:alert(1))}</style><p>t</p>",
    "iframe": '<iframe src="https://evil.example/"></iframe><p>t</p>',
    "srcdoc iframe": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "object and embed": '<object data="javascript:alert(1)"></object><embed src="x.swf">',
    "form": '<form action="https://evil.example/"><input name=pw><button>go</button></form>',
    "meta refresh and base": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'
    '<base href="javascript:alert(1)//"><a href="x">x</a>',
    "broken nesting": "<p><b><i>bold italic</b> still</i><div><ul><li>a<li>b</ul><p>unclosed",
    "unclosed attribute": '<p title="x><script>alert(1)</script>">t</p><img src="a.jpg',
    "noscript mutation": '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "math mutation": "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "comment trick": "<!--><img src=x onerror=alert(1)>--><p>t</p>",
    "template": "<template><img src=x onerror=alert(1)></template><p>t</p>",
    "link and style attributes": '<link rel=stylesheet href="https://evil/x.css">'
    '<p style="x">t</p>',
}
DANGEROUS_SCHEMES = ("javascript:", "data:", "vbscript:")


def _elements(fragment: str) -> list[tuple[str, tuple[tuple[str, str], ...], str]]:
    """(tag, sorted attributes, text) of every element, in document order."""
    root = lxml.html.fromstring(f"<div>{fragment}</div>")
    return [
        (str(el.tag), tuple(sorted((str(k), str(v)) for k, v in el.attrib.items())), el.text or "")
        for el in root.iter()
        if isinstance(el.tag, str)
    ][1:]


def _dangers(fragment: str) -> list[str]:
    found = []
    lowered = fragment.lower()
    for needle in ("<script", "<svg", "<iframe", "<style", "<object", "<embed", "expression("):
        if needle in lowered:
            found.append(needle)
    for tag, attributes, _ in _elements(fragment):
        if tag not in ALLOWED_TAGS:
            found.append(f"element {tag}")
        for name, value in attributes:
            allowed = ALLOWED_ATTRIBUTES.get(tag, frozenset()) | ({"rel"} if tag == "a" else set())
            if name not in allowed:
                found.append(f"{tag}[{name}]")
            if name in ("href", "src") and not value.startswith(("http://", "https://", "mailto:")):
                found.append(f"{tag}[{name}={value}]")
            if any(scheme in value.lower().replace(" ", "") for scheme in DANGEROUS_SCHEMES):
                found.append(f"{tag}[{name}={value}]")
    return found


def _atom_with(content_html: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>tag:x,2025:b</id>'
        "<updated>2025-01-01T00:00:00Z</updated><author><name>a</name></author>"
        "<entry><title>e</title><id>tag:x,2025:b/1</id><updated>2025-01-01T00:00:00Z</updated>"
        f'<content type="html">{escape(content_html)}</content></entry></feed>'
    ).encode()


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_body_leaves_nothing_dangerous(body: str) -> None:
    out = sanitize_article(body, base_url=PAGE).html
    assert _dangers(out) == []
    assert "alert(" not in out
    # feedparser's sanitizer, directly and through an Atom document, finds nothing to remove.
    assert _elements(_sanitize_html(out, "utf-8", "text/html")) == _elements(out)
    parsed = feedparser.parse(_atom_with(out))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert _elements(parsed.entries[0].content[0].value) == _elements(out)


def test_text_next_to_hostile_markup_is_kept() -> None:
    out = sanitize_article(HOSTILE["script element"], base_url=PAGE).html
    assert out == "<p>before</p><p>after</p>"
    assert "still" in sanitize_article(HOSTILE["broken nesting"], base_url=PAGE).html


def test_text_structure_survives() -> None:
    body = (
        "<h2>제목</h2><p>첫 문단<br>둘째 줄</p><ul><li>하나</li></ul><ol start=3><li>셋</li></ol>"
        "<blockquote>인용</blockquote><pre><code>x = 1\n  y</code></pre>"
        "<table><thead><tr><th>머리</th></tr></thead><tbody><tr><td rowspan=2>칸</td></tr>"
        "</tbody></table><p><strong>a</strong><em>b</em><b>c</b><i>d</i><u>e</u><s>f</s></p>"
        '<figure><img src="/img/1.jpg" alt="사진" width="640" height="480">'
        "<figcaption>설명</figcaption></figure><font color=red>글꼴</font>"
    )
    out = sanitize_article(body, base_url=PAGE).html
    tags = [tag for tag, _, _ in _elements(out)]
    for tag in ("h2", "br", "ul", "ol", "li", "blockquote", "pre", "code", "table", "th", "td"):
        assert tag in tags
    for tag in ("strong", "em", "b", "i", "u", "s", "figure", "img", "figcaption"):
        assert tag in tags
    assert "<pre><code>x = 1\n  y</code></pre>" in out  # whitespace of code kept
    assert '<ol start="3">' in out and '<td rowspan="2">' in out
    assert (
        '<img src="https://board.example.kr/img/1.jpg" alt="사진" width="640" height="480">' in out
    )
    assert "글꼴" in out and "<font" not in out  # unknown tag: its text stays


def test_urls_become_absolute_against_the_page_and_base_href() -> None:
    body = '<a href="2">rel</a><a href="/top">root</a><a href="//cdn.example/x">proto</a>'
    out = sanitize_article(body, base_url=PAGE).html
    assert 'href="https://board.example.kr/free/2"' in out
    assert 'href="https://board.example.kr/top"' in out
    assert 'href="https://cdn.example/x"' in out
    based = sanitize_article(body, base_url=PAGE, base_href="/mirror/").html
    assert 'href="https://board.example.kr/mirror/2"' in based
    elsewhere = sanitize_article(body, base_url=PAGE, base_href="http://old.example/b/").html
    assert 'href="http://old.example/b/2"' in elsewhere


def test_links_get_rel_and_only_web_and_mail_schemes() -> None:
    body = (
        '<a href="https://x.example/" rel="opener" target="_blank">w</a>'
        '<a href="mailto:admin@example.kr">m</a><a href="ftp://x.example/f">f</a>'
        '<a href="tel:010">t</a>'
    )
    out = sanitize_article(body, base_url=PAGE).html
    anchors = [dict(attrs) for tag, attrs, _ in _elements(out) if tag == "a"]
    assert [a.get("href") for a in anchors] == [
        "https://x.example/",
        "mailto:admin@example.kr",
        None,
        None,
    ]
    assert all(a["rel"] == LINK_REL for a in anchors)
    assert "target" not in out


@pytest.mark.parametrize(
    ("img", "src"),
    [
        ('<img data-src="/a.jpg">', "https://board.example.kr/a.jpg"),
        ('<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="a.jpg">', "a.jpg"),
        ('<img src="/common/img/blank.gif" data-original="/b.png">', "b.png"),
        ('<img src="//s.example/spacer.gif?v=2" data-lazy-src="https://c.example/c.jpg">', "c"),
        ('<img src="/x/1x1.gif" data-src="" data-original="/d.jpg">', "d.jpg"),
        ('<img src="/real.jpg" data-src="/other.jpg">', "https://board.example.kr/real.jpg"),
    ],
    ids=["missing src", "data uri", "blank gif", "spacer gif", "empty data-src", "real src"],
)
def test_lazy_images_get_their_real_src(img: str, src: str) -> None:
    out = sanitize_article(img, base_url="https://board.example.kr/", max_bytes=10_000).html
    [(tag, attrs, _)] = _elements(out)
    assert tag == "img"
    assert dict(attrs)["src"].startswith("https://") and src in dict(attrs)["src"]
    assert "data-" not in out


def test_image_with_no_web_source_is_dropped() -> None:
    body = '<p>a<img src="data:image/gif;base64,R0lGOD">b<img>c<img src="mailto:x@y">d</p>'
    assert sanitize_article(body, base_url=PAGE).html == "<p>abcd</p>"


def test_ad_and_navigation_blocks_go_as_in_the_excerpt() -> None:
    body = (
        "<p>본문</p><div class='adsbygoogle'>광고1</div><ins class=adsbygoogle>광고2</ins>"
        "<div class='ad banner'>광고3</div><div id='div-gpt-ad-123'>광고4</div>"
        "<nav>메뉴</nav><aside>옆</aside><div class=sound_only>숨김</div>"
        "<p style='display:none'>안보임</p><a rel=sponsored href='/s'>협찬</a><p>끝</p>"
    )
    assert sanitize_article(body, base_url=PAGE).html == "<p>본문</p><p>끝</p>"


def test_body_is_found_with_the_presets_selectors() -> None:
    page = (
        "<html><body><div id=header><a href='/'>홈</a></div>"
        "<div class='rd_body'><div class='xe_content'><p>글 <b>내용</b></p></div></div>"
        "<div class=comments>댓글</div></body></html>"
    )
    out = sanitize_article(page, base_url=PAGE, body_selectors=RHYMIX.body)
    assert out.html == "<p>글 <b>내용</b></p>"
    missing = sanitize_article(page, base_url=PAGE, body_selectors=GNUBOARD.body)
    assert (missing.html, missing.truncated) == ("", False)


def test_control_characters_never_reach_the_feed() -> None:
    out = sanitize_article("<p>a\x00b\x0bc\x1fd\x7f\x85e</p>", base_url=PAGE).html
    assert out == "<p>abcde</p>"


# --- the cap ----------------------------------------------------------------------------------


class _Balance(HTMLParser):
    """Checks an HTML fragment for a stray '<' in text and for unbalanced tags."""

    VOID = {"br", "hr", "img", "col"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)  # raw text: an escaped "&lt;" is no "<"
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"</{tag}> does not close the open element")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if "<" in data or ">" in data:
            self.problems.append(f"unescaped markup in text: {data!r}")

    def handle_entityref(self, name: str) -> None:
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def _check_well_formed(fragment: str) -> str:
    checker = _Balance()
    checker.feed(fragment)
    checker.close()
    assert checker.problems == []
    assert checker.stack == [], f"left open: {checker.stack}"
    return "".join(checker.text)


def _long_body(paragraphs: int) -> str:
    return "".join(
        f"<p>{i}번째 문단입니다. 한국어 텍스트와 <a href='/p/{i}'>링크</a>"
        f"<img data-src='/i/{i}.jpg' src='/blank.gif'></p>"
        for i in range(paragraphs)
    )


def test_short_body_is_not_cut() -> None:
    out = sanitize_article("<p>짧은 글</p>", base_url=PAGE, max_bytes=1000)
    assert (out.html, out.truncated, out.note) == ("<p>짧은 글</p>", False, "")


def test_long_body_is_cut_at_an_element_boundary_with_a_note() -> None:
    full = sanitize_article(_long_body(3000), base_url=PAGE, max_bytes=10_000_000)
    assert not full.truncated and len(full.html.encode()) > 200_000
    out = sanitize_article(_long_body(3000), base_url=PAGE)
    assert out.truncated and out.note == TRUNCATION_NOTE
    size = len(out.html.encode())
    assert 190_000 < size <= 200_000
    assert out.html.endswith(f"<p><em>{TRUNCATION_NOTE}</em></p>")
    kept = out.html.removesuffix(f"<p><em>{TRUNCATION_NOTE}</em></p>")
    assert kept.endswith("</p>")
    # Everything kept is the start of the body, in order; the tags are all closed.
    assert _check_well_formed(full.html).startswith(_check_well_formed(kept))
    assert full.html.startswith(kept.rpartition("<p>")[0])  # whole paragraphs before the last


def test_one_huge_wrapper_is_cut_between_its_children() -> None:
    body = (
        "<div><blockquote>"
        + "".join(f"<p>문단 {i}</p>" for i in range(500))
        + "</blockquote></div>"
    )
    out = sanitize_article(body, base_url=PAGE, max_bytes=1000)
    assert out.truncated and len(out.html.encode()) <= 1000
    assert out.html.startswith("<div><blockquote><p>문단 0</p>")
    assert "</p></blockquote></div><p><em>" in out.html
    _check_well_formed(out.html)


def test_one_huge_korean_paragraph_is_cut_between_words_not_inside_a_character() -> None:
    words = [f"가나다{i}" for i in range(2000)]
    out = sanitize_article("<p>" + " ".join(words) + "</p>", base_url=PAGE, max_bytes=3001)
    assert out.truncated and len(out.html.encode()) <= 3001
    text = _check_well_formed(out.html).removesuffix(TRUNCATION_NOTE)
    assert text.endswith("…")
    assert text[:-1].split(" ") == words[: len(text[:-1].split(" "))]  # whole words only


def test_cap_that_cannot_hold_the_note_is_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        sanitize_article("<p>x</p>", base_url=PAGE, max_bytes=10)


@settings(max_examples=60, deadline=None)
@given(
    max_bytes=st.integers(min_value=61, max_value=4000),
    text=st.text(alphabet="가나 <>&\"'ab\n", min_size=1, max_size=40),
)
def test_any_cap_gives_a_well_formed_fragment_within_the_cap(max_bytes: int, text: str) -> None:
    body = "".join(
        f"<div><h3>{escape(text)}</h3><p>{escape(text)}<b>{i}</b></p><ul><li>{i}</li></ul></div>"
        for i in range(40)
    )
    out = sanitize_article(body, base_url=PAGE, max_bytes=max_bytes)
    assert len(out.html.encode()) <= max_bytes
    _check_well_formed(out.html)
    assert _dangers(out.html) == []


def test_web_url_refuses_other_schemes_and_bad_hosts() -> None:
    web = frozenset({"http", "https"})
    assert web_url(" /a b ", PAGE, web) == "https://board.example.kr/a b"
    assert web_url("HTTPS://X.example/", PAGE, web) == "https://X.example/"
    assert web_url("http://[::1", PAGE, web) is None
    assert web_url("mailto:a@b", PAGE, web) is None
    assert web_url("java\nscript:alert(1)", PAGE, web) is None
    assert web_url("", PAGE, web) is None
