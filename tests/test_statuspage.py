"""relay.core.statuspage and relay.core.sparkline: the operator's pages, read back as a DOM.

Every page is parsed with lxml.html and asserted on what a person would see: one card per
board in order, the sparkline's bars equal to the posts per hour, hostile strings shown as
text (never markup), chat ids only when asked for, labels in the language asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from relay.core.statuspage import (
    SPARK_HOURS,
    BoardRow,
    DeliveryRow,
    PostRow,
    RoutePending,
    hourly_counts,
    render_board,
    render_index,
)

KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 2, 5, 6, 30, 15, tzinfo=UTC)  # 15:30 KST
HOUR_START = NOW.replace(minute=0, second=0)
M = timedelta(minutes=1)
H = timedelta(hours=1)
HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>&amp;'


def board(board_id: str = "ranknews", **fields: object) -> BoardRow:
    values: dict[str, object] = {
        "id": board_id,
        "title": f"{board_id} 자유게시판",
        "url": f"https://{board_id}.example.kr/free",
        "feed_name": f"{board_id}.atom",
        "last_poll": NOW - 2 * M,
        "last_success": NOW - 2 * M,
        "last_new": NOW - 3 * H,
        "posts_known": 120,
    }
    values.update(fields)
    return BoardRow(**values)  # type: ignore[arg-type]


def dom(page: str) -> lxml.html.HtmlElement:
    assert page.startswith("<!DOCTYPE html>")
    return lxml.html.document_fromstring(page)


def cards(page: str) -> list[lxml.html.HtmlElement]:
    return list(dom(page).xpath("//article[@data-board]"))


def bars(card: lxml.html.HtmlElement) -> list[int]:
    return [int(rect.get("data-count")) for rect in card.xpath(".//svg/g/rect")]


# --- hourly counts ------------------------------------------------------------------------------

COUNT_CASES = {
    "nothing": ([], {}),
    "this hour so far, now included": ([HOUR_START, NOW - M, NOW], {47: 3}),
    "the previous hour, up to its last second": ([HOUR_START - timedelta(seconds=1)], {46: 1}),
    "the oldest hour, from its first second": ([HOUR_START - 47 * H], {0: 1}),
    "older than 48 hours is left out": ([HOUR_START - 47 * H - timedelta(seconds=1)], {}),
    "after now (a clock skew) is left out": ([NOW + timedelta(seconds=1), NOW + 10 * M], {}),
    "any order and any zone": (
        [(NOW - 5 * H).astimezone(KST), NOW - 30 * H, (NOW - 5 * H - M).astimezone(KST)],
        {42: 2, 17: 1},
    ),
}


@pytest.mark.parametrize(("times", "expected"), COUNT_CASES.values(), ids=COUNT_CASES.keys())
def test_hourly_counts(times: list[datetime], expected: dict[int, int]) -> None:
    counts = hourly_counts(times, NOW)
    assert len(counts) == SPARK_HOURS
    assert {i: n for i, n in enumerate(counts) if n} == expected


def test_hourly_counts_other_spans() -> None:
    assert hourly_counts([NOW, NOW - H, NOW - 2 * H], NOW, hours=2) == [1, 1]
    with pytest.raises(ValueError, match="hours"):
        hourly_counts([], NOW, hours=0)


# --- the index page -----------------------------------------------------------------------------


def test_index_is_a_phone_page_without_script() -> None:
    page = render_index([board()], now=NOW, tz=KST)
    root = dom(page)
    assert root.get("lang") == "ko"
    viewport = root.xpath("//meta[@name='viewport']")
    assert viewport and "width=device-width" in viewport[0].get("content")
    assert root.xpath("//style") and not root.xpath("//script")
    assert "<script" not in page.lower() and " on" not in "".join(
        attr for el in root.iter() if isinstance(el.tag, str) for attr in el.attrib
    )


def test_one_card_per_board_in_order_with_its_links() -> None:
    rows = [board(f"b{n}") for n in range(7)] + [board("with space/slash")]
    found = cards(render_index(rows, now=NOW, tz=KST))
    assert [c.get("data-board") for c in found] == [r.id for r in rows]
    first = found[0]
    hrefs = [a.get("href") for a in first.xpath(".//a")]
    assert hrefs == ["boards/b0", "feeds/b0.atom", "https://b0.example.kr/free"]
    assert found[-1].xpath(".//h2/a")[0].get("href") == "boards/with%20space%2Fslash"
    json_card = cards(render_index([board(json_feed_name="b.json")], now=NOW, tz=KST))[0]
    assert "feeds/b.json" in [a.get("href") for a in json_card.xpath(".//a")]


def test_sparkline_bars_match_the_posts_per_hour() -> None:
    times = [NOW - M * n for n in range(5)]  # 5 in the current hour
    times += [HOUR_START - 10 * H + M * n for n in range(3)]  # 3 ten hours ago
    times += [HOUR_START - 47 * H, HOUR_START - 60 * H, NOW + H]  # oldest hour; too old; future
    [card] = cards(render_index([board(first_seen=tuple(times))], now=NOW, tz=KST))
    counts = bars(card)
    assert counts == hourly_counts(times, NOW)
    assert len(counts) == 48 and counts[47] == 5 and counts[37] == 3 and counts[0] == 1
    assert sum(counts) == 9
    rects = card.xpath(".//svg/g/rect")
    assert len(card.xpath(".//svg//rect")) == 48  # one rect per hour, nothing else
    assert all(r.get("height") == r.get("data-count") for r in rects)  # units scale to the peak
    titles = [r.findtext("title") for r in rects]
    assert titles[47] == "02-05 15:00 · 5" and titles[0] == "02-03 16:00 · 1"  # hours in KST
    svg_title = card.xpath(".//svg/title")[0].text
    assert svg_title == "최근 48시간 시간별 새 글: 9건"  # written as references, read as text


def test_boards_with_equal_counts_share_a_chart_and_differ_otherwise() -> None:
    rows = [
        board("a", first_seen=(NOW,)),
        board("b", first_seen=(NOW - M,)),
        board("c", first_seen=(NOW - 2 * H, NOW - 2 * H, NOW)),
        board("d"),
    ]
    found = cards(render_index(rows, now=NOW, tz=KST))
    assert [sum(bars(c)) for c in found] == [1, 1, 3, 0]
    assert bars(found[2])[45] == 2 and bars(found[0]) == bars(found[1])
    assert all(len(bars(c)) == 48 for c in found)


def test_health_states_and_their_details() -> None:
    rows = [
        board("fine"),
        board("broken", ok=False, problem="layout", failures=4, backing_off_until=NOW + 7 * M),
        board("stale", ok=False, problem="no successful poll for 700s"),
        board("silent", quiet_since=NOW - 2 * H),
        board("was", backing_off_until=NOW - M),
    ]
    found = {c.get("data-board"): c for c in cards(render_index(rows, now=NOW, tz=KST))}
    health = {k: c.xpath(".//*[@class='health']")[0].text_content() for k, c in found.items()}
    assert health["fine"] == "정상" and "ok" in found["fine"].get("class")
    assert health["broken"] == "실패: layout · 15:37 (7분 후) 까지 쉼"
    assert "failing" in found["broken"].get("class")
    assert health["stale"] == "실패: no successful poll for 700s"
    assert health["silent"] == "조용함: 13:30 (2시간 전)부터 새 글 없음"
    assert health["was"] == "정상"  # a backoff that is over is not shown
    facts = dict(zip(found["broken"].xpath(".//dt"), found["broken"].xpath(".//dd"), strict=True))
    values = {dt.text: dd.text_content() for dt, dd in facts.items()}
    assert values["연속 실패"] == "4" and values["저장된 글"] == "120"
    assert values["마지막 확인"] == "15:28 (2분 전)"
    assert values["마지막 새 글"] == "12:30 (3시간 전)"


def test_summary_counts_and_times_in_the_zone() -> None:
    rows = [board("a"), board("b", ok=False), board("c", quiet_since=NOW), board("d")]
    root = dom(render_index(rows, now=NOW, tz=KST, title="우리 relay"))
    assert root.findtext(".//h1") == "우리 relay" and root.findtext(".//title") == "우리 relay"
    summary = root.xpath("//h1/following-sibling::p[1]")[0].text_content()
    assert summary.startswith("4 게시판 · 정상 2 · 실패 1 · 조용함 1 · 갱신 15:30")
    old = cards(render_index([board(last_new=NOW - 40 * 24 * H)], now=NOW, tz=KST))[0]
    assert "12-27 15:30 (40일 전)" in old.text_content()
    ancient = cards(render_index([board(last_new=NOW - 400 * 24 * H)], now=NOW, tz=KST))[0]
    assert "2024-01-02 15:30 (400일 전)" in ancient.text_content()
    never = cards(render_index([board(last_success=None)], now=NOW, tz=KST))[0]
    assert "없음" in never.text_content()


def test_english_labels() -> None:
    rows = [board(ok=False, problem="layout", backing_off_until=NOW + 2 * H)]
    page = render_index(rows, now=NOW, tz=KST, lang="en")
    root = dom(page)
    assert root.get("lang") == "en"
    [card] = cards(page)
    assert [dt.text for dt in card.xpath(".//dt")][:3] == [
        "Last poll",
        "Last success",
        "Last new post",
    ]
    assert card.xpath(".//*[@class='health']")[0].text_content() == (
        "failing: layout · backing off until 17:30 (in 2 h)"
    )
    assert "마지막" not in page and "분 전" not in page and "건" not in page
    with pytest.raises(ValueError, match="lang"):
        render_index(rows, now=NOW, tz=KST, lang="fr")  # type: ignore[arg-type]


def test_hostile_strings_are_text_never_markup() -> None:
    row = board(
        "evil",
        title=HOSTILE,
        url="javascript:alert(3)",
        feed_name='x"><b>.atom',
        ok=False,
        problem=HOSTILE,
        source=HOSTILE + "\x00\x1b",
        pending=(RoutePending(HOSTILE, "@news", 2),),
    )
    page = render_index([row], now=NOW, tz=KST, title=HOSTILE)
    root = dom(page)
    assert not root.xpath("//script | //img | //b")
    assert not [el for el in root.iter() if isinstance(el.tag, str) and "onerror" in el.attrib]
    [card] = cards(page)
    assert card.xpath(".//h2")[0].text_content() == HOSTILE
    assert card.xpath(".//*[@class='health']")[0].text_content() == f"실패: {HOSTILE}"
    assert root.findtext(".//title") == HOSTILE
    values = [dd.text_content() for dd in card.xpath(".//dd")]
    assert HOSTILE in values and f"{HOSTILE} 2" in values  # source (controls dropped), route
    hrefs = [a.get("href") for a in card.xpath(".//a")]
    assert "javascript:alert(3)" not in hrefs and len(hrefs) == 2  # no link to a script URL
    assert "feeds/x%22%3E%3Cb%3E.atom" in hrefs


def test_chat_ids_are_hidden_unless_asked_for() -> None:
    row = board(
        pending=(
            RoutePending("telegram", "-100200300", 3, 1),
            RoutePending("telegram", "@news", 2),
            RoutePending("admin", "@admin", 0),
        )
    )
    post = PostRow(
        "47209",
        "글",
        "https://ranknews.example.kr/free/47209",
        NOW - M,
        (DeliveryRow("telegram", "-100200300", "sent", at=NOW - M),),
    )
    hidden = render_index([row], now=NOW, tz=KST) + render_board(row, [post], now=NOW, tz=KST)
    for chat in ("-100200300", "@news", "@admin"):
        assert chat not in hidden
    [card] = cards(render_index([row], now=NOW, tz=KST))
    pending = card.xpath(".//dd")[5].text_content()
    assert pending == "telegram 5 (+1 실패) · admin 0"  # merged per route
    shown = render_index([row], now=NOW, tz=KST, show_chats=True)
    assert "telegram → -100200300 3 (+1 실패) · telegram → @news 2 · admin → @admin 0" in shown
    assert "telegram → -100200300: 보냄" in render_board(
        row, [post], now=NOW, tz=KST, show_chats=True
    )


# --- the board page -----------------------------------------------------------------------------


def test_board_page_lists_posts_with_each_delivery_state() -> None:
    row = board(last_outcome="ok: 2 new, 1 page", json_feed_name="ranknews.json")
    posts = [
        PostRow(
            "47210",
            "새 글 <b>굵게</b>",
            "https://ranknews.example.kr/free/47210",
            NOW - 5 * M,
            (
                DeliveryRow("telegram", "@news", "pending", "rate limit, retry after 30 s"),
                DeliveryRow("admin", "@admin", "failed", "Forbidden: bot was blocked"),
            ),
        ),
        PostRow(
            "47209",
            "지난 글",
            "javascript:alert(1)",
            NOW - 26 * H,
            (DeliveryRow("telegram", "@news", "sent", at=NOW - 26 * H + M),),
        ),
        PostRow("47208", "", "https://ranknews.example.kr/free/47208", NOW - 27 * H),
    ]
    page = render_board(row, posts, now=NOW, tz=KST)
    root = dom(page)
    assert root.findtext(".//title") == "ranknews 자유게시판"
    assert root.xpath("//a")[0].get("href") == "../" and len(cards(page)) == 1
    assert root.xpath("//h2")[0].text_content() == "ranknews 자유게시판"
    assert not root.xpath("//h2/a")  # the card does not link to itself
    hrefs = [a.get("href") for a in root.xpath("//article//a")]
    assert hrefs[:2] == ["../feeds/ranknews.atom", "../feeds/ranknews.json"]
    assert "마지막 확인 결과: ok: 2 new, 1 page" in root.text_content()
    rows = root.xpath("//tbody/tr")
    assert [r.xpath("td")[0].text for r in rows] == ["47210", "47209", "47208"]
    first, second, third = ([td.text_content() for td in r.xpath("td")] for r in rows)
    assert first[1] == "새 글 <b>굵게</b>" and not root.xpath("//td//b")
    assert first[2] == "15:25 (5분 전)"
    assert first[3] == (
        "telegram: 대기 (rate limit, retry after 30 s)admin: 실패 (Forbidden: bot was blocked)"
    )
    assert [s.get("class") for s in rows[0].xpath(".//span")] == ["s-pending", "s-failed"]
    assert second[3] == "telegram: 보냄 02-04 13:31 (1일 전)"
    assert not rows[1].xpath(".//a")  # a script URL is shown as text, not linked
    assert third[1] == "47208" and third[3] == "-"


def test_board_page_without_posts_in_english() -> None:
    root = dom(render_board(board(), [], now=NOW, tz=KST, lang="en"))
    assert "No posts stored." in root.text_content()
    assert root.xpath("//a")[0].text == "← All boards"
