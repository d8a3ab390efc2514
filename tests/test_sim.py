"""The bundled board simulator, over loopback with httpx: what each engine's pages show, how
paging, deletes and notices behave, validators and 304s, encodings, and every fault knob.

The simulator is the ground truth other tests poll, so these tests pin the traps it must
reproduce: virtual numbers that shift on delete, notices repeated on every Rhymix page, the
open post's row without a number, comment counts outside the title, a cp949 page whose
header lies, and faults that look like what real sites do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser, LexborNode

from relay.sim import BoardSimulator, SimBoard, load_seed, seed_board

KST = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 2, 5, 12, 0, tzinfo=KST)
ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).parent / "corpus"


class Clock:
    """An injectable clock tests move by hand."""

    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **delta: float) -> None:
        self.t += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def sim(clock: Clock) -> Iterator[BoardSimulator]:
    simulator = BoardSimulator(now=clock)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def fill(board: SimBoard, n: int, start: datetime = NOW - timedelta(days=3)) -> None:
    for i in range(n):
        board.add_post(f"글 {i}", f"작성자{i % 4}", published=start + timedelta(minutes=i))


def parse(response: httpx.Response) -> LexborHTMLParser:
    return LexborHTMLParser(response.text)


def text(node: LexborNode | None) -> str:
    assert node is not None
    return " ".join(node.text(deep=True).split())


def first(node: LexborNode | LexborHTMLParser | None, selector: str) -> LexborNode:
    assert node is not None
    found = node.css_first(selector)
    assert found is not None, selector
    return found


def rhymix_rows(page: LexborHTMLParser) -> list[tuple[str, str, str]]:
    """(number cell, title link href, title) per list row."""
    out = []
    for tr in page.css("div.board_list table tbody tr"):
        number = tr.css_first("td.no, td.notice")
        link = tr.css_first("td.title a")
        if number is None or link is None:
            continue
        out.append((text(number), link.attributes.get("href") or "", text(link)))
    return out


def gnu_rows(page: LexborHTMLParser) -> list[tuple[str, str, str]]:
    out = []
    for tr in page.css("#bo_list tbody tr"):
        number, link = tr.css_first("td.td_num2"), tr.css_first("div.bo_tit > a")
        if number is not None and link is not None:
            out.append((text(number), link.attributes.get("href") or "", text(link)))
    return out


# ---- Rhymix ------------------------------------------------------------------------------


def test_rhymix_list_renders_the_default_skin(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news")
    old = board.add_post("오래된 글", "기자", published=NOW - timedelta(days=2), comments=3)
    new = board.add_post('새 "따옴표" 글', "기자", published=NOW - timedelta(hours=1))
    board.add_notice("공지 하나", published=NOW - timedelta(days=30))
    response = client.get(board.list_url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=UTF-8"
    page = parse(response)
    assert text(page.css_first("p.skip a")) == "메뉴 건너뛰기"
    assert response.text.index("메뉴 건너뛰기") < response.text.index("board_list")
    assert rhymix_rows(page) == [
        ("공지", f"/news/{board.notices[0].id}", "공지 하나"),
        ("2", f"/news/{new.id}", '새 "따옴표" 글'),
        ("1", f"/news/{old.id}", "오래된 글"),
    ]
    row_new, row_old = page.css("div.board_list tbody tr")[1:]
    assert row_new.css_first("img[alt=new]") is not None  # within 12 hours
    assert row_old.css_first("img[alt=new]") is None
    assert text(row_old.css_first("a.replyNum")) == "[3]"  # a separate link after the title
    assert first(row_old, "a.replyNum").attributes["href"] == f"/news/{old.id}#comment"
    assert text(row_old.css_first("td.time")) == (NOW - timedelta(days=2)).strftime("%Y.%m.%d")
    assert text(row_old.css_first("td.author")) == "기자"


def test_rhymix_pages_carry_virtual_numbers_and_page_links(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("news", page_size=20)
    fill(board, 45)
    assert board.total_pages == 3
    page2 = parse(client.get(board.page_url(2)))
    rows = rhymix_rows(page2)
    assert [int(r[0]) for r in rows] == list(range(25, 5, -1))  # 45 - 20 - i
    assert all(r[1].startswith("/news/") and r[1].endswith("?page=2") for r in rows)
    pagination = [a.attributes["href"] for a in page2.css("div.pagination a")]
    assert "/news/page/3" in pagination and "/news" in pagination
    assert text(page2.css_first("div.pagination strong")) == "2"
    assert len(rhymix_rows(parse(client.get(board.page_url(3))))) == 5


def test_deleting_an_old_post_shifts_every_newer_number(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("news")
    fill(board, 5)
    top_id, oldest = board.posts[0].id, board.posts[-1]
    assert rhymix_rows(parse(client.get(board.list_url)))[0][0] == "5"
    board.delete_post(oldest.id)
    rows = rhymix_rows(parse(client.get(board.list_url)))
    assert rows[0] == ("4", f"/news/{top_id}", "글 4")  # same post, new number
    fresh = board.add_post("새 글")
    rows = rhymix_rows(parse(client.get(board.list_url)))
    assert rows[0] == ("5", f"/news/{fresh.id}", "새 글")  # the number the old top had
    assert fresh.id > top_id + 2  # ids only grow, with gaps


def test_rhymix_notices_repeat_on_every_page(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news", page_size=5)
    fill(board, 12)
    board.add_notice("필독 공지")
    for n in (1, 2, 3):
        page = parse(client.get(board.page_url(n)))
        notices = page.css("tr.notice")
        assert [text(tr.css_first("td.notice")) for tr in notices] == ["공지"]
        assert text(notices[0].css_first("td.title a")) == "필독 공지"


def test_rhymix_article_sits_above_its_list_page_with_a_raquo_row(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("news", page_size=5)
    fill(board, 12)
    post = board.posts[7]  # on page 2
    board.set_comments(post.id, 2)
    response = client.get(board.article_url(post.id))
    html = response.text
    assert html.index("board_read") < html.index("board_list")
    page = parse(response)
    assert text(page.css_first("div.read_header h1")) == post.title
    body = page.css_first("div.read_body div.xe_content")
    assert post.title in text(body)
    assert "광고" in text(body)  # an ad block is injected into the body
    assert len(page.css("div.xe_content")) == 1 + 2  # comments are xe_content too
    rows = rhymix_rows(page)
    assert [r[0] for r in rows] == ["7", "6", "»", "4", "3"]  # the page the post is on
    assert rows[2][1] == f"/news/{post.id}"


def test_rhymix_long_urls(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("free", url_style="long", page_size=3)
    fill(board, 7)
    assert board.list_url == f"{sim.base_url}/index.php?mid=free"
    rows = rhymix_rows(parse(client.get(board.page_url(2))))
    assert rows[0][1] == f"/index.php?mid=free&page=2&document_srl={board.posts[3].id}"
    article = client.get(sim.base_url + rows[0][1])
    assert article.status_code == 200 and "board_read" in article.text
    assert client.get(f"{sim.base_url}/free").status_code == 404  # no rewrite rules


# ---- Gnuboard ----------------------------------------------------------------------------


def test_gnuboard_list_renders_the_basic_skin(
    sim: BoardSimulator, clock: Clock, client: httpx.Client
) -> None:
    clock.t = datetime(2025, 2, 5, 9, 0, tzinfo=KST)
    board = sim.add_board("free", "gnuboard", title="자유게시판")
    utc = ZoneInfo("UTC")
    yesterday = board.add_post(
        "어제 밤 글", "홍길동", published=datetime(2025, 2, 4, 14, 0, tzinfo=utc)
    )
    today = board.add_post(
        "오늘 새벽 글", "김철수", published=datetime(2025, 2, 4, 16, 0, tzinfo=utc)
    )
    board.set_comments(today.id, 4)
    board.add_notice("이용 수칙")
    response = client.get(board.list_url)
    page = parse(response)
    base = f"{sim.base_url}/bbs/board.php?bo_table=free&wr_id="
    assert gnu_rows(page) == [
        ("공지", base + str(board.notices[0].id), "이용 수칙"),
        ("2", base + str(today.id), "오늘 새벽 글"),
        ("1", base + str(yesterday.id), "어제 밤 글"),
    ]
    notice_row, today_row, yesterday_row = page.css("#bo_list tbody tr")
    assert "bo_notice" in (notice_row.attributes.get("class") or "")
    assert text(today_row.css_first("td.td_datetime")) == "01:00"  # today in Seoul: HH:MM
    assert text(yesterday_row.css_first("td.td_datetime")) == "02-04"  # else MM-DD
    assert text(today_row.css_first("span.cnt_cmt")) == "4"
    assert text(today_row.css_first("span.new_icon")) == "N새글"  # outside the link
    name_cell = first(today_row, "td.td_name")
    assert "쪽지보내기" in text(name_cell) or "이름으로 검색" in text(name_cell)
    assert text(name_cell.css_first(".sv_member, .sv_guest")) == "김철수"
    assert "&amp;wr_id=" in response.text  # hrefs are escaped as PHP prints them


def test_gnuboard_names_without_sideview_are_plain_spans(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("free", "gnuboard", sideview=False)
    board.add_post("글", "홍길동")
    cell = first(parse(client.get(board.list_url)), "#bo_list td.td_name")
    assert text(cell) == "홍길동" and cell.css_first("span.sv") is None


def test_gnuboard_notices_only_on_page_one(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("free", "gnuboard", page_size=5)
    fill(board, 8)
    board.add_notice("공지")
    assert [r[0] for r in gnu_rows(parse(client.get(board.page_url(1))))][:2] == ["공지", "8"]
    assert [r[0] for r in gnu_rows(parse(client.get(board.page_url(2))))] == ["3", "2", "1"]


def test_gnuboard_article_shows_body_and_the_open_row(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("free", "gnuboard")
    fill(board, 4)
    post = board.add_post(
        "사진 글", "홍길동", "첫 문단\n둘째 문단", image="/data/editor/2502/abc.jpg", comments=1
    )
    page = parse(client.get(board.article_url(post.id)))
    body = first(page, "#bo_v_con")
    assert "첫 문단" in text(body) and "둘째 문단" in text(body)
    assert first(body, "img").attributes["src"] == f"{sim.base_url}/data/editor/2502/abc.jpg"
    assert [r[0] for r in gnu_rows(page)][0] == "열람중"
    assert text(page.css_first("#bo_vc .cmt_contents"))


def test_missing_posts_answer_as_each_engine_does(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    rx = sim.add_board("news")
    gnu = sim.add_board("free", "gnuboard")
    assert client.get(rx.article_url(123)).status_code == 404
    answer = client.get(gnu.article_url(123))
    assert answer.status_code == 200 and "글이 존재하지 않습니다" in answer.text
    assert client.get(f"{sim.base_url}/nowhere").status_code == 404


def test_edits_and_notice_flags_show_up(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news")
    fill(board, 3)
    first, second = board.posts[:2]
    board.edit_title(first.id, "고친 제목")
    board.set_notice(second.id)
    rows = rhymix_rows(parse(client.get(board.list_url)))
    assert rows[0] == ("공지", f"/news/{second.id}", second.title)
    assert rows[1] == ("2", f"/news/{first.id}", "고친 제목")


# ---- validators --------------------------------------------------------------------------


def test_list_pages_answer_304_to_etag_and_last_modified(
    sim: BoardSimulator, clock: Clock, client: httpx.Client
) -> None:
    board = sim.add_board("news")
    fill(board, 3)
    first = client.get(board.list_url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(board.list_url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(board.list_url, headers={"If-Modified-Since": modified}).status_code == 304
    clock.advance(minutes=5)
    board.add_post("새 글")
    again = client.get(board.list_url, headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["etag"] != etag
    stale = client.get(board.list_url, headers={"If-Modified-Since": modified})
    assert stale.status_code == 200
    assert board.count(status=304) == 2
    assert board.count(status=200) == 3
    assert board.requests[1].headers["If-None-Match"] == etag


def test_boards_without_validators_never_answer_304(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("free", "gnuboard", validators=False)
    fill(board, 2)
    response = client.get(board.list_url, headers={"If-None-Match": "*"})
    assert response.status_code == 200
    assert "etag" not in response.headers and "last-modified" not in response.headers
    assert response.headers["expires"] == "Thu, 19 Nov 1981 08:52:00 GMT"  # PHP sessions


def test_article_pages_carry_no_validators(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news")
    post = board.add_post("글")
    response = client.get(board.article_url(post.id), headers={"If-None-Match": "*"})
    assert response.status_code == 200 and "etag" not in response.headers


# ---- encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("charset_header", "content_type"),
    [
        (True, "text/html; charset=EUC-KR"),
        (False, "text/html"),
        ("wrong", "text/html; charset=ISO-8859-1"),
    ],
)
@pytest.mark.parametrize("meta", [True, False])
def test_cp949_boards_send_cp949_bytes_whatever_the_header_says(
    sim: BoardSimulator,
    client: httpx.Client,
    charset_header: bool | str,
    content_type: str,
    meta: bool,
) -> None:
    board = sim.add_board(
        "old", "gnuboard", encoding="cp949", charset_header=charset_header, meta_charset=meta
    )
    board.add_post("똠방각하 햏자 게시판", "뷁")  # syllables strict EUC-KR lacks
    response = client.get(board.list_url)
    assert response.headers["content-type"] == content_type
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("euc-kr")
    decoded = response.content.decode("cp949")
    assert "똠방각하 햏자 게시판" in decoded
    assert ('charset=euc-kr">' in decoded) is meta


# ---- faults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "header"),
    [(500, None, None), (503, 120, "120"), (403, None, None), (429, 1.5, "1.5")],
)
def test_fail_next_answers_with_the_status_then_recovers(
    sim: BoardSimulator,
    client: httpx.Client,
    status: int,
    retry_after: float | None,
    header: str | None,
) -> None:
    board = sim.add_board("news")
    board.fail_next(status, count=2, retry_after=retry_after)
    for _ in range(2):
        response = client.get(board.list_url)
        assert response.status_code == status
        assert response.headers.get("retry-after") == header
    assert client.get(board.list_url).status_code == 200
    assert [r.status for r in board.requests] == [status, status, 200]


def test_fail_articles_fails_article_pages_only(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news")
    post = board.add_post("글")
    board.fail_articles(503, retry_after=5)
    assert client.get(board.list_url).status_code == 200
    failed = client.get(board.article_url(post.id))
    assert failed.status_code == 503 and failed.headers["retry-after"] == "5"
    assert client.get(board.article_url(post.id)).status_code == 200


def test_slow_fault_delays_the_answer(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news", slow_delay=0.4)
    board.fault_next("slow", count=2)
    with pytest.raises(httpx.ReadTimeout):
        client.get(board.list_url, timeout=0.1)
    started = time.monotonic()
    assert client.get(board.list_url).status_code == 200
    assert time.monotonic() - started >= 0.35
    assert [r.fault for r in board.requests] == ["slow", "slow"]


def test_reset_and_truncated_break_the_response(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news")
    fill(board, 30)
    board.fault_next("reset")
    board.fault_next("truncated")
    with pytest.raises(httpx.ReadError):  # connection reset mid-body
        client.get(board.list_url)
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message"):
        client.get(board.list_url)  # Content-Length promised more than was sent
    assert client.get(board.list_url).status_code == 200
    assert [r.fault for r in board.requests] == ["reset", "truncated", None]


def test_zero_rows_fault_serves_a_changed_layout(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news")
    fill(board, 5)
    board.fault_next("zero_rows")
    response = client.get(board.list_url)
    assert response.status_code == 200
    page = parse(response)
    assert page.css("tr") == [] and page.css_first("p.skip") is not None
    assert not any(f"/news/{p.id}" in response.text for p in board.posts)


def test_challenge_fault_serves_a_bot_check(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news", challenge_status=503)
    board.fault_next("challenge")
    response = client.get(board.list_url)
    assert response.status_code == 503
    assert response.headers["cf-mitigated"] == "challenge"
    assert "<title>Just a moment...</title>" in response.text


def test_huge_fault_is_streamed_not_built(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news", huge_bytes=52 * 1024 * 1024)
    board.fault_next("huge")
    received = 0
    tracemalloc.start()
    try:
        with client.stream("GET", board.list_url) as response:
            assert "content-length" not in response.headers
            for chunk in response.iter_bytes():
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == 52 * 1024 * 1024
    assert peak < 8 * 1024 * 1024  # server and client both held chunks, never the body


def test_huge_fault_survives_a_client_that_stops_reading(
    sim: BoardSimulator, client: httpx.Client
) -> None:
    board = sim.add_board("news", huge_declares_length=True)
    board.fault_next("huge")
    with client.stream("GET", board.list_url) as response:
        assert int(response.headers["content-length"]) == board.huge_bytes
        next(response.iter_bytes())
    assert client.get(board.list_url).status_code == 200


def test_unknown_faults_and_statuses_are_refused() -> None:
    board = SimBoard("x")
    with pytest.raises(ValueError, match="unknown fault"):
        board.fault_next("explode")
    with pytest.raises(ValueError):
        board.fail_next(200)


# ---- lifecycle, seed, CLI ----------------------------------------------------------------


async def test_simulator_runs_on_the_current_loop() -> None:
    sim = BoardSimulator()
    board = sim.add_board("news")
    board.add_post("비동기 글")
    async with sim, httpx.AsyncClient() as client:
        response = await client.get(board.list_url, headers={"User-Agent": "board-relay/test"})
    assert "비동기 글" in response.text
    assert sim.requests[0].headers["User-Agent"] == "board-relay/test"


def test_seed_board_holds_the_captured_posts(sim: BoardSimulator, client: httpx.Client) -> None:
    board = seed_board(sim)
    seed = load_seed()
    assert len(board.posts) == 20 and len(board.notices) == 2
    titles = [p.title for p in board.posts]
    assert titles[0] == '여인형 "조지호에 정치인 명단 구술, 위치 확인 협조 요청"'
    assert titles[-1] == "카카오, 오픈AI와 손잡았다…‘AI 서비스 대중화’ 첫걸음"
    assert {p.author for p in board.posts} == {"랭크뉴스"}
    ids = [p.id for p in board.posts]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 20
    assert [p["number"] for p in seed["posts"]] == list(range(47213, 47193, -1))
    article = parse(client.get(board.article_url(seed["open_post"])))
    assert "스타게이트" in text(article.css_first("div.read_body .xe_content"))
    assert rhymix_rows(article)[2 + 4][0] == "»"  # two notices, then the fifth row


def test_cli_serves_boards_and_adds_posts() -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    args = ["--port", "0", "--boards", "2", "--add-every", "0.2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay.sim", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("relay.sim serving http://127.0.0.1:")
        urls = dict(proc.stdout.readline().split() for _ in range(2))
        assert set(urls) == {"b0", "b1"}
        deadline = time.monotonic() + 5
        seen = ""
        while "시뮬레이터 새 글" not in seen and time.monotonic() < deadline:
            time.sleep(0.1)
            seen = httpx.get(urls["b0"]).text + httpx.get(urls["b1"]).text
        assert "시뮬레이터 새 글" in seen
        assert len(rhymix_rows(LexborHTMLParser(httpx.get(urls["b1"]).text))) <= 2 + 5
    finally:
        proc.send_signal(2)  # Ctrl-C
        code = proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
    assert code == 0


# ---- corpus ------------------------------------------------------------------------------

LIST_CASES = [
    "rhymix_default",
    "rhymix_long_urls",
    "sketchbook5",
    "gnuboard5_basic",
    "gnuboard4_cp949",
]
ARTICLE_CASES = ["rhymix_article", "gnuboard5_article"]


@pytest.mark.parametrize("case", LIST_CASES + ARTICLE_CASES)
def test_corpus_cases_are_complete(case: str) -> None:
    expected = json.loads((CORPUS / f"{case}.expected.json").read_text(encoding="utf-8"))
    raw = (CORPUS / f"{case}.html").read_bytes()
    assert expected["engine"] in ("rhymix", "gnuboard")
    assert expected["url"].startswith("http")
    assert case in (CORPUS / "README.md").read_text(encoding="utf-8")
    if case in ARTICLE_CASES:
        assert expected["body_contains"] and expected["body_excludes"]
        assert expected["image"].startswith("http")
        return
    assert datetime.fromisoformat(expected["now"]).tzinfo is not None
    assert expected["timezone"] == "Asia/Seoul" and expected["content_type"].startswith("text/")
    ids = [p["id"] for p in expected["posts"]]
    assert len(ids) == len(set(ids)) > 3
    for post in expected["posts"]:
        assert post["url"].startswith("http") and post["id"] in post["url"]
        assert post["title"] == " ".join(post["title"].split())
        assert isinstance(post["number"], int | None) and isinstance(post["comments"], int)
        if post["published"] is not None:
            assert datetime.fromisoformat(post["published"]).tzinfo is not None
    if case == "gnuboard4_cp949":
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        assert "게시판" in raw.decode("cp949")
    else:
        raw.decode("utf-8")
