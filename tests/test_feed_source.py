"""A board read from its own feed (`source = "auto" | "feed"`), end to end over loopback:
the simulator serving Rhymix Atom/RSS and Gnuboard RSS, the real fetcher, parser and state.

What must hold: the same ids whichever source (a switch never re-announces), exact times and
the article text from the entries (no article request), notices still from the list page,
a burst longer than the feed carried on by the list, and a feed that is off, broken or
gone read as the list with one warning, not one per poll."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config, run_relay, write_config

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.config import Board
from relay.core.models import PollOutcome
from relay.core.source import FeedSources
from relay.pipeline.poll import poll_board
from relay.sim import BoardSimulator, SimBoard

START = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


class FeedRig:
    """One store and one feed memory across polls; the board's config may change between
    polls (a switch of source), as a reload would change it."""

    def __init__(self, tmp_path: Path, board: SimBoard) -> None:
        self.tmp_path, self.sim_board = tmp_path, board
        self.sources = FeedSources()
        self.store: SqliteState | None = None

    def board(self, **settings: Any) -> Board:
        entry = {
            "id": self.sim_board.name,
            "url": self.sim_board.list_url,
            "engine": self.sim_board.engine,
            "chat": "@news",
            **settings,
        }
        return make_config(self.tmp_path, [entry]).boards[0]

    async def poll(self, **settings: Any) -> PollOutcome:
        board = self.board(**settings)
        if self.store is None:
            self.store = SqliteState(board.feed_path.parent.parent / "state.db")
        async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
            return await poll_board(board, fetcher, self.store, now, self.sources)

    def announced(self) -> list[str]:
        assert self.store is not None
        return [d.post_id for d in self.store.pending_deliveries()]

    def paths(self) -> list[str]:
        return [r.path for r in self.sim_board.requests]


def fill(board: SimBoard, count: int, start: datetime = START, prefix: str = "글") -> list[str]:
    """Posts with times that a list page prints only to the minute (or the day)."""
    return [
        str(
            board.add_post(
                f"{prefix} {i}",
                f"작성자{i % 3}",
                f"<p>{prefix} {i} 본문입니다</p>",
                published=start + timedelta(minutes=7 * i, seconds=13 + i),
            ).id
        )
        for i in range(count)
    ]


def article_requests(rig: FeedRig, ids: list[str]) -> list[str]:
    return [p for p in rig.paths() if any(p.rstrip("/").endswith(i) or f"={i}" in p for i in ids)]


@pytest.fixture
def rhymix(sim: BoardSimulator) -> SimBoard:
    board = sim.add_board("news", "rhymix", page_size=20, feed="on")
    fill(board, 25)
    board.add_notice("[공지] 이용 안내", published=START - timedelta(days=40))
    return board


async def test_a_board_with_a_feed_is_read_from_it_with_exact_times_and_no_article_requests(
    tmp_path: Path, rhymix: SimBoard
) -> None:
    rig = FeedRig(tmp_path, rhymix)
    first = await rig.poll()
    assert first.ok and len(first.new) == 21  # page 1's 20 posts and the notice, as from a list
    assert any(p.notice for p in first.new)  # the list page still marks the notice
    assert any("act=atom" in p for p in rig.paths())
    added = fill(rhymix, 3, START + timedelta(days=1), "새 글")
    before = len(rhymix.requests)
    second = await rig.poll()
    assert [p.id for p in second.new] == added
    assert rig.announced() == added
    asked = [r.path for r in rhymix.requests[before:]]
    assert article_requests(rig, added) == []  # the articles came with the entries
    assert len(asked) == 2  # the list page (for notices) and the feed
    newest = sorted(rhymix.posts, key=lambda p: p.id)[-3:]
    for post, sim_post in zip(second.new, newest, strict=True):
        assert post.published == sim_post.published  # to the second, as the feed states it
        assert "본문입니다" in post.excerpt


async def test_switching_the_source_mid_life_announces_nothing_twice(
    tmp_path: Path, rhymix: SimBoard
) -> None:
    rig = FeedRig(tmp_path, rhymix)
    assert (await rig.poll(source="list")).ok
    one = fill(rhymix, 2, START + timedelta(days=1), "하나")
    assert [p.id for p in (await rig.poll(source="feed")).new] == one
    two = fill(rhymix, 2, START + timedelta(days=2), "둘")
    assert [p.id for p in (await rig.poll(source="list")).new] == two
    three = fill(rhymix, 1, START + timedelta(days=3), "셋")
    assert [p.id for p in (await rig.poll(source="auto")).new] == three
    assert rig.announced() == one + two + three
    assert (await rig.poll(source="list")).new == ()


async def test_notices_false_leaves_out_the_notice_the_feed_lists_like_a_post(
    tmp_path: Path, rhymix: SimBoard
) -> None:
    notice = max(p.id for p in rhymix.notices)
    assert notice > max(p.id for p in rhymix.posts)  # so the feed carries it among its 15
    rig = FeedRig(tmp_path, rhymix)
    first = await rig.poll(notices=False)
    assert str(notice) not in [p.id for p in first.new]
    added = fill(rhymix, 2, START + timedelta(days=1), "새 글")
    outcome = await rig.poll(notices=False)
    assert [p.id for p in outcome.new] == added
    assert rig.announced() == added


async def test_a_burst_longer_than_the_feed_is_carried_on_by_the_list(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    board = sim.add_board("short", "rhymix", page_size=20, feed="on", feed_entries=5)
    fill(board, 30)
    rig = FeedRig(tmp_path, board)
    assert len((await rig.poll(notices=False)).new) == 20  # page 1, although the feed has 5
    burst = fill(board, 8, START + timedelta(days=1), "몰림")
    outcome = await rig.poll(notices=False)
    assert [p.id for p in outcome.new] == burst
    assert rig.announced() == burst
    fetched = article_requests(rig, burst)
    assert len(fetched) == 3  # only those the feed did not carry


async def test_gnuboard_rss_is_read_with_the_same_ids_as_the_list(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    board = sim.add_board("free", "gnuboard", page_size=15, feed="on")
    fill(board, 20)
    rig = FeedRig(tmp_path, board)
    await rig.poll(source="list")
    added = fill(board, 2, START + timedelta(days=1), "새 글")
    outcome = await rig.poll(source="feed")
    assert [p.id for p in outcome.new] == added
    assert any("rss.php" in p for p in rig.paths())
    assert article_requests(rig, added) == []
    assert outcome.new[-1].published == max(p.published for p in board.posts)


@pytest.mark.parametrize("mode", ["off", "broken", "gone"])
async def test_a_feed_that_cannot_be_used_falls_back_to_the_list_with_one_warning(
    tmp_path: Path, sim: BoardSimulator, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    board = sim.add_board("free", "gnuboard", page_size=15, feed=mode)  # type: ignore[arg-type]
    fill(board, 20)
    rig = FeedRig(tmp_path, board)
    caplog.set_level(logging.INFO, logger="relay")
    added = []
    for day in range(1, 4):
        added += fill(board, 1, START + timedelta(days=day), f"{day}일")
        assert (await rig.poll(source="feed")).ok
    assert rig.announced() == added[1:]  # the first poll records, later ones announce
    warnings = [r for r in caplog.records if "feed cannot be used" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert sum("rss.php" in p for p in rig.paths()) == 1  # not asked again on every poll


async def test_a_feed_that_vanishes_is_one_warning_and_the_list_carries_on(
    tmp_path: Path, rhymix: SimBoard, caplog: pytest.LogCaptureFixture
) -> None:
    rig = FeedRig(tmp_path, rhymix)
    await rig.poll()
    caplog.set_level(logging.INFO, logger="relay")
    rhymix.feed = "gone"
    added = []
    for day in range(1, 4):
        added += fill(rhymix, 1, START + timedelta(days=day), f"{day}일")
        assert (await rig.poll()).ok
    assert rig.announced() == added
    warnings = [r for r in caplog.records if "feed cannot be used" in r.getMessage()]
    assert len(warnings) == 1


async def test_an_auto_board_whose_site_has_no_feed_is_not_a_warning(
    tmp_path: Path, sim: BoardSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    board = sim.add_board("plain", "rhymix", page_size=20)  # feed "off", as on most sites
    fill(board, 5)
    rig = FeedRig(tmp_path, board)
    caplog.set_level(logging.WARNING, logger="relay")
    assert (await rig.poll()).ok and (await rig.poll()).ok
    assert not [r for r in caplog.records if "feed" in r.getMessage()]
    assert sum("act=" in p for p in rig.paths()) == 2  # atom and rss asked once, not per poll


def test_check_says_which_source_each_board_is_read_from(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    fed = sim.add_board("fed", "rhymix", feed="on")
    plain = sim.add_board("plain", "gnuboard")
    pinned = sim.add_board("pinned", "rhymix", feed="on")
    for board in (fed, plain, pinned):
        fill(board, 3)
    entries = [
        {"id": b.name, "url": b.list_url, "engine": b.engine, **extra}
        for b, extra in ((fed, {}), (plain, {"source": "feed"}), (pinned, {"source": "list"}))
    ]
    result = run_relay("check", "-c", str(write_config(tmp_path, entries)))
    assert result.returncode == 0, result.stdout + result.stderr
    sections = dict(
        (part.split(":", 1)[0].strip(), part) for part in result.stdout.split("== ")[1:]
    )
    assert "source: feed http://" in sections["fed"] and "act=atom" in sections["fed"]
    assert "source: list (its feed fails:" in sections["plain"]
    assert 'source: list (source = "list")' in sections["pinned"]
    # and which of the preset's layouts matched
    assert "layout: Rhymix/XE default skin (table) (row div.board_list tbody tr)" in sections["fed"]
    assert "layout: Gnuboard5 basic / mobile skin (row #bo_list tbody tr)" in sections["plain"]
