"""Polling a board end to end over loopback: the simulator, the real fetcher, parser and state.

Scenario names read like the traps they guard against.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from atomcheck import assert_valid_atom
from conftest import make_config

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.config import Board, Config
from relay.core.errors import FeedWriteError
from relay.core.models import PollOutcome
from relay.pipeline import feed
from relay.pipeline.poll import poll_board, poll_boards
from relay.sim import BoardSimulator, SimBoard


def now() -> datetime:
    return datetime.now(UTC)


class Rig:
    """One config, one store, one fetcher: poll boards as the service would."""

    def __init__(self, tmp_path: Path, boards: list[SimBoard], **board_settings: Any) -> None:
        entries = []
        for sim_board in boards:
            entries.append(
                {
                    "id": sim_board.name,
                    "url": sim_board.list_url,
                    "engine": sim_board.engine,
                    "title": sim_board.title,
                    "chat": "@news",
                    **board_settings,
                }
            )
        self.config: Config = make_config(tmp_path, entries)
        self.store = SqliteState(self.config.state)

    def board(self, board_id: str) -> Board:
        return self.config.board(board_id)

    async def poll(self, board_id: str) -> PollOutcome:
        async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
            return await poll_board(self.board(board_id), fetcher, self.store, now)

    def announced(self, board_id: str) -> list[str]:
        return [d.post_id for d in self.store.pending_deliveries() if d.board_id == board_id]

    def feed(self, board_id: str) -> Any:
        return assert_valid_atom(self.board(board_id).feed_path.read_bytes())


def fill(board: SimBoard, count: int, prefix: str = "글") -> list[int]:
    return [
        board.add_post(f"{prefix} {i}", "작성자", f"<p>{prefix} {i} 본문</p>").id
        for i in range(count)
    ]


@pytest.fixture
def board(sim: BoardSimulator) -> SimBoard:
    b = sim.add_board("news", "rhymix", page_size=20)
    fill(b, 30)
    b.add_notice("[공지] 게시판 이용 안내", "관리자", "<p>공지</p>")
    return b


async def test_first_poll_records_page_one_and_announces_only_backfill(
    tmp_path: Path, board: SimBoard
) -> None:
    rig = Rig(tmp_path, [board], backfill=2)
    outcome = await rig.poll("news")
    assert outcome.ok and outcome.pages == 1
    assert len(outcome.new) == 21  # 20 posts + the notice
    newest = sorted((p.id for p in board.posts), reverse=True)[:2]
    assert sorted(rig.announced("news")) == sorted(str(i) for i in newest)
    feed = rig.feed("news")
    assert len(feed.entries) == 21
    assert any(e.title == "[공지] 게시판 이용 안내" for e in feed.entries)


async def test_new_posts_are_recorded_and_announced_oldest_first(
    tmp_path: Path, board: SimBoard
) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    assert rig.announced("news") == []
    added = fill(board, 3, "새 글")
    outcome = await rig.poll("news")
    assert [p.id for p in outcome.new] == [str(i) for i in added]
    assert rig.announced("news") == [str(i) for i in added]
    feed = rig.feed("news")
    assert feed.entries[0].title == "새 글 2"
    assert all(e.summary for e in feed.entries[:3])  # the article excerpts


async def test_deleted_post_shifts_numbers_without_a_miss_or_a_duplicate(
    tmp_path: Path, board: SimBoard
) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    visible = sorted(p.id for p in board.posts)[-20:]
    board.delete_post(visible[5])  # every newer post's 번호 drops by one
    [fresh] = fill(board, 1, "삭제 후 새 글")  # and takes the number the top post had
    outcome = await rig.poll("news")
    assert [p.id for p in outcome.new] == [str(fresh)]
    assert rig.announced("news") == [str(fresh)]


async def test_history_pulled_up_by_deletions_is_recorded_but_never_announced(
    tmp_path: Path, board: SimBoard
) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    visible = sorted(p.id for p in board.posts)[-20:]
    for post_id in visible[:3]:
        board.delete_post(post_id)  # three older posts rise from page 2
    outcome = await rig.poll("news")
    assert len(outcome.new) == 3 and outcome.announced == 0
    assert rig.announced("news") == []


async def test_a_burst_of_45_posts_is_followed_across_pages(
    tmp_path: Path, board: SimBoard
) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    added = fill(board, 45, "폭주")
    outcome = await rig.poll("news")
    assert outcome.pages == 3
    assert [p.id for p in outcome.new] == [str(i) for i in added]
    assert rig.announced("news") == [str(i) for i in added]
    assert board.count(path_contains="/page/") == 2


async def test_hitting_max_pages_warns_how_many_may_be_missing(
    tmp_path: Path, board: SimBoard, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(tmp_path, [board], max_pages=2)
    await rig.poll("news")
    fill(board, 50, "폭주")
    outcome = await rig.poll("news")
    assert outcome.pages == 2 and len(outcome.new) == 40
    assert outcome.warnings and "max_pages" in outcome.warnings[0]
    assert "about 10" in outcome.warnings[0]
    assert any("max_pages" in r.getMessage() for r in caplog.records)


async def test_pinned_notices_are_not_new_on_every_poll(tmp_path: Path, board: SimBoard) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    fill(board, 25)  # notices repeat on page 2 as well
    await rig.poll("news")
    assert all(not rig.store.posts("news", [i])[i].notice for i in rig.announced("news"))
    notice = board.add_notice("새 공지", "관리자", "<p>새 공지</p>")
    outcome = await rig.poll("news")
    assert [p.id for p in outcome.new] == [str(notice.id)]
    outcome = await rig.poll("news")
    assert outcome.new == () or outcome.unchanged


async def test_notices_false_leaves_notices_out(tmp_path: Path, board: SimBoard) -> None:
    rig = Rig(tmp_path, [board], notices=False)
    await rig.poll("news")
    board.add_notice("새 공지", "관리자", "<p>x</p>")
    outcome = await rig.poll("news")
    assert outcome.new == ()
    assert all("공지" not in e.title for e in rig.feed("news").entries)


async def test_edited_title_updates_the_entry_and_is_not_new(
    tmp_path: Path, board: SimBoard
) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    target = max(p.id for p in board.posts)
    before = {e.id: e for e in rig.feed("news").entries}
    board.edit_title(target, "제목을 고쳤습니다")
    outcome = await rig.poll("news")
    assert outcome.new == () and outcome.updated == 1
    after = {e.id: e for e in rig.feed("news").entries}
    [edited] = [key for key in after if after[key].title == "제목을 고쳤습니다"]
    assert after[edited].updated != before[edited].updated
    assert rig.announced("news") == []


@pytest.mark.parametrize("charset_header", [False, "wrong"])
async def test_euc_kr_board_without_a_true_charset_comes_out_korean(
    tmp_path: Path, sim: BoardSimulator, charset_header: Any
) -> None:
    legacy = sim.add_board(
        "legacy", "gnuboard", encoding="cp949", charset_header=charset_header, meta_charset=False
    )
    legacy.add_post("똠방각하 햏자의 공지 없는 글", "홍길동", "<p>본문 똠방각하</p>")
    rig = Rig(tmp_path, [legacy])
    outcome = await rig.poll("legacy")
    assert outcome.ok
    assert [p.title for p in outcome.new] == ["똠방각하 햏자의 공지 없는 글"]
    assert outcome.new[0].author == "홍길동"
    assert outcome.new[0].excerpt.startswith("본문 똠방각하")


async def test_zero_row_page_is_a_layout_failure_then_recovery(
    tmp_path: Path, board: SimBoard
) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    state = rig.store.board_state("news")
    board.fault_next("zero_rows")
    fill(board, 2)
    failed = await rig.poll("news")
    assert not failed.ok and failed.reason == "layout"
    assert "row selector" in failed.error and board.list_url in failed.error
    assert failed.error.startswith("board news: ")
    after = rig.store.board_state("news")
    assert after.failures == 1 and after.etag == state.etag and after.body_hash == state.body_hash
    assert rig.announced("news") == []
    recovered = await rig.poll("news")
    assert recovered.ok and len(recovered.new) == 2
    assert rig.store.board_state("news").failures == 0


@pytest.mark.parametrize(
    ("status", "reason"), [(403, "blocked"), (429, "blocked"), (503, "http 503"), (500, "http 500")]
)
async def test_http_errors_are_failures_with_a_reason(
    tmp_path: Path, board: SimBoard, status: int, reason: str
) -> None:
    rig = Rig(tmp_path, [board])
    board.fail_next(status, retry_after=30)
    outcome = await rig.poll("news")
    assert not outcome.ok and outcome.reason == reason
    if status in (429, 503):
        assert outcome.retry_after == 30
    assert rig.store.board_state("news").first_poll is None  # nothing recorded


async def test_a_challenge_page_is_blocked_not_empty(tmp_path: Path, board: SimBoard) -> None:
    rig = Rig(tmp_path, [board])
    board.fault_next("challenge")
    outcome = await rig.poll("news")
    assert not outcome.ok and outcome.reason == "blocked"


async def test_unchanged_board_costs_one_conditional_request(
    tmp_path: Path, board: SimBoard
) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    board.clear_requests()
    outcome = await rig.poll("news")
    assert outcome.unchanged and len(board.requests) == 1 and board.requests[0].status == 304


async def test_board_without_validators_is_compared_by_hash(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    plain = sim.add_board("plain", "gnuboard", validators=False)
    fill(plain, 5)
    rig = Rig(tmp_path, [plain])
    await rig.poll("plain")
    mtime = rig.board("plain").feed_path.stat().st_mtime_ns
    plain.clear_requests()
    outcome = await rig.poll("plain")
    assert outcome.unchanged and len(plain.requests) == 1 and plain.requests[0].status == 200
    assert rig.board("plain").feed_path.stat().st_mtime_ns == mtime  # not rewritten


async def test_article_that_fails_is_recorded_and_retried_later(
    tmp_path: Path, board: SimBoard
) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    [fresh] = fill(board, 1, "기사 실패")
    board.fail_articles(500, count=1)
    outcome = await rig.poll("news")
    assert [p.id for p in outcome.new] == [str(fresh)]
    assert outcome.new[0].excerpt == "" and not outcome.new[0].article_fetched
    assert rig.announced("news") == [str(fresh)]  # announced all the same, excerpt or not
    fill(board, 1)
    await rig.poll("news")  # the next poll reads the missing article
    retried = rig.store.posts("news", [str(fresh)])[str(fresh)]
    assert retried.article_fetched and retried.excerpt.startswith("기사 실패 0")


async def test_two_boards_on_one_host_never_overlap(tmp_path: Path, sim: BoardSimulator) -> None:
    first, second = sim.add_board("one", "rhymix"), sim.add_board("two", "gnuboard")
    fill(first, 5)
    fill(second, 5)
    rig = Rig(tmp_path, [first, second], source="list")  # no feed look-ups in the count
    async with Fetcher(user_agent="test", host_delay=0.2, timeout=5) as fetcher:
        outcomes = await poll_boards(
            rig.config.boards,
            functools.partial(poll_board, fetcher=fetcher, state=rig.store, now=now),
            concurrency=4,
        )
    assert all(o.ok for o in outcomes)
    starts = sorted(r.at.timestamp() for r in first.requests + second.requests)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 12 and min(gaps) >= 0.19


async def test_crash_between_recording_and_feed_writing_is_completed_next_run(
    tmp_path: Path, board: SimBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    fill(board, 2, "크래시")

    def crash(path: Path, data: bytes) -> bool:
        raise SystemExit("simulated crash before the feed was written")

    monkeypatch.setattr(feed, "write_atomically", crash)
    with pytest.raises(SystemExit):
        await rig.poll("news")
    assert rig.store.board_state("news").feed_dirty
    assert "크래시" not in rig.board("news").feed_path.read_text()
    monkeypatch.undo()
    outcome = await rig.poll("news")  # the board is unchanged now: a 304
    assert outcome.unchanged
    titles = [e.title for e in rig.feed("news").entries]
    assert titles[:2] == ["크래시 1", "크래시 0"]
    assert len(rig.announced("news")) == 2


async def test_failed_feed_write_is_an_error_and_keeps_the_old_feed(
    tmp_path: Path, board: SimBoard, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = Rig(tmp_path, [board])
    await rig.poll("news")
    old = rig.board("news").feed_path.read_bytes()
    fill(board, 1)

    def disk_full(path: Path, data: bytes) -> bool:
        raise FeedWriteError(f"{path}: No space left on device")

    monkeypatch.setattr(feed, "write_atomically", disk_full)
    outcome = await rig.poll("news")
    assert not outcome.ok and outcome.reason == "feed" and "No space" in outcome.error
    assert rig.board("news").feed_path.read_bytes() == old


async def test_todays_date_only_row_takes_the_time_it_was_first_seen(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    gnu = sim.add_board("gnu", "gnuboard")  # Gnuboard prints HH:MM for today: a real time
    rhymix = sim.add_board("dated", "rhymix")  # Rhymix's default skin prints Y.m.d only
    fill(rhymix, 3)
    fill(gnu, 1)
    rig = Rig(tmp_path, [rhymix, gnu])
    first = await rig.poll("dated")
    assert all(p.published is None or p.published.hour == 0 for p in first.new)
    fill(rhymix, 1, "오늘 새 글")
    before = datetime.now(UTC)
    [fresh] = (await rig.poll("dated")).new
    assert fresh.published is not None and fresh.published >= before.replace(microsecond=0)
