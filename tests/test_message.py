"""relay.core.message: the layout, escaping, Telegram's 4096-unit limit and template validation.

Every produced text is also run through the fake Bot API's own HTML parser (tests/fakebot.py,
written apart from relay.core.message), so the two implementations check each other.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakebot import parse_entities, telegram_units
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core.message import (
    MAX_LENGTH,
    MessageSettings,
    format_message,
    shorten,
    telegram_length,
    utf16_len,
    validate_template,
)
from relay.core.models import LinkPreview, StoredPost

SEOUL = ZoneInfo("Asia/Seoul")
FIRST_SEEN = datetime(2025, 2, 5, 6, 32, tzinfo=UTC)  # 15:32 in Seoul
POST = StoredPost(
    board_id="news",
    id="47209",
    url="https://board.example/news/47209",
    title="첫 글",
    number=812,
    author="랭크뉴스",
    published=None,
    first_seen=FIRST_SEEN,
    updated=FIRST_SEEN,
    excerpt="본문 요약입니다.",
    image="https://board.example/files/a.jpg",
)


def board_settings(board_title: str = "랭크뉴스", **kwargs: Any) -> MessageSettings:
    return MessageSettings(board_title=board_title, tz=SEOUL, **kwargs)


def fmt(post: StoredPost = POST, **kwargs: Any) -> str:
    return format_message(post, chat="@c", settings=board_settings(**kwargs)).text


def test_default_layout_is_title_excerpt_then_link_author_date() -> None:
    assert fmt() == (
        "<b>첫 글</b>\n\n본문 요약입니다.\n\n"
        '<a href="https://board.example/news/47209">랭크뉴스</a> · 랭크뉴스 · 2025-02-05 15:32'
    )


def test_published_date_is_shown_in_the_board_zone() -> None:
    published = datetime(2025, 1, 1, 0, 5, tzinfo=UTC)
    assert fmt(replace(POST, published=published)).endswith(" · 2025-01-01 09:05")


def test_missing_excerpt_and_author_leave_no_stray_separators() -> None:
    text = fmt(replace(POST, excerpt="", author=""))
    link = '<a href="https://board.example/news/47209">랭크뉴스</a>'
    assert text == f"<b>첫 글</b>\n\n{link} · 2025-02-05 15:32"


def test_notice_title_gets_a_prefix() -> None:
    assert fmt(replace(POST, notice=True)).startswith("<b>[공지] 첫 글</b>")


def test_scraped_markup_quotes_and_ampersands_are_escaped_everywhere() -> None:
    nasty = replace(
        POST,
        title='<script>alert("x")</script> Tom & Jerry\'s',
        author="<b>admin</b> & co",
        excerpt="a < b && c > d",
        url='https://board.example/view?a=1&b="2"><b>',
    )
    text = format_message(nasty, chat="@c", settings=board_settings("A&B <board>")).text
    plain = parse_entities(text)  # the fake server accepts it ...
    for original in (nasty.title, nasty.author, nasty.excerpt, "A&B <board>"):
        assert original in plain  # ... and shows every string exactly as scraped
    assert "<script>" not in text
    assert 'href="https://board.example/view?a=1&amp;b=&quot;2&quot;&gt;&lt;b&gt;"' in text


def test_control_characters_are_dropped() -> None:
    assert fmt(replace(POST, title="a\x00b\x1bc")).startswith("<b>abc</b>")


@pytest.mark.parametrize(
    ("html_text", "units"),
    [
        ("<b>a&amp;b</b>", 3),
        ('<a href="https://x/?a=1&amp;b=2">link</a>', 4),
        ("&lt;&gt;&quot;&#x27;&#39;", 5),
        ("😀", 2),  # astral plane: a surrogate pair
        ("&#128512;", 2),
        ("한글", 2),
        ("a\n\nb", 4),
    ],
)
def test_telegram_length_counts_utf16_units_after_entity_parsing(
    html_text: str, units: int
) -> None:
    assert telegram_length(html_text) == units == telegram_units(html_text)


def _excerpt_for_total(total: int) -> str:
    """An excerpt of spaced words that makes the default message exactly `total` units."""
    base = telegram_length(fmt(replace(POST, excerpt="x")))
    words = ("단어 " * total)[: total - base + 1]
    return words[:-1] + "끝" if words.endswith(" ") else words


def test_a_message_of_exactly_4096_units_is_left_alone() -> None:
    excerpt = _excerpt_for_total(MAX_LENGTH)
    text = fmt(replace(POST, excerpt=excerpt))
    assert telegram_length(text) == MAX_LENGTH == telegram_units(text)
    assert excerpt in text and "…" not in text


def test_one_unit_over_cuts_the_excerpt_at_a_word_boundary() -> None:
    excerpt = _excerpt_for_total(MAX_LENGTH + 1)
    text = fmt(replace(POST, excerpt=excerpt))
    assert telegram_units(text) <= MAX_LENGTH
    body = parse_entities(text).split("\n\n")[1]
    assert body.endswith("…") and excerpt.startswith(body[:-1])
    assert body[-2] in "어끝"  # a whole word, not half of one
    assert "<b>첫 글</b>" in text  # the title is untouched


def test_astral_emoji_are_counted_twice_and_never_split() -> None:
    text = fmt(replace(POST, excerpt="😀" * 3000))
    assert telegram_units(text) <= MAX_LENGTH
    body = parse_entities(text).split("\n\n")[1]
    assert body == "😀" * len(body[:-1]) + "…"
    assert len(body) < 2048  # 3000 emoji would be 6000 units


def test_title_is_cut_when_no_excerpt_can_make_room() -> None:
    text = fmt(replace(POST, title="긴 제목 " * 2000, excerpt="요약"))
    assert telegram_units(text) <= MAX_LENGTH
    assert "요약" not in text  # the excerpt went first
    assert parse_entities(text).split("\n\n")[0].endswith("…")


def test_a_cut_never_lands_inside_an_entity() -> None:
    text = fmt(replace(POST, title="&<>\"'" * 1500, excerpt="&" * 5000))
    assert telegram_units(text) <= MAX_LENGTH  # parse_entities raises on a broken entity


@pytest.mark.parametrize(
    ("text", "budget", "expected"),
    [
        ("short", 10, "short"),
        ("one two three", 10, "one two…"),
        ("가나다라마바사", 4, "가나다…"),  # no space: cut between syllables
        ("a verylongword", 10, "a verylon…"),  # last space too early: cut inside the word
        ("word", 0, ""),
    ],
)
def test_shorten(text: str, budget: int, expected: str) -> None:
    assert shorten(text, budget) == expected
    assert utf16_len(shorten(text, budget)) <= max(budget, 0)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (LinkPreview.POST, "https://board.example/news/47209"),
        (LinkPreview.IMAGE, "https://board.example/files/a.jpg"),
        (LinkPreview.NONE, None),
    ],
)
def test_link_preview_modes(mode: LinkPreview, expected: str | None) -> None:
    msg = format_message(POST, chat="@c", settings=board_settings("b", link_preview=mode))
    assert msg.preview_url == expected


def test_image_preview_without_an_image_shows_none() -> None:
    no_image = replace(POST, image=None)
    msg = format_message(
        no_image, chat="@c", settings=board_settings("b", link_preview=LinkPreview.IMAGE)
    )
    assert msg.preview_url is None


def test_delivery_options_pass_through() -> None:
    msg = format_message(
        POST,
        chat="-100123",
        settings=board_settings("b", disable_notification=True, message_thread_id=7),
    )
    assert (msg.chat, msg.disable_notification, msg.message_thread_id) == ("-100123", True, 7)


def test_template_gets_every_placeholder_escaped() -> None:
    template = (
        '{board} #{number} ({id}) {date}\n<a href="{url}"><b>{title}</b></a>\n{author}: {excerpt}'
    )
    post = replace(POST, title="A&B", url="https://x/?a=1&b=2", author="<me>")
    text = fmt(post, template=template)
    assert text == (
        "랭크뉴스 #812 (47209) 2025-02-05 15:32\n"
        '<a href="https://x/?a=1&amp;b=2"><b>A&amp;B</b></a>\n&lt;me&gt;: 본문 요약입니다.'
    )


def test_template_messages_are_cut_too() -> None:
    text = fmt(replace(POST, excerpt="말 " * 5000), template="<b>{title}</b>\n{excerpt}\n{excerpt}")
    assert telegram_units(text) <= MAX_LENGTH
    assert text.count("…") == 2


@pytest.mark.parametrize(
    "template",
    [
        "{title}",
        '<b>{title}</b>\n<a href="{url}">{board}</a>',
        '<tg-spoiler>{excerpt}</tg-spoiler> <span class="tg-spoiler">{author}</span>',
        "<strong><em><u><ins><s><strike><del>{title}</del></strike></s></ins></u></em></strong>",
        "<blockquote expandable>{excerpt}</blockquote>",
        '<pre><code class="language-text">{id}</code></pre>',
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> {title}',
        "{title} &amp; &#128512; &lt;3 {{x}} a > b",
        "<B>{title}</B>",
    ],
)
def test_valid_templates_pass_and_render_for_telegram(template: str) -> None:
    validate_template(template)
    parse_entities(fmt(template=template))


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{title} {body}", "unknown placeholder {body}"),
        ("{title.upper}", "unknown placeholder"),
        ("{0} {title}", "positional"),
        ("{title:.20}", "format spec"),
        ("{title!r}", "format spec or conversion"),
        ("{title", "expected '}'"),
        ("just text", "no placeholder"),
        ("{title}<br>", "<br> is not in Telegram's HTML subset"),
        ("<p>{title}</p>", "<p> is not in"),
        ("<span>{title}</span>", 'class="..."'),
        ('<span class="x">{title}</span>', "tg-spoiler"),
        ("<a>{title}</a>", 'href="..."'),
        ("<a href={url}>{title}</a>", "quote the value"),
        ("<b>{title}", "<b> is never closed"),
        ("{title}</b>", "</b> closes nothing"),
        ("<b><i>{title}</b></i>", "</b> is misnested"),
        ("{title} & {url}", "bare '&'"),
        ("{title} &nbsp;", "bare '&'"),
        ("{title} < 3", "bare '<'"),
        ("<b/>{title}", "self-closing"),
        ('<a href="{url}"><a href="{url}">{title}</a></a>', "nested"),
        ("<code><b>{title}</b></code>", "inside <code>"),
        ("{title}" + "x" * 3000, "over 2048"),
    ],
)
def test_invalid_templates_are_refused_with_a_reason(template: str, reason: str) -> None:
    with pytest.raises(ValueError, match="template") as raised:
        validate_template(template)
    assert reason in str(raised.value)


def test_a_template_that_renders_empty_falls_back_to_the_default_layout() -> None:
    assert fmt(replace(POST, excerpt=""), template="<i>{excerpt}</i>") == fmt(
        replace(POST, excerpt="")
    )


def test_format_message_refuses_an_invalid_template() -> None:
    with pytest.raises(ValueError, match="unknown placeholder"):
        fmt(template="{nope}")


def test_the_module_is_pure() -> None:
    code = (
        "import sys, relay.core.message; "
        "bad = {'telegram', 'httpx', 'sqlite3', 'aiohttp', 'apscheduler'} & set(sys.modules); "
        "sys.exit(sorted(bad) or 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


_ALPHABET = st.sampled_from(list("<>&;#\"' \n\tab가나😀👍🏽\u200d\ufe0f&amp;x"))
_SCRAPED = st.one_of(
    st.text(),
    st.text(_ALPHABET, max_size=200),
    st.tuples(st.text(_ALPHABET, min_size=1, max_size=30), st.integers(0, 400)).map(
        lambda chunk_times: chunk_times[0] * chunk_times[1]
    ),
)


@settings(max_examples=120, deadline=None)
@given(
    title=_SCRAPED,
    excerpt=_SCRAPED,
    author=_SCRAPED,
    board=st.text(max_size=80),
    notice=st.booleans(),
    template=st.sampled_from(
        [
            None,
            "{title}\n{excerpt}\n{excerpt}",
            '<b>{title}</b> <a href="{url}">{board}</a> {author}',
        ]
    ),
)
def test_any_post_fits_telegram_and_parses(
    title: str, excerpt: str, author: str, board: str, notice: bool, template: str | None
) -> None:
    post = replace(POST, title=title, excerpt=excerpt, author=author, notice=notice)
    text = format_message(post, chat="@c", settings=board_settings(board, template=template)).text
    assert telegram_units(text) <= MAX_LENGTH  # raises if the fake server would refuse the HTML
    assert telegram_length(text) == telegram_units(text)


@pytest.mark.parametrize(
    "url",
    ["JavaScript:alert(1)//102", "java\tscript:alert(1)", "data:text/html,<b>x</b>", "file:///etc"],
)
def test_a_dangerous_stored_link_never_reaches_a_message(url: str) -> None:
    """A state written before the parser refused such links must not send them on."""
    post = replace(POST, url=url, image=url)
    for mode in (LinkPreview.POST, LinkPreview.IMAGE):
        message = format_message(post, chat="@news", settings=board_settings(link_preview=mode))
        assert message.preview_url is None
        assert "script:" not in message.text.lower() and "data:" not in message.text
        assert "file:" not in message.text
    parse_entities(message.text)  # still HTML Telegram accepts


def test_bidi_controls_in_a_stored_title_are_removed() -> None:
    post = replace(POST, title="가격 \u202egpj.exe\u202c 특가", author="\u2066작성자\u2069")
    message = format_message(post, chat="@news", settings=board_settings())
    for control in ("\u202e", "\u202c", "\u2066", "\u2069"):
        assert control not in message.text
    assert "gpj.exe" in message.text and "작성자" in message.text
