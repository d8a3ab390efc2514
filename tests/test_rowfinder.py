"""Finding an unknown board's rows: the board outranks the widgets around it, even when they
hold more post links than the board does.

Each page is a board as custom-skinned sites lay them out (a table or a list in the main
column) with what surrounds it on real sites: a sidebar "latest posts" widget, a popular
ranking, a menu, a footer.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from relay.core.decoding import decode_html
from relay.core.engines import CUSTOM, Selectors
from relay.core.parse import ListPage
from relay.core.preview import preview_page
from relay.core.rowfinder import RowCandidate, rank_row_selectors

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 2, 5, 16, 0, tzinfo=SEOUL)
URL = "https://community.example.kr/bbs/list.php?board=free"
BOARD = [(510 - i * 3, f"게시판 글 {i}번째 제목") for i in range(10)]
WIDGET = [(900 + i, f"최신글 위젯 {i}") for i in range(15)]


def rank(html: str, selectors: Selectors = CUSTOM) -> list[RowCandidate]:
    return rank_row_selectors(ListPage(html, URL, NOW, SEOUL), selectors)


def board_table(posts: list[tuple[int, str]] = BOARD) -> str:
    rows = "".join(
        f'<tr{" class=even" if i % 2 else ""}><td class="num">{len(posts) - i}</td>'
        f'<td class="subject"><a href="view.php?board=free&amp;no={no}">{title}</a> '
        f'<a href="view.php?board=free&amp;no={no}#comments" class="cmt">[{i}]</a></td>'
        f'<td class="name">글쓴이{i}</td><td class="date">02-0{1 + i % 5}</td></tr>'
        for i, (no, title) in enumerate(posts)
    )
    return (
        '<table class="tbl"><thead><tr><th>번호</th><th>제목</th><th>이름</th><th>날짜</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def link_list(posts: list[tuple[int, str]], board: str = "free") -> str:
    return (
        "<ul>"
        + "".join(
            f'<li><a href="/bbs/view.php?board={board}&amp;no={no}">{title}</a></li>'
            for no, title in posts
        )
        + "</ul>"
    )


def layout(main: str, side: str, *, menu: str = "") -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>커뮤니티</title></head><body>'
        f'<div id="wrap"><div class="top">{menu}</div><div class="cols">'
        f'<div class="left">{main}</div><div class="right">{side}</div></div>'
        '<div class="bottom">(c) community</div></div></body></html>'
    )


def ids(candidate: RowCandidate) -> list[str]:
    return [post_id for post_id, _ in candidate.posts]


def test_a_board_outranks_a_sidebar_latest_widget_with_more_links() -> None:
    widget = f'<div class="widget latest"><h3>최신글</h3>{link_list(WIDGET)}</div>'
    side = f'<div id="sidebar">{widget}</div>'
    best, *others = rank(layout(board_table(), side))
    assert ids(best) == [str(no) for no, _ in BOARD]
    assert [title for _, title in best.posts] == [title for _, title in BOARD]
    assert best.rows == 10 and best.alike == 10
    widget = next(c for c in others if ids(c) == [str(no) for no, _ in WIDGET])
    assert widget.score < best.score and "under 'sidebar'" in widget.marks


def test_an_aside_marks_a_widget_down_even_without_telling_class_names() -> None:
    side = f'<aside><div class="box">{link_list(WIDGET)}</div></aside>'
    best, second = rank(layout(board_table(), side))[:2]
    assert ids(best)[0] == "510" and "inside <aside>" in second.marks


def test_class_words_are_read_as_words_not_substrings() -> None:
    """`side_latest` marks a widget down; a board named `ranknews` is not a "rank" widget."""
    main = f'<div id="ranknews">{board_table()}</div>'
    side = f'<div class="side_latest">{link_list(WIDGET)}</div>'
    best = rank(layout(main, side))[0]
    assert ids(best)[0] == "510" and best.marks == ()


def test_a_list_board_with_thumbnails_beats_a_popular_ranking_and_the_menu() -> None:
    cards = "".join(
        f'<li class="item card"><a href="/bbs/view.php?board=photo&amp;no={no}" class="thumb">'
        f'<img src="/t/{no}.jpg" alt=""></a><div class="txt"><a href="/bbs/view.php?board=photo'
        f'&amp;no={no}">{title}</a><span class="date">2025.02.0{1 + i % 5}</span></div></li>'
        for i, (no, title) in enumerate(BOARD[:8])
    )
    main = f'<div class="photo_list"><ul class="gallery">{cards}</ul></div>'
    side = f'<div class="popular"><ol>{link_list(WIDGET)[4:-5]}</ol></div>'
    menu = f"<nav>{link_list([(1, '공지'), (2, '이벤트'), (3, '문의')], 'menu')}</nav>"
    best = rank(layout(main, side, menu=menu))[0]
    assert best.selector.endswith("ul.gallery > li.item.card")
    assert ids(best) == [str(no) for no, _ in BOARD[:8]]
    assert [title for _, title in best.posts][0] == BOARD[0][1]


def test_rows_are_table_rows_not_their_cells_even_with_two_links_per_row() -> None:
    best = rank(layout(board_table(), ""))[0]
    assert best.selector.endswith("tbody > tr") and best.rows == 10


def test_two_columns_of_lists_are_two_candidates_not_one_row_of_two_columns() -> None:
    first = [(100 + i, f"왼쪽 {i}") for i in range(8)]
    second = [(200 + i, f"오른쪽 {i}") for i in range(8)]
    main = f'<div class="col">{link_list(first)}</div><div class="col">{link_list(second)}</div>'
    found = rank(layout(main, ""))
    assert {tuple(ids(c)) for c in found[:2]} == {
        tuple(str(no) for no, _ in first),
        tuple(str(no) for no, _ in second),
    }
    assert all(c.rows == 8 for c in found[:2])


def test_selectors_are_anchored_at_an_id_and_select_only_their_rows() -> None:
    main = f'<div id="bbs_list">{board_table()}</div>'
    side = f'<div id="side">{board_table(WIDGET[:5])}</div>'
    found = rank(layout(main, side))
    assert found[0].selector == "#bbs_list table.tbl tbody > tr"
    assert any(c.selector == "#side table.tbl tbody > tr" for c in found)


def test_a_board_with_one_post_is_still_found() -> None:
    side = f'<div class="widget">{link_list(WIDGET[:3])}</div>'
    best = rank(layout(board_table(BOARD[:1]), side))[0]
    assert best.posts == (("510", BOARD[0][1]),)


def test_no_candidate_when_no_link_carries_an_id() -> None:
    page = layout("<ul><li><a href='/about'>소개</a></li><li><a href='/faq'>FAQ</a></li></ul>", "")
    assert rank(page) == []


def test_preview_shows_the_top_three_with_their_rows() -> None:
    side = f'<div id="sidebar"><div class="widget latest">{link_list(WIDGET)}</div></div>'
    lines = preview_page(ListPage(layout(board_table(), side), URL, NOW, SEOUL), CUSTOM)
    text = "\n".join(lines)
    assert "no post rows" in text and "links that carry a post id" in text
    assert "1. row = '#wrap table.tbl tbody > tr'" in text
    first = text.index("1. row = ")
    assert text.index(BOARD[0][1], first) < text.index("2. row = ")
    assert "... 5 more" in text and "try: --selector 'row=" in text
    assert text.count(". row = ") == 3


CORPUS = Path(__file__).parent / "corpus"
LIST_PAGES = sorted(
    p.name.removesuffix(".expected.json")
    for p in CORPUS.glob("*.expected.json")
    if "posts" in json.loads(p.read_text("utf-8"))
)


@pytest.mark.parametrize("name", LIST_PAGES)
def test_on_every_engine_page_the_best_candidate_gives_the_expected_rows(name: str) -> None:
    """The engines' own pages, read as if no preset knew them: the top suggestion must give
    exactly the posts the page lists (sidebars, prev/next links and widgets lose)."""
    expected = json.loads((CORPUS / f"{name}.expected.json").read_text("utf-8"))
    page = decode_html((CORPUS / f"{name}.html").read_bytes(), expected.get("content_type"))
    best = rank_row_selectors(
        ListPage(page.text, expected["url"], datetime.fromisoformat(expected["now"]), SEOUL), CUSTOM
    )[0]
    assert ids(best) == [post["id"] for post in expected["posts"]]
    assert not re.search(r"\d{3}", best.selector)  # no per-page generated id in it
