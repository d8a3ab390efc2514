"""Property tests: the parser never crashes on mangled HTML and never yields a post without an
id and an absolute http(s) URL, nor a title with a bidi control; a page with no rows is always
an error, never an empty list."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from relay.core.engines import CUSTOM, GNUBOARD, HIDDEN, RHYMIX
from relay.core.errors import LayoutError
from relay.core.parse import ListPage, parse_article, parse_list_page
from relay.core.text import safe_http_url

NOW = datetime(2025, 2, 5, 7, 0, tzinfo=UTC)
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
SCHEMES = (
    "javascript:",
    "JavaScript:",
    "java\tscript:",
    " vbscript:",
    "data:text/html,",
    "file:///x",
)
SEOUL = ZoneInfo("Asia/Seoul")

ROW = (
    '<tr class="{cls}"><td class="no">{num}</td><td class="title"><a href="{href}">{title}</a>'
    '<a class="replyNum" href="#c">[{cmt}]</a></td><td class="author">{author}</td>'
    '<td class="time">{date}</td></tr>'
)
fragments = st.sampled_from(
    [
        "<tr>",
        "</tr>",
        "<td>",
        "</td>",
        "<a href='/b/12'>",
        "</a>",
        "<font>",
        "<table>",
        "</table>",
        "<tbody>",
        "<base href='http://other.example/x/'>",
        "&raquo;",
        "&#0;",
        "\x00",
        "<script>",
        "<!--",
        "-->",
        "<![CDATA[",
        "공지",
        "<tr class='notice'>",
        "<div class='xe_content'>",
        "<img src='a.jpg'>",
        "?document_srl=",
        "&wr_id=",
        "<td class='td_num2'>",
        "]]>",
        "<",
        ">",
    ]
)


def mangled_pages() -> st.SearchStrategy[str]:
    rows = st.builds(
        ROW.format,
        cls=st.sampled_from(["", "notice", "select"]),
        num=st.one_of(st.integers(-5, 10**7).map(str), st.sampled_from(["공지", "&raquo;", ""])),
        href=st.one_of(
            st.integers(0, 10**12).map(lambda n: f"/board/{n}"),
            st.integers(0, 10**9).map(lambda n: f"index.php?mid=b&document_srl={n}&page=2"),
            st.integers(0, 10**9).map(lambda n: f"bbs/board.php?bo_table=f&wr_id={n}"),
            st.text(max_size=30),
            st.tuples(st.sampled_from(SCHEMES), st.integers(0, 10**6)).map(
                lambda s: f"{s[0]}alert(1)//{s[1]}"
            ),
        ),
        title=st.one_of(st.text(max_size=40), st.text(alphabet=BIDI + "글 ab", max_size=12)),
        cmt=st.integers(0, 999),
        author=st.text(max_size=10),
        date=st.one_of(st.text(max_size=12), st.sampled_from(["25.02.05", "15:32", "3분 전"])),
    )
    pieces = st.lists(st.one_of(rows, fragments, st.text(max_size=20)), max_size=30)
    return pieces.map(lambda p: "<html><body><div class='board_list'><table><tbody>" + "".join(p))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled_pages(), st.sampled_from([RHYMIX, GNUBOARD, CUSTOM]))
def test_parser_never_crashes_and_every_post_has_an_id_and_url(html: str, preset: object) -> None:
    selectors = preset if preset is not CUSTOM else RHYMIX.merged({"row": "tr"})
    try:
        posts = parse_list_page(
            ListPage(html, "http://board.example/b", NOW, SEOUL), selectors
        ).posts
    except LayoutError:
        return
    assert posts, "an empty list must be a LayoutError"
    for post in posts:
        assert post.id and post.url.startswith("http")
        assert safe_http_url(post.url) == post.url
        assert post.title == post.title.strip() and "\n" not in post.title
        assert not any(ch in post.title + post.author for ch in BIDI)
        assert post.published is None or post.published.tzinfo is not None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled_pages(), st.integers(1, 8))
def test_the_row_cap_holds_and_is_said(html: str, max_rows: int) -> None:
    selectors = RHYMIX.merged({"row": "tr"})
    try:
        parsed = parse_list_page(
            ListPage(html, "http://board.example/b", NOW, SEOUL), selectors, max_rows=max_rows
        )
    except LayoutError:
        return
    assert 0 < len(parsed.posts) <= max_rows
    tree = LexborHTMLParser(html)
    for hidden in tree.css(HIDDEN):
        hidden.decompose()
    rows = len(tree.css("tr"))
    capped = [w for w in parsed.warnings if "only the first" in w]
    assert capped == ([f"http://board.example/b: the page has {rows:,} rows; only the first "
                       f"{max_rows:,} were read (the cap on rows per list page)"]
                      if rows > max_rows else [])  # fmt: skip
    for warning in parsed.warnings:
        assert warning.startswith("http://board.example/b: ")


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(blacklist_characters="<&"), max_size=400), st.integers(0, 300))
def test_article_parser_never_crashes_and_respects_the_excerpt_length(text: str, n: int) -> None:
    html = f"<div class='xe_content'>{text}<script>var ad = 1;</script></div>"
    article = parse_article(html, url="http://b.example/1", selectors=RHYMIX, excerpt_chars=n)
    assert len(article.excerpt) <= n
    assert "var ad" not in article.excerpt
