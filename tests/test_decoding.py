"""Decoding that fails small: real-world damage costs the damaged bytes, never the page.

The pages are board list pages as Rhymix and Gnuboard render them (Korean titles in cells,
a layout with a Korean menu), damaged the way real pages are: a stray byte, a word pasted
from a cp949 page, a last character cut in half, an old article body stored in cp949.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core.decoding import decode_html, decode_xml

TITLES = [
    "SK하이닉스 ‘딥시크 타격’ 우려에 외국인 매도",
    "오늘 점심 뭐 먹지? 짜장면 vs 짬뽕",
    "똠방각하 햏자 게시판 이용 안내",  # 똠, 햏: cp949-only syllables
    "처음 글 써봅니다 (사진 있음)",
    "[공지] 서버 점검 안내 - 2월 5일 새벽",
]
BODY = "안녕하세요. 오랜만에 글을 남깁니다. 지난주에 다녀온 제주도 여행 후기입니다."


def page(titles: list[str] = TITLES, body: str = "", charset: str = "utf-8") -> str:
    rows = "".join(
        f'<tr><td class="no">{100 - i}</td><td class="title"><a href="/free/{9000 + i}">'
        f'{t}</a></td><td class="author">홍길동</td><td class="time">2025.02.05</td></tr>\n'
        for i, t in enumerate(titles)
    )
    article = f'<div class="xe_content">{body}</div>' if body else ""
    return (
        f'<!DOCTYPE html><html lang="ko"><head><meta charset="{charset}"><title>자유게시판'
        f'</title></head><body><a href="#content">메뉴 건너뛰기</a><ul class="gnb"><li>홈</li>'
        f"<li>자유게시판</li><li>질문답변</li></ul>{article}<table><thead><tr><th>번호</th>"
        f"<th>제목</th><th>글쓴이</th><th>날짜</th></tr></thead><tbody>\n{rows}</tbody>"
        "</table></body></html>"
    )


UTF8 = "text/html; charset=UTF-8"


def test_a_clean_utf8_page_reads_as_declared() -> None:
    decoded = decode_html(page().encode(), UTF8)
    assert decoded.text == page()
    assert (decoded.encoding, decoded.source, decoded.replaced, decoded.rescued) == (
        "utf-8",
        "header",
        0,
        0,
    )


def test_one_stray_0xff_in_a_utf8_page_costs_one_character() -> None:
    good = page().encode()
    at = good.index("외국인".encode())
    damaged = good[:at] + b"\xff" + good[at:]
    decoded = decode_html(damaged, UTF8)
    assert decoded.text == page().replace("외국인", "\ufffd외국인")
    assert (decoded.encoding, decoded.source, decoded.replaced) == ("utf-8", "header", 1)
    assert decoded.overruled is None


def test_one_cp949_word_inside_a_utf8_page_reads_right() -> None:
    good = page().encode()
    word = "짜장면"
    damaged = good.replace(word.encode(), word.encode("cp949"))
    decoded = decode_html(damaged, UTF8)
    assert decoded.text == page()
    assert decoded.encoding == "utf-8" and decoded.source == "header"
    assert decoded.rescued == len(word.encode("cp949")) and decoded.replaced == 0


def test_a_last_character_cut_in_half_costs_that_character() -> None:
    text = page(body="제주도 여행 후기")
    good = text.encode()
    cut = good[: good.index("후기".encode()) + 4]  # 후 and the first byte of 기
    decoded = decode_html(cut, UTF8)
    expected = good[: good.index("후기".encode()) + 3].decode() + "\ufffd"
    assert decoded.text == expected
    assert decoded.replaced == 1 and decoded.encoding == "utf-8"


def test_a_page_cut_inside_its_last_character_loses_only_it() -> None:
    good = page().encode()
    decoded = decode_html(good[:-9] + "닫".encode()[:2], UTF8)
    assert decoded.text == page()[:-9] + "\ufffd"
    assert decoded.replaced == 2  # two bytes, one replacement character


def test_a_cp949_page_without_any_charset_is_guessed() -> None:
    text = page(charset="")
    decoded = decode_html(text.replace('<meta charset="">', "").encode("cp949"), "text/html")
    assert decoded.text == text.replace('<meta charset="">', "")
    assert (decoded.encoding, decoded.source, decoded.replaced) == ("cp949", "cp949", 0)


def test_a_cp949_page_that_declares_utf8_falsely_still_reads_right() -> None:
    text = page(charset="utf-8")
    decoded = decode_html(text.encode("cp949"), UTF8)  # header and meta both lie
    assert decoded.text == text
    assert decoded.encoding == "cp949" and decoded.overruled == "utf-8"
    assert decoded.replaced == 0


def test_a_cp949_page_with_a_false_header_and_a_true_meta_credits_the_meta() -> None:
    text = page(charset="euc-kr")
    decoded = decode_html(text.encode("cp949"), UTF8)
    assert decoded.text == text
    assert (decoded.encoding, decoded.source, decoded.overruled) == ("cp949", "meta", "utf-8")


def test_an_article_body_stored_in_cp949_inside_a_utf8_page_reads_right() -> None:
    text = page(body=BODY)
    layout, _, rest = text.partition(BODY)
    damaged = layout.encode() + BODY.encode("cp949") + rest.encode()
    decoded = decode_html(damaged, UTF8)
    assert decoded.text == text
    assert decoded.encoding == "utf-8" and decoded.replaced == 0
    assert decoded.rescued >= len(BODY.encode("cp949")) - BODY.count(" ") - BODY.count(".")


def test_a_long_cp949_body_in_a_utf8_page_with_little_korean_reads_right() -> None:
    """The body outweighs the layout: cp949 wins by evidence, the UTF-8 layout still reads."""
    text = page(titles=["공지"], body=BODY * 30)
    layout, _, rest = text.partition(BODY * 30)
    damaged = layout.encode() + (BODY * 30).encode("cp949") + rest.encode()
    decoded = decode_html(damaged, UTF8)
    assert decoded.text == text
    assert decoded.encoding == "cp949" and decoded.overruled == "utf-8"
    assert decoded.replaced == 0 and decoded.rescued > 0


def test_a_utf8_page_with_damage_and_latin_text_keeps_the_latin_text() -> None:
    text = page(titles=["Café ó résumé 한글 제목", *TITLES])
    damaged = text.encode().replace("한글".encode(), "한글".encode() + b"\xff")
    decoded = decode_html(damaged, UTF8)
    assert decoded.text == text.replace("한글", "한글\ufffd")


def test_an_iso_8859_1_header_on_a_damaged_utf8_page_is_ignored() -> None:
    damaged = page().encode().replace("점심".encode(), b"\xff")
    decoded = decode_html(damaged, "text/html; charset=ISO-8859-1")
    assert decoded.text == page().replace("점심", "\ufffd")
    assert decoded.source == "meta" and decoded.replaced == 1


def test_a_feed_declares_its_encoding_in_the_xml_declaration() -> None:
    xml = '<?xml version="1.0" encoding="euc-kr"?>\n<rss version="2.0"><channel><title>햏 게시판'
    decoded = decode_xml(xml.encode("cp949"), "text/xml")
    assert decoded.text == xml and (decoded.encoding, decoded.source) == ("cp949", "xml")


SYLLABLES = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
WORDS = st.lists(
    st.text(SYLLABLES, min_size=1, max_size=6) | st.sampled_from(["a", "<td>", "2025.02.05"]),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(words=WORDS, where=st.integers(min_value=0), stray=st.integers(0x80, 0xFF))
def test_one_bad_byte_at_a_character_boundary_costs_at_most_one_character(
    words: list[str], where: int, stray: int
) -> None:
    text = " ".join(words)
    at = where % (len(text) + 1)
    damaged = text[:at].encode() + bytes([stray]) + text[at:].encode()
    decoded = decode_html(damaged, UTF8)
    # At a boundary the stray byte cannot join its neighbours: it is one U+FFFD, and the
    # word around it must not be re-read as cp949.
    assert decoded.text == text[:at] + "\ufffd" + text[at:]
    assert decoded.replaced == 1
