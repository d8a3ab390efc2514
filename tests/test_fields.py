"""The fields a board shows besides the title: 말머리 (category), comments, 조회 (views) and
추천 (votes), read from the list page and exposed: the category as Atom <category term> and
as an optional "[말머리] " message prefix, the counts in `relay check`'s own columns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from atomcheck import assert_valid_atom
from conftest import make_config

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.atom import render_feed
from relay.core.engines import PRESETS
from relay.core.message import MessageSettings, format_message
from relay.core.models import FeedInfo, Post, StoredPost
from relay.core.parse import ListPage, parse_list_page
from relay.core.report import posts_table
from relay.pipeline.poll import poll_board
from relay.sim import BoardSimulator

KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 2, 5, 18, 0, tzinfo=KST)
SEEN = datetime(2025, 2, 5, 9, 0, tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def stored(post_id: str, **fields: object) -> StoredPost:
    values: dict[str, object] = {
        "board_id": "qa",
        "id": post_id,
        "url": f"https://gnu.example.com/bbs/board.php?bo_table=qa&wr_id={post_id}",
        "title": f"글 {post_id}",
        "number": None,
        "author": "손님",
        "published": SEEN,
        "first_seen": SEEN,
        "updated": SEEN,
    }
    return StoredPost(**(values | fields))  # type: ignore[arg-type]


def table_page(headings: list[str], cells: list[str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headings)
    row = "".join(cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>"


def parse_one(html: str, engine: str = "gnuboard") -> Post:
    url = "https://gnu.example.com/bbs/board.php?bo_table=qa"
    posts = parse_list_page(ListPage(html, url, NOW, KST), PRESETS[engine]).posts
    assert len(posts) == 1
    return posts[0]


LINK = '<td class="td_subject"><a href="board.php?bo_table=qa&amp;wr_id=7">제목</a></td>'


def test_counts_are_read_from_the_column_their_heading_names() -> None:
    post = parse_one(
        table_page(
            ["번호", "제목", "비추천", "추천", "조회"],
            ['<td class="td_num">5</td>', LINK, "<td>9</td>", "<td>4</td>", "<td>1,234</td>"],
        )
    )
    assert (post.views, post.votes) == (1234, 4)  # 비추천 is not 추천


def test_colspan_shifts_the_columns_and_a_missing_count_is_none() -> None:
    post = parse_one(
        table_page(
            ['<span>번호</span></th><th colspan="2">제목', "조회", "추천"],
            ['<td class="td_num">5</td>', "<td></td>", LINK, "<td>31</td>", "<td></td>"],
        )
    )
    assert (post.views, post.votes) == (31, None)


def test_a_list_without_headings_has_no_counts() -> None:
    html = '<div id="bo_list"><ul><li><a href="board.php?bo_table=qa&amp;wr_id=7">제목</a></li>'
    post = parse_one(html + "</ul></div>")
    assert (post.views, post.votes, post.category) == (None, None, "")


def test_category_of_a_rhymix_cell_under_a_heading() -> None:
    html = table_page(
        ["번호", "말머리", "제목"],
        ["<td>3</td>", "<td><span>잡담</span></td>", '<td><a href="/camp/9403377">글</a></td>'],
    )
    assert parse_one(html, "rhymix").category == "잡담"


def test_category_is_the_atom_entry_category_term() -> None:
    info = FeedInfo(board_id="qa", title="질문", site_url="https://gnu.example.com/bbs/")
    data = render_feed(info, [stored("1", category="질문"), stored("2")], max_entries=10, tz=KST)
    feed = assert_valid_atom(data)
    by_id = {e.link: e for e in feed.entries}
    first = by_id[stored("1").url]
    assert [t.term for t in first.tags] == ["질문"]
    assert not by_id[stored("2").url].get("tags")


def test_category_prefix_is_an_option_of_the_board() -> None:
    post = stored("1", category="질문", title="프린터가 안 돼요")
    plain = MessageSettings(board_title="질문", tz=KST)
    prefixed = MessageSettings(board_title="질문", tz=KST, category_prefix=True)
    assert "<b>프린터가 안 돼요</b>" in format_message(post, chat="@c", settings=plain).text
    text = format_message(post, chat="@c", settings=prefixed).text
    assert "<b>[질문] 프린터가 안 돼요</b>" in text
    bare = format_message(stored("2", title="말머리 없음"), chat="@c", settings=prefixed).text
    assert "<b>말머리 없음</b>" in bare


def test_check_table_shows_comments_and_category_in_their_own_columns() -> None:
    posts = [
        Post(id="7", url="u", title="제목", number=3, comments=3, category="질문", views=40),
        Post(id="6", url="u", title="다른 글", number=2),
    ]
    lines = posts_table("qa", posts, KST).splitlines()
    header = lines[0].split()
    assert header == [
        "board",
        "id",
        "number",
        "date",
        "author",
        "category",
        "comments",
        "views",
        "title",
    ]
    assert "[3]" not in lines[2] and "제목" in lines[2] and "질문" in lines[2]
    assert lines[2].split()[-1] == "제목"


def test_recounted_names_only_known_posts_whose_counts_changed() -> None:
    from relay.core.decide import recounted
    from relay.core.state import Known

    page = (
        Post(id="1", url="u", title="a", comments=3, views=10),
        Post(id="2", url="u", title="b", comments=0, views=None),  # the count not shown
        Post(id="3", url="u", title="c", comments=1, views=5),  # new: not a recount
        Post(id="4", url="u", title="d", comments=2, views=8, votes=1),
    )
    known = {
        "1": Known("a", False, comments=2, views=10),
        "2": Known("b", False, comments=0, views=40),
        "4": Known("d", False, comments=2, views=8, votes=1),
    }
    assert [p.id for p in recounted([page], known)] == ["1"]


async def test_counts_of_known_posts_follow_the_page_on_later_polls(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    board = sim.add_board("free", "gnuboard", page_size=10)
    ids = [board.add_post(f"글 {i}", "손님", "<p>본문</p>").id for i in range(5)]
    entry = {"id": "free", "url": board.list_url, "engine": "gnuboard", "source": "list"}
    config = make_config(tmp_path, [entry])
    store = SqliteState(config.state)
    async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:

        async def poll() -> None:
            assert (await poll_board(config.boards[0], fetcher, store, utc_now)).ok

        await poll()
        first = store.posts("free", [str(ids[1])])[str(ids[1])]
        assert first.comments == 0 and first.views is not None  # the sim prints 조회
        board.set_comments(ids[1], 7)
        await poll()
        again = store.posts("free", [str(i) for i in ids])
        assert again[str(ids[1])].comments == 7
        assert again[str(ids[1])].views == first.views
        assert all(again[str(i)].comments == 0 for i in ids if i != ids[1])
    store.close()


def test_a_day_only_cell_is_refined_by_its_title_time_or_an_inner_time_element() -> None:
    link = '<td class="title"><a href="/free/9403377">글</a></td>'
    titled = '<td class="time" title="10:21">2025.02.03</td>'
    by_title = table_page(["제목", "날짜"], [link, titled])
    assert parse_one(by_title, "rhymix").published == datetime(2025, 2, 3, 10, 21, tzinfo=KST)
    inner = '<td class="time"><time datetime="2025-02-03T10:21:09+09:00">2025.02.03</time></td>'
    by_time = table_page(["제목", "날짜"], [link, inner])
    assert parse_one(by_time, "rhymix").published == datetime(2025, 2, 3, 10, 21, 9, tzinfo=KST)
    relative = '<td class="time" title="17 시간 전">2025.02.03</td>'  # coarser: the day stays
    plain = table_page(["제목", "날짜"], [link, relative])
    assert parse_one(plain, "rhymix").published == datetime(2025, 2, 3, tzinfo=KST)


def test_a_refinement_or_a_time_element_ahead_of_the_poll_is_the_poll() -> None:
    link = '<td class="title"><a href="/free/9403377">글</a></td>'
    titled = '<td class="time" title="23:10">2025.02.05</td>'  # today, NOW is 18:00
    assert parse_one(table_page(["제목", "날짜"], [link, titled]), "rhymix").published == NOW
    ahead = '<td class="time"><time datetime="2025-02-05T23:10:00+09:00">2025.02.05</time></td>'
    assert parse_one(table_page(["제목", "날짜"], [link, ahead]), "rhymix").published == NOW


def test_a_preset_says_which_of_its_layouts_matched() -> None:
    import json

    from relay.core.decoding import decode_html
    from relay.core.engines import layout_name
    from relay.core.parse import parse_list_page

    corpus = Path(__file__).parent / "corpus"
    named = {
        "sketchbook5_webzine": "sketchbook5 webzine / gallery / card",
        "gnuboard5_gallery": "Gnuboard5 gallery skin",
        "gnuboard5_mobile": "Gnuboard5 basic / mobile skin",
        "xe1_default": "Rhymix/XE default skin (table)",
    }
    for name, layout in named.items():
        expected = json.loads((corpus / f"{name}.expected.json").read_text("utf-8"))
        html = decode_html((corpus / f"{name}.html").read_bytes(), expected["content_type"]).text
        parsed = parse_list_page(
            ListPage(html, expected["url"], NOW, KST), PRESETS[expected["engine"]]
        )
        assert layout_name(parsed.row_selector).startswith(layout), name
