"""relay.core.atom renders a board's posts as Atom bytes; tests/atomcheck.py judges every feed here.

The first part checks the checker itself (each rule must fail on a feed that breaks it, or it
could pass anything). The rest are scenarios of what boards really give: Korean titles, markup
characters, control characters from broken pages, notices, posts without a board date, edited
titles, images, and the byte-for-byte stability a rebuild must keep.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import feedparser
import pytest
import time_machine
from atomcheck import assert_valid_atom
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from relay.core.atom import EMPTY_FEED_UPDATED, render_feed, xml_safe
from relay.core.models import FeedInfo, StoredPost

KST = ZoneInfo("Asia/Seoul")
ATOM_NS = {"a": "http://www.w3.org/2005/Atom"}
FIRST_SEEN = datetime(2025, 2, 5, 5, 10, 30, 123456, tzinfo=UTC)  # 14:10:30 KST

INFO = FeedInfo(
    board_id="ranknews",
    title="랭크뉴스 자유게시판",
    site_url="https://example.com/board/ranknews",
    feed_url="https://feeds.example.org/ranknews.atom",
    language="ko",
    tag_authority="example.com",
)


def post(post_id: str, **fields: object) -> StoredPost:
    values: dict[str, object] = {
        "board_id": "ranknews",
        "id": post_id,
        "url": f"https://example.com/board/ranknews/{post_id}",
        "title": f"글 {post_id}",
        "number": None,
        "author": "홍길동",
        "published": datetime(2025, 2, 5, 14, 3, tzinfo=KST),
        "first_seen": FIRST_SEEN,
        "updated": FIRST_SEEN,
    }
    values.update(fields)
    return StoredPost(**values)  # type: ignore[arg-type]


def render(posts: list[StoredPost], info: FeedInfo = INFO, max_entries: int = 50) -> bytes:
    return render_feed(info, posts, max_entries=max_entries, tz=KST)


def tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def texts(data: bytes, xpath: str) -> list[str]:
    return [str(t) for t in tree(data).xpath(xpath, namespaces=ATOM_NS)]


# --- the checker ----------------------------------------------------------------------------

GOOD = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:x="urn:example:ext" x:flag="1">
  <title>Example</title>
  <id>urn:example:feed</id>
  <updated>2025-02-05T14:03:00+09:00</updated>
  {feed_author}
  <link href="https://example.com/"/>
  <x:simple>foreign text</x:simple>
  <x:structured a="1"><x:child/></x:structured>
  <entry>
    <title>one</title>
    <id>{id1}</id>
    <updated>{date}</updated>
    {entry_author}
    {entry_link}
  </entry>
  <entry>
    <title>two</title>
    <id>urn:example:2</id>
    <updated>2025-02-05T05:03:00Z</updated>
    {entry_author}
    <link href="https://example.com/2" x:seen="yes"/>
  </entry>
</feed>
"""


def good(**overrides: str) -> bytes:
    parts = {
        "feed_author": "<author><name>Board</name></author>",
        "entry_author": "",
        "entry_link": '<link rel="alternate" href="https://example.com/1"/>',
        "id1": "urn:example:1",
        "date": "2025-02-05T14:03:00.5+09:00",
    }
    parts.update(overrides)
    return GOOD.format(**parts).encode()


def test_checker_accepts_a_valid_feed_with_foreign_markup() -> None:
    parsed = assert_valid_atom(good())
    assert [e.title for e in parsed.entries] == ["one", "two"]


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        pytest.param({"feed_author": ""}, "4.1.1 author", id="no-author-anywhere"),
        pytest.param({"entry_link": ""}, "4.1.2 alternate", id="entry-without-link-or-content"),
        pytest.param(
            {"entry_link": '<link rel="related" href="https://example.com/r"/>'},
            "4.1.2 alternate",
            id="only-a-related-link",
        ),
        pytest.param(
            {"entry_link": '<link href="https://a/"/><link rel="alternate" href="https://b/"/>'},
            "4.1.1 links",
            id="two-alternate-links",
        ),
        pytest.param({"id1": "urn:example:2"}, "unique id", id="duplicate-entry-id"),
        pytest.param({"date": "2025-02-05T14:03:00"}, "3.3 date", id="date-without-zone"),
        pytest.param({"date": "2025-02-05t14:03:00z"}, "RELAX NG", id="lowercase-t-and-z"),
        pytest.param({"date": "2025-02-05"}, "RELAX NG", id="date-only"),
        pytest.param({"id1": "</id>"}, "well-formed", id="not-well-formed"),
        pytest.param(
            {"entry_link": '<link href="https://example.com/1"/><bogus>x</bogus>'},
            "RELAX NG",
            id="unknown-atom-element",
        ),
    ],
)
def test_checker_rejects(overrides: dict[str, str], rule: str) -> None:
    with pytest.raises(AssertionError, match=f"invalid Atom \\({rule}"):
        assert_valid_atom(good(**overrides))


def test_checker_relaxng_alone_would_pass_a_date_without_zone() -> None:
    """Why the zone rule is checked by hand: xsd:dateTime allows a missing zone."""
    from atomcheck import _schema

    assert _schema().validate(tree(good(date="2025-02-05T14:03:00")))


def test_checker_accepts_authors_on_every_entry_instead_of_the_feed() -> None:
    author = "<author><name>Someone</name></author>"
    assert_valid_atom(good(feed_author="", entry_author=author))


def test_checker_accepts_content_instead_of_an_alternate_link() -> None:
    assert_valid_atom(good(entry_link='<content type="html">&lt;p&gt;hi&lt;/p&gt;</content>'))


def test_checker_rejects_missing_feed_id() -> None:
    with pytest.raises(AssertionError, match="RELAX NG"):
        assert_valid_atom(good().replace(b"<id>urn:example:feed</id>", b""))


def test_checker_rejects_an_rss_document() -> None:
    rss = b'<rss version="2.0"><channel><title>t</title></channel></rss>'
    with pytest.raises(AssertionError, match="root"):
        assert_valid_atom(rss)


def test_checker_rejects_what_feedparser_cannot_read() -> None:
    """An internal DTD entity: lxml and the grammar accept it, feedparser's strict parser not."""
    doctype = b'<!DOCTYPE feed [<!ENTITY who "Board">]>\n<feed'
    data = good().replace(b"<feed", doctype, 1).replace(b"<name>Board", b"<name>&who;")
    with pytest.raises(AssertionError, match="feedparser"):
        assert_valid_atom(data)


# --- the feed -------------------------------------------------------------------------------


def test_feed_level_elements() -> None:
    data = render([post("47209")])
    parsed = assert_valid_atom(data)
    root = tree(data)
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "ko"
    assert texts(data, "a:id/text()") == ["tag:example.com,2025:ranknews"]
    assert parsed.feed.title == "랭크뉴스 자유게시판"
    assert parsed.feed.author == "랭크뉴스 자유게시판"  # the board title stands in
    links = {(link.rel, link.href) for link in parsed.feed.links}
    assert links == {
        ("alternate", "https://example.com/board/ranknews"),
        ("self", "https://feeds.example.org/ranknews.atom"),
    }


def test_feed_author_and_no_self_link() -> None:
    info = replace(INFO, author="운영자", feed_url=None, language="")
    data = render([post("1")], info)
    parsed = assert_valid_atom(data)
    assert parsed.feed.author == "운영자"
    assert [link.rel for link in parsed.feed.links] == ["alternate"]
    assert tree(data).get("{http://www.w3.org/XML/1998/namespace}lang") is None


def test_tag_authority_falls_back_to_the_site_host() -> None:
    info = replace(INFO, tag_authority="", site_url="https://Board.Example.NET:8443/list")
    data = render([post("7")], info)
    assert_valid_atom(data)
    assert texts(data, "a:entry/a:id/text()") == ["tag:board.example.net,2025:ranknews/7"]


def test_entry_id_is_a_tag_uri_that_survives_edits_and_url_changes() -> None:
    before = render([post("47209")])
    edited = post(
        "47209",
        title="바뀐 제목",
        url="http://m.example.com/47209",
        published=None,
        updated=FIRST_SEEN + timedelta(hours=1),
    )
    after = render([edited], replace(INFO, site_url="http://m.example.com/"))
    for data in (before, after):
        assert_valid_atom(data)
        assert texts(data, "a:entry/a:id/text()") == ["tag:example.com,2025:ranknews/47209"]


def test_ids_with_slashes_cannot_collide() -> None:
    data = render([post("a/b"), post("a%2Fb")])
    assert_valid_atom(data)
    assert sorted(texts(data, "a:entry/a:id/text()")) == [
        "tag:example.com,2025:ranknews/a%252Fb",
        "tag:example.com,2025:ranknews/a%2Fb",
    ]


def test_korean_titles_markup_characters_and_emoji_read_back_exactly() -> None:
    titles = {
        "3": "[속보] 한국어 제목 — 테스트",
        "2": "a < b && c > d \"따옴표\" '홑따옴표' </title>",
        "1": "이모지 😀🎉 and &amp; literally",
    }
    posts = [post(i, title=t, author=f"<{t}>", excerpt=f"요약 {t}") for i, t in titles.items()]
    parsed = assert_valid_atom(render(posts))
    for entry, (_, title) in zip(parsed.entries, titles.items(), strict=True):
        assert entry.title == title
        assert entry.author == f"<{title}>"
        assert entry.summary == f"요약 {title}"


def test_forbidden_characters_are_removed_everywhere() -> None:
    dirty = "제\x00목\x08 \x1b[31m빨강\ufffe\uffff\ud800끝\x7f\x85\x91\t탭"
    info = replace(INFO, title="보드" + dirty, author="관리" + dirty)
    posts = [post("5", title=dirty, author=dirty, excerpt=dirty, text=dirty + " 본문은 더 길다")]
    data = render(posts, info)
    parsed = assert_valid_atom(data)
    clean = "제목 [31m빨강끝\t탭"
    assert xml_safe(dirty) == clean
    assert parsed.feed.title == "보드" + clean
    assert parsed.feed.author == "관리" + clean
    entry = parsed.entries[0]
    assert (entry.title, entry.author, entry.summary) == (clean, clean, clean)
    assert entry.content[0].value == f"<p>{clean} 본문은 더 길다</p>"


def test_a_title_of_only_control_characters_falls_back_to_the_id() -> None:
    parsed = assert_valid_atom(render([post("42", title="\x00\x01")]))
    assert parsed.entries[0].title == "#42"


def test_no_entries_gives_a_valid_feed_with_a_fixed_updated() -> None:
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        first = render([])
    with time_machine.travel(datetime(2031, 6, 1, tzinfo=UTC), tick=False):
        second = render([])
    assert first == second
    parsed = assert_valid_atom(first)
    assert parsed.entries == []
    assert texts(first, "a:updated/text()") == ["1970-01-01T09:00:00+09:00"]
    assert datetime.fromisoformat(texts(first, "a:updated/text()")[0]) == EMPTY_FEED_UPDATED


def test_max_entries_zero_is_an_empty_feed_and_negative_is_refused() -> None:
    assert_valid_atom(render([post("1")], max_entries=0))
    with pytest.raises(ValueError, match="ranknews"):
        render([post("1")], max_entries=-1)


def test_newest_first_by_numeric_id_and_cut_at_max_entries() -> None:
    ids = ["9999", "47209", "10000", "47210", "88", "9"]
    posts = [post(i) for i in ids]
    random.Random(4).shuffle(posts)
    parsed = assert_valid_atom(render(posts, max_entries=4))
    assert [e.link for e in parsed.entries] == [
        f"https://example.com/board/ranknews/{i}" for i in ["47210", "47209", "10000", "9999"]
    ]


def test_feedgen_prepend_default_does_not_reverse_the_order() -> None:
    data = render([post("1"), post("2"), post("3")])
    assert_valid_atom(data)
    assert texts(data, "a:entry/a:id/text()") == [
        f"tag:example.com,2025:ranknews/{i}" for i in ("3", "2", "1")
    ]


def test_notices_take_their_place_by_id_not_at_the_top() -> None:
    notice = post("120", title="[공지] 게시판 규칙", notice=True)
    posts = [notice, post("47209"), post("47208")]
    parsed = assert_valid_atom(render(posts))
    assert [e.title for e in parsed.entries] == ["글 47209", "글 47208", "[공지] 게시판 규칙"]


def test_a_post_listed_twice_appears_once() -> None:
    parsed = assert_valid_atom(render([post("5"), post("5", title="again")]))
    assert [e.title for e in parsed.entries] == ["글 5"]


def test_dates_carry_the_board_offset() -> None:
    data = render([post("1")])
    assert_valid_atom(data)
    assert texts(data, "a:entry/a:published/text()") == ["2025-02-05T14:03:00+09:00"]
    assert texts(data, "a:entry/a:updated/text()") == ["2025-02-05T14:03:00+09:00"]
    assert texts(data, "a:updated/text()") == ["2025-02-05T14:03:00+09:00"]


def test_a_post_without_board_date_is_published_when_first_seen() -> None:
    data = render([post("1", published=None)])
    assert_valid_atom(data)
    # first_seen 05:10:30.123456 UTC, shown in the board's zone, whole seconds
    assert texts(data, "a:entry/a:published/text()") == ["2025-02-05T14:10:30+09:00"]
    assert texts(data, "a:entry/a:updated/text()") == ["2025-02-05T14:10:30+09:00"]


def test_an_edited_title_moves_updated_but_not_published() -> None:
    edited_at = FIRST_SEEN + timedelta(hours=2)
    data = render([post("1", title="고친 제목", updated=edited_at), post("0")])
    parsed = assert_valid_atom(data)
    assert texts(data, "a:entry/a:published/text()")[0] == "2025-02-05T14:03:00+09:00"
    assert texts(data, "a:entry/a:updated/text()") == [
        "2025-02-05T16:10:30+09:00",  # the edit
        "2025-02-05T14:03:00+09:00",  # unedited: updated = published
    ]
    assert parsed.entries[0].title == "고친 제목"
    # the feed's updated is the newest entry update
    assert texts(data, "a:updated/text()") == ["2025-02-05T16:10:30+09:00"]


def test_an_edit_never_dates_before_publication() -> None:
    """A board clock ahead of ours: published 15:00 KST, edit recorded at 14:20 KST."""
    p = post(
        "1",
        published=datetime(2025, 2, 5, 15, 0, tzinfo=KST),
        updated=FIRST_SEEN + timedelta(minutes=10),
    )
    data = render([p])
    assert_valid_atom(data)
    assert texts(data, "a:entry/a:updated/text()") == ["2025-02-05T15:00:00+09:00"]


def test_summary_is_omitted_when_there_is_no_excerpt() -> None:
    data = render([post("1", excerpt="")])
    parsed = assert_valid_atom(data)
    assert texts(data, "a:entry/a:summary") == []
    assert texts(data, "a:entry/a:content") == []
    assert "summary" not in parsed.entries[0]


def test_no_content_when_text_adds_nothing_to_the_excerpt() -> None:
    data = render([post("1", excerpt="같은 글", text="같은 글")])
    parsed = assert_valid_atom(data)
    assert texts(data, "a:entry/a:content") == []
    assert parsed.entries[0].summary == "같은 글"


def test_longer_text_becomes_escaped_html_paragraphs() -> None:
    text = '첫 문단 <script>alert(1)</script>\n둘째 줄 & 끝\n\n\n새 문단 "인용"'
    data = render([post("1", excerpt="첫 문단…", text=text)])
    parsed = assert_valid_atom(data)
    content = texts(data, "a:entry/a:content[@type='html']/text()")
    assert content == [
        "<p>첫 문단 &lt;script&gt;alert(1)&lt;/script&gt;<br>둘째 줄 &amp; 끝</p>\n"
        "<p>새 문단 &quot;인용&quot;</p>"
    ]
    assert "<script" not in parsed.entries[0].content[0].value


def test_image_content_with_excerpt_only() -> None:
    url = 'https://example.com/files/사진 1.jpg?a=1&b="2"'
    data = render([post("1", excerpt="사진 글", image=url)])
    parsed = assert_valid_atom(data)
    html = texts(data, "a:entry/a:content[@type='html']/text()")[0]
    assert html == (
        '<p>사진 글</p>\n<p><img src="https://example.com/files/사진 1.jpg?a=1&amp;b=&quot;2&quot;"'
        ' alt=""></p>'
    )
    assert parsed.entries[0].content[0].type == "text/html"
    assert 'src="https://example.com/files/' in parsed.entries[0].content[0].value


def test_a_non_web_image_url_is_not_embedded() -> None:
    data = render([post("1", excerpt="글", image="javascript:alert(1)")])
    assert_valid_atom(data)
    assert texts(data, "a:entry/a:content") == []


def test_entry_author_defaults_to_the_board_title() -> None:
    parsed = assert_valid_atom(render([post("1", author=""), post("2", author="  ")]))
    assert [e.author for e in parsed.entries] == ["랭크뉴스 자유게시판"] * 2


def test_same_inputs_give_identical_bytes_whatever_the_clock_and_input_order() -> None:
    posts = [
        post("3", image="https://example.com/3.png", excerpt="x"),
        post("2", published=None, updated=FIRST_SEEN + timedelta(minutes=3)),
        post("1", notice=True),
    ]
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        first = render(posts)
    with time_machine.travel(datetime(2027, 7, 7, 7, 7, 7, tzinfo=UTC), tick=False):
        second = render(list(reversed(posts)))
    assert first == second
    assert_valid_atom(first)


def test_output_is_utf8_with_a_declaration() -> None:
    data = render([post("1")])
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "랭크뉴스".encode() in data  # not character references


# Every code point, lone surrogates included (st.text leaves those out by default).
ANY_CHAR = st.characters(exclude_categories=())


def feedparser_keeps(text: str) -> bool:
    """False for the texts feedparser rewrites on purpose: all Latin-1 and valid UTF-8 as bytes
    (it "repairs" them as mojibake, e.g. "Ã©" -> "é"). No Korean text is affected."""
    try:
        return text.encode("latin-1").decode("utf-8") == text
    except UnicodeError:
        return True


@settings(max_examples=150, deadline=None)
@given(
    title=st.text(ANY_CHAR, min_size=1, max_size=40),
    author=st.text(ANY_CHAR, max_size=20),
    excerpt=st.text(ANY_CHAR, max_size=40),
)
def test_any_text_gives_a_valid_feed_that_reads_back(title: str, author: str, excerpt: str) -> None:
    # Titles reach us whitespace-folded (models.Post.title); fold like the parser does.
    title = " ".join(title.split())
    assume(all(feedparser_keeps(xml_safe(t).strip()) for t in (title, author, excerpt)))
    p = post("1", title=title, author=author, excerpt=excerpt)
    parsed = assert_valid_atom(render([p]))
    entry = parsed.entries[0]
    assert " ".join(entry.title.split()) == (" ".join(xml_safe(title).split()) or "#1")
    assert entry.author == (xml_safe(author).strip() or INFO.title)
    assert entry.get("summary", "") == xml_safe(excerpt).strip()


def test_feedparser_is_the_reader_used() -> None:
    """Guards the checker's premise: a feedparser major version change should be noticed."""
    assert feedparser.__version__.startswith("6.")
