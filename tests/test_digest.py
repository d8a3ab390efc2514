"""relay.core.digest: many posts as few Telegram messages, each within every Telegram limit.

Parts are read back with two parsers written apart from relay.core.digest: the fake Bot API's
(tests/fakebot.py: would Telegram accept it, how long is it) and the stdlib's HTMLParser
(which links, with which text, in which order).
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fakebot import parse_entities, telegram_units
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core.digest import MAX_ENTITIES, DigestItem, digest_parts, render_digest
from relay.core.message import MAX_LENGTH, utf16_len


class _Links(HTMLParser):
    """(href, text) of every <a>, and the number of formatting entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.entities = 0
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.entities += 1
        if tag == "a":
            self._href, self._text = dict(attrs)["href"] or "", []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text)))
            self._href = None


def links(part: str) -> _Links:
    parser = _Links()
    parser.feed(part)
    parser.close()
    return parser


def check_limits(parts: list[str], limit: int = MAX_LENGTH) -> None:
    """What Telegram would check, measured by the code under test and by the fake Bot API."""
    for part in parts:
        assert utf16_len(part) <= limit  # the raw HTML, the conservative measure
        assert telegram_units(part) <= limit  # parses, and fits after entity parsing
        assert links(part).entities <= MAX_ENTITIES


def burst(count: int) -> list[DigestItem]:
    """A hot-deal board's burst: Korean titles with emoji, real-looking URLs."""
    return [
        DigestItem(
            title=f"[핫딜] 삼성 갤럭시 버즈3 프로 {n}차 특가 🔥🔥 무료배송 (카드 할인 포함)",
            url=f"https://www.clien.net/service/board/jirum/{18_912_000 + n}?od=T31&po=0",
        )
        for n in range(count)
    ]


def test_a_45_post_burst_is_two_full_messages_with_every_post_in_order() -> None:
    items = burst(45)
    parts = render_digest(items, header="클리앙 알뜰구매: 새 글 45개")
    assert len(parts) == 2  # ~150 raw units a post: 45 of them cannot fit one message
    check_limits(parts)
    found = [href for part in parts for href, _ in links(part).links]
    assert found == [item.url for item in items]
    assert parts[0].startswith("<b>클리앙 알뜰구매: 새 글 45개</b> (1/2)\n• <a href=")
    assert parts[1].startswith("<b>클리앙 알뜰구매: 새 글 45개</b> (2/2)\n")
    # As few as possible: the first part could not have taken the second's first post.
    first_of_next = parts[1].split("\n")[1]
    assert utf16_len(parts[0]) + 1 + utf16_len(first_of_next) > MAX_LENGTH


def test_a_small_burst_is_one_message_without_a_counter() -> None:
    parts = render_digest(burst(5), header="새 글")
    assert len(parts) == 1 and parts[0].startswith("<b>새 글</b>\n• ")
    assert parts[0].count("\n") == 5


def test_emoji_count_two_units_each() -> None:
    """Counted in code points all of it would fit one message; in UTF-16 units it takes two."""
    items = [DigestItem(title="🔥" * 100, url=f"https://e.example/{n}") for n in range(28)]
    parts = render_digest(items, header="🔥 핫")
    check_limits(parts)
    assert len(parts) == 2
    assert sum(len(part) for part in parts) < MAX_LENGTH


def test_a_single_enormous_title_is_cut_and_only_it() -> None:
    huge = "가" * 10_000
    items = [
        DigestItem("앞 글", "https://e.example/1"),
        DigestItem(huge, "https://e.example/2"),
        DigestItem("뒤 글", "https://e.example/3"),
    ]
    parts = render_digest(items, header="새 글")
    check_limits(parts)
    texts = [pair for part in parts for pair in links(part).links]
    assert [href for href, _ in texts] == [item.url for item in items]
    assert texts[0][1] == "앞 글" and texts[2][1] == "뒤 글"
    cut = texts[1][1]
    assert cut.endswith("…") and huge.startswith(cut[:-1]) and len(cut) > 3000


def test_titles_and_urls_are_escaped() -> None:
    item = DigestItem(
        title='<b>1+1</b> & "반값" <script>',
        url='https://e.example/view?a=1&b=<2>&c="3"',
    )
    [part] = render_digest([item], header="A & <B>")
    assert part.startswith("<b>A &amp; &lt;B&gt;</b>\n")
    assert 'href="https://e.example/view?a=1&amp;b=&lt;2&gt;&amp;c=&quot;3&quot;"' in part
    parse_entities(part)  # Telegram's parser accepts it
    assert links(part).links == [(item.url, item.title)]


def test_newlines_and_control_characters_stay_out_of_the_layout() -> None:
    item = DigestItem(title="첫 줄\n둘째 줄\x00\x07", url="https://e.example/1")
    [part] = render_digest([item], header="새\n글")
    assert part == '<b>새 글</b>\n• <a href="https://e.example/1">첫 줄 둘째 줄</a>'


def test_no_title_gets_a_link_text_and_a_non_web_url_no_link() -> None:
    items = [DigestItem("", "https://e.example/1"), DigestItem("스크립트", "javascript:alert(1)")]
    [part] = render_digest(items, header="")
    assert part == '• <a href="https://e.example/1">원문</a>\n• 스크립트'


def test_a_part_holds_at_most_100_entities() -> None:
    items = [DigestItem("a", f"https://e.example/{n}") for n in range(250)]
    parts = digest_parts(items, header="짧은 글")
    assert [part.count for part in parts] == [99, 99, 52]  # the bold header is the 100th
    check_limits([part.text for part in parts])


def test_no_items_no_message() -> None:
    assert render_digest([], header="새 글") == []


def test_a_limit_too_small_for_any_item_is_an_error() -> None:
    with pytest.raises(ValueError, match="no room"):
        render_digest([DigestItem("제목", "https://e.example/1")], header="새 글", limit=12)


# Format characters (Cf: bidi controls, zero-width joiners) are stripped from titles by design
# (tested in test_text), so a title made of them alone would not read back as itself.
_title_chars = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Co", "Cn"))


@settings(max_examples=150, deadline=None)
@given(
    titles=st.lists(
        st.text(st.one_of(_title_chars, st.sampled_from("<>&\"'🔥핫딜")), min_size=1, max_size=60),
        max_size=120,
    ),
    limit=st.integers(min_value=400, max_value=MAX_LENGTH),
    header=st.text(st.one_of(_title_chars, st.sampled_from("<&")), max_size=30),
)
def test_every_item_appears_exactly_once_in_order(
    titles: list[str], limit: int, header: str
) -> None:
    items = [DigestItem(t, f"https://e.example/{n}?x=<&>") for n, t in enumerate(titles)]
    parts = digest_parts(items, header=header, limit=limit)
    texts = [part.text for part in parts]
    check_limits(texts, limit)
    found = [pair for text in texts for pair in links(text).links]
    assert found == [(item.url, item.title) for item in items]
    assert sum(part.count for part in parts) == len(items)
    # Greedy is as few as possible: no part could have taken the next part's first item
    # (within the room reserved for the widest counter, "(10/12)" where this one is "(9/12)").
    slack = len(str(len(parts))) - 1
    for part, following in zip(parts, parts[1:], strict=False):
        first = following.text.split("\n")[1]
        assert (
            utf16_len(part.text) + 1 + utf16_len(first) + slack > limit
            or links(part.text).entities >= MAX_ENTITIES
        )
