"""Decoding, excerpts and board dates: the text rules every engine relies on."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from relay.core.text import decode_html, excerpt, fold_whitespace, parse_board_date, safe_http_url

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 2, 5, 16, 0, tzinfo=SEOUL)
KOREAN = "똠방각하 햏자 게시판 - 번호 제목 글쓴이 날짜"  # 똠, 햏: outside strict EUC-KR


def test_cp949_bytes_without_any_charset_come_out_korean() -> None:
    body = f"<html><body>{KOREAN}</body></html>".encode("cp949")
    decoded = decode_html(body, "text/html")
    assert KOREAN in decoded.text
    assert (decoded.encoding, decoded.source) == ("cp949", "cp949")


def test_euc_kr_label_in_meta_means_cp949() -> None:
    body = f'<meta http-equiv="Content-Type" content="text/html; charset=euc-kr">{KOREAN}'
    decoded = decode_html(body.encode("cp949"), None)
    assert KOREAN in decoded.text and decoded.source == "meta"


def test_wrong_utf8_header_on_cp949_bytes_is_passed_over() -> None:
    decoded = decode_html(KOREAN.encode("cp949"), "text/html; charset=UTF-8")
    assert decoded.text == KOREAN


def test_latin1_header_is_distrusted() -> None:
    decoded = decode_html(KOREAN.encode("cp949"), "text/html; charset=ISO-8859-1")
    assert decoded.text == KOREAN


def test_malformed_meta_charset_still_read() -> None:
    body = f"<meta content='text/html; charset=ks_c_5601-1987\">{KOREAN}".encode("cp949")
    assert KOREAN in decode_html(body, None).text


def test_header_wins_over_meta_when_it_decodes() -> None:
    body = f'<meta charset="euc-kr">{KOREAN}'.encode()
    decoded = decode_html(body, "text/html; charset=utf-8")
    assert decoded.source == "header" and KOREAN in decoded.text


def test_utf8_bom() -> None:
    assert decode_html(b"\xef\xbb\xbf" + KOREAN.encode(), None).text == KOREAN


def test_excerpt_cuts_at_a_word_boundary_with_ellipsis() -> None:
    text = "손정의 소프트뱅크그룹 회장이 이재용 삼성전자 회장과 회동했다"
    cut = excerpt(text, 20)
    assert cut.endswith("…") and len(cut) <= 20
    assert text.startswith(cut[:-1])
    assert cut[:-1] in text and text[len(cut) - 1] == " "


def test_excerpt_keeps_short_text_and_folds_whitespace() -> None:
    assert excerpt("  a\n\n b\xa0 c ", 200) == "a b c"
    assert excerpt("anything", 0) == ""
    assert fold_whitespace("x\u200by") == "x y"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025.02.05", datetime(2025, 2, 5, tzinfo=SEOUL)),
        ("25.02.05", datetime(2025, 2, 5, tzinfo=SEOUL)),
        ("2025-02-05 15:32", datetime(2025, 2, 5, 15, 32, tzinfo=SEOUL)),
        ("2025-02-05 15:32:09", datetime(2025, 2, 5, 15, 32, 9, tzinfo=SEOUL)),
        ("2025/02/05", datetime(2025, 2, 5, tzinfo=SEOUL)),
        ("2025년 2월 5일", datetime(2025, 2, 5, tzinfo=SEOUL)),
        ("02-05", datetime(2025, 2, 5, tzinfo=SEOUL)),
        ("02.04", datetime(2025, 2, 4, tzinfo=SEOUL)),
        ("12-31", datetime(2024, 12, 31, tzinfo=SEOUL)),  # in the future this year: last year
        ("15:32", datetime(2025, 2, 5, 15, 32, tzinfo=SEOUL)),
        ("3분 전", datetime(2025, 2, 5, 15, 57, tzinfo=SEOUL)),
        ("2시간 전", datetime(2025, 2, 5, 14, 0, tzinfo=SEOUL)),
        ("어제", datetime(2025, 2, 4, tzinfo=SEOUL)),
        ("어제 23:10", datetime(2025, 2, 4, 23, 10, tzinfo=SEOUL)),
        ("방금 전", NOW),
    ],
)
def test_board_dates(text: str, expected: datetime) -> None:
    parsed = parse_board_date(text, NOW, SEOUL)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is not None


def test_now_in_utc_is_read_in_the_board_zone() -> None:
    # 2025-02-05 00:30 in Seoul is still the 4th in UTC: "today" is the 5th in Seoul, so
    # "00:10" is the 5th; "15:32" would be in the future there, so it is the 4th's (Seoul).
    now_utc = datetime(2025, 2, 4, 15, 30, tzinfo=ZoneInfo("UTC"))
    assert parse_board_date("00:10", now_utc, SEOUL) == datetime(2025, 2, 5, 0, 10, tzinfo=SEOUL)
    assert parse_board_date("15:32", now_utc, SEOUL) == datetime(2025, 2, 4, 15, 32, tzinfo=SEOUL)


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        # a time or a day without its year: the latest one not after the poll
        ("23:59", datetime(2026, 1, 1, 0, 5), datetime(2025, 12, 31, 23, 59)),
        ("12-31", datetime(2026, 1, 1, 0, 5), datetime(2025, 12, 31)),
        ("12.31 23:50", datetime(2026, 1, 1, 0, 5), datetime(2025, 12, 31, 23, 50)),
        ("01-01", datetime(2026, 1, 1, 0, 5), datetime(2026, 1, 1)),
        ("02-05 16:30", datetime(2025, 2, 5, 16, 0), datetime(2024, 2, 5, 16, 30)),
        ("02-29", datetime(2025, 1, 15, 9, 0), datetime(2024, 2, 29)),  # none in 2025
        # a board clock a few minutes ahead: the poll's own moment, not a day or a year earlier
        ("16:04", datetime(2025, 2, 5, 16, 0), datetime(2025, 2, 5, 16, 0)),
        ("02-06", datetime(2025, 2, 5, 23, 55), datetime(2025, 2, 5, 23, 55)),
        # a form that names its day and is still ahead: the poll
        ("오늘 23:00", datetime(2025, 2, 5, 16, 0), datetime(2025, 2, 5, 16, 0)),
        ("2025.02.06", datetime(2025, 2, 5, 16, 0), datetime(2025, 2, 5, 16, 0)),
        ("26.01.01", datetime(2025, 12, 31, 23, 0), datetime(2025, 12, 31, 23, 0)),
        ("17 시간 전", datetime(2025, 2, 5, 16, 0), datetime(2025, 2, 4, 23, 0)),
        ("어제", datetime(2025, 2, 5, 0, 1), datetime(2025, 2, 4)),
    ],
)
def test_a_printed_date_never_lands_after_the_poll(
    text: str, now: datetime, expected: datetime
) -> None:
    assert parse_board_date(text, now.replace(tzinfo=SEOUL), SEOUL) == expected.replace(
        tzinfo=SEOUL
    )


def test_a_relative_date_before_year_one_is_no_date() -> None:
    assert parse_board_date("99999999일 전", NOW, SEOUL) is None


@pytest.mark.parametrize("text", ["", "랭크뉴스", "1234", "조회 99", "2025.13.45", "99:99"])
def test_not_dates(text: str) -> None:
    assert parse_board_date(text, NOW, SEOUL) is None


# ---- links a reader may follow, and text that cannot disguise itself ------------------------


@pytest.mark.parametrize(
    "url",
    [
        "JavaScript:alert(1)//102",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "java\tscript:alert(1)//103",
        "java\nscript:alert(1)",
        "\x01javascript:alert(1)",
        " \u200bjavascript:alert(1)",
        "jav\u202eascript:alert(1)",
        "file:///etc/passwd/110",
        "ftp://files.example/a",
        "mailto:a@b.example",
        "//b.example/relative",
        "/board/1",
        "http:/board/1",
        "http://",
        "https://a@b@evil.example/",
        "http://evil.example\\@b.example/",
        "",
    ],
)
def test_anything_but_an_absolute_web_url_is_refused(url: str) -> None:
    assert safe_http_url(url) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://b.example/free/47209", "https://b.example/free/47209"),
        ("http://b.example", "http://b.example"),
        ("HTTPS://B.example/x", "https://B.example/x"),
        ("Http://b.example:8080/x?a=1#c", "http://b.example:8080/x?a=1#c"),
        ("  https://b.example/x \n", "https://b.example/x"),
        ("ht\ttps://b.example/x", "https://b.example/x"),  # what a browser makes of it
        ("https://b.example/사진 1.jpg", "https://b.example/사진 1.jpg"),
        ("https://b.example/a\u202eb", "https://b.example/ab"),
        ("http://user:pw@[::1]:8080/x", "http://user:pw@[::1]:8080/x"),
    ],
)
def test_web_urls_come_back_clean(url: str, expected: str) -> None:
    assert safe_http_url(url) == expected


def test_bidi_controls_are_removed_from_displayed_text() -> None:
    controls = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    assert fold_whitespace(f"사진{controls} gpj.exe") == "사진 gpj.exe"
    assert excerpt(f"\u202e{KOREAN}", 200) == KOREAN
    assert (
        fold_whitespace("עברית \u05d0 and العربية") == "עברית \u05d0 and العربية"
    )  # RTL text stays
