"""The simulator's own board feeds, read over loopback the way the service will read them:
found from the list page, parsed to the same ids and URLs as the list rows, and every way a
real feed fails (turned off, broken, gone) reported as an error, never as "no posts"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from relay.core.boardfeed import BoardFeedError, FeedEntry, feed_candidates, parse_board_feed
from relay.core.decoding import decode_html
from relay.core.engines import PRESETS
from relay.core.parse import ListPage, parse_list_page
from relay.sim import BoardSimulator, SimBoard

KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 2, 5, 16, 0, tzinfo=KST)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


def fill(board: SimBoard, count: int) -> None:
    for i in range(count):
        board.add_post(
            f'글 {i} & <특수> "문자"',
            f"작성자{i % 3}",
            f"<p>본문 {i}</p>",
            published=NOW - timedelta(hours=count - i, minutes=i),
            comments=i % 4,
        )
    board.add_notice("필독 공지", published=NOW - timedelta(days=30))


def read_feed(client: httpx.Client, board: SimBoard) -> tuple[str, list[FeedEntry]]:
    """The first candidate that answers with entries, as the pipeline will do."""
    page = client.get(board.list_url)
    engine = board.engine
    errors = []
    for url in feed_candidates(board.list_url, decode_html(page.content).text, engine):
        answer = client.get(url)
        try:
            return url, parse_board_feed(
                answer.content,
                engine=engine,
                board_url=board.list_url,
                id_pattern=PRESETS[engine].id_pattern,
                content_type=answer.headers.get("content-type"),
                feed_url=url,
            )
        except BoardFeedError as e:
            errors.append(e)
    raise errors[-1] if errors else AssertionError("no candidate")


def list_posts(client: httpx.Client, board: SimBoard) -> dict[str, tuple[str, str]]:
    page = client.get(board.list_url)
    posts = parse_list_page(
        ListPage(
            decode_html(page.content, page.headers.get("content-type")).text,
            board.list_url,
            NOW,
            KST,
        ),
        PRESETS[board.engine],
    ).posts
    return {p.id: (p.url, p.title) for p in posts}


@pytest.mark.parametrize(
    ("engine", "style"), [("rhymix", "short"), ("rhymix", "long"), ("gnuboard", "short")]
)
def test_feed_entries_carry_the_list_rows_ids_urls_and_titles(
    sim: BoardSimulator, client: httpx.Client, engine: str, style: str
) -> None:
    board = sim.add_board("free", engine, url_style=style, feed="on")
    fill(board, 8)
    url, entries = read_feed(client, board)
    if engine == "rhymix":
        assert url.endswith("mid=free&act=atom")
    else:
        assert url.endswith("/bbs/rss.php?bo_table=free")
    rows = list_posts(client, board)
    assert len(entries) == 9 and {e.id for e in entries} == set(rows)
    for entry in entries:
        assert (entry.url, entry.title) == rows[entry.id]
        post = board.get(int(entry.id))
        assert entry.published == post.published and entry.author == post.author
        assert f"<p>{post.body_html[3:-4]}</p>" in entry.body_html


def test_rhymix_rss_is_read_as_well_as_atom(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("free", "rhymix", feed="on")
    fill(board, 3)
    answer = client.get(f"{sim.base_url}/free/rss")
    entries = parse_board_feed(
        answer.content,
        engine="rhymix",
        board_url=board.list_url,
        id_pattern=PRESETS["rhymix"].id_pattern,
        content_type=answer.headers["content-type"],
    )
    assert [e.id for e in entries] == [
        str(p.id) for p in sorted([*board.posts, *board.notices], key=lambda p: -p.id)
    ]
    assert entries[0].published is not None and entries[0].published.utcoffset() == timedelta(
        hours=9
    )


def test_a_feed_with_fewer_entries_than_the_page(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("free", "rhymix", feed="on", feed_entries=4)
    fill(board, 12)
    _, entries = read_feed(client, board)
    rows = list_posts(client, board)
    assert len(entries) == 4 and len(rows) == 13
    assert [e.id for e in entries] == sorted(rows, key=int, reverse=True)[:4]


@pytest.mark.parametrize(
    ("engine", "reason", "said"),
    [
        ("rhymix", "empty", "피드(Feed) 기능이 잠겨 있습니다"),
        ("gnuboard", "not a feed", "RSS 보기가"),
    ],
)
def test_a_turned_off_feed_is_an_error_saying_so(
    sim: BoardSimulator, client: httpx.Client, engine: str, reason: str, said: str
) -> None:
    board = sim.add_board("free", engine)  # feeds are off unless a test turns them on
    fill(board, 2)
    with pytest.raises(BoardFeedError) as caught:
        read_feed(client, board)
    assert caught.value.reason == reason and said in str(caught.value)


def test_a_broken_or_vanished_feed_is_an_error(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("free", "gnuboard", feed="broken")
    fill(board, 2)
    with pytest.raises(BoardFeedError, match="Fatal error"):
        read_feed(client, board)
    board.feed = "gone"
    assert client.get(f"{sim.base_url}/bbs/rss.php?bo_table=free").status_code == 404
    with pytest.raises(BoardFeedError, match="not a feed"):
        read_feed(client, board)


def test_a_cp949_board_declares_euc_kr_and_reads_right(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("humor", "gnuboard", encoding="cp949", feed="on")
    board.add_post("햏자의 똠방각하", "뷁", "<p>햏햏</p>", published=NOW)
    answer = client.get(f"{sim.base_url}/bbs/rss.php?bo_table=humor")
    assert answer.content.startswith(b'<?xml version="1.0" encoding="euc-kr" ?>')
    _, entries = read_feed(client, board)
    assert (entries[0].title, entries[0].author) == ("햏자의 똠방각하", "뷁")


def test_feed_requests_are_logged_and_take_no_page_fault(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("free", "rhymix", feed="on")
    fill(board, 1)
    board.fail_next(503)
    assert client.get(f"{sim.base_url}/index.php?mid=free&act=rss").status_code == 200
    assert client.get(board.list_url).status_code == 503
    assert board.count(200, "act=rss") == 1 and board.count(503) == 1
