"""Polls meeting an unlucky world, over loopback: a huge first page, a state that cannot be
written, a page that changes on every poll. Nothing is lost, nothing escapes as a crash.
"""

from __future__ import annotations

import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from atomcheck import assert_valid_atom
from conftest import make_config

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.clock import Clock
from relay.core.config import Config
from relay.core.models import PollOutcome
from relay.pipeline.deliver import DryRunSender
from relay.pipeline.poll import poll_board
from relay.service.daemon import Service
from relay.service.parts import Parts
from relay.sim import BoardSimulator, SimBoard


def now() -> datetime:
    return datetime.now(UTC)


def config_for(tmp_path: Path, board: SimBoard, **settings: Any) -> Config:
    entry = {"id": board.name, "url": board.list_url, "engine": board.engine, "chat": "@news"}
    return make_config(tmp_path, [entry | settings], alarm_after=1)


async def poll(config: Config, state: SqliteState) -> PollOutcome:
    async with Fetcher(user_agent="test", host_delay=0, timeout=10) as fetcher:
        return await poll_board(config.boards[0], fetcher, state, now)


@contextlib.contextmanager
def full_disk(state: SqliteState) -> Iterator[None]:
    """The state file may not grow meanwhile: SQLite answers SQLITE_FULL, as on a full disk."""
    connection = state._db._conn  # the test plays the disk
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count = {pages}")
    try:
        yield
    finally:
        connection.execute("PRAGMA max_page_count = 1073741823")


@contextlib.contextmanager
def write_lock_held_elsewhere(path: Path) -> Iterator[None]:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_a_huge_first_page_reads_articles_only_for_the_feed_and_the_backfill(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    rows = 3_000  # as many as fit under max_page_bytes; the decider's table goes to 100,000
    huge = sim.add_board("huge", "gnuboard", page_size=rows, list_under_article=False)
    for i in range(rows):
        huge.add_post(f"글 {i}", "작성자", f"<p>글 {i} 본문</p>")
    config = config_for(tmp_path, huge, backfill=3, feed_entries=20, max_rows=rows)
    state = SqliteState(config.state)
    outcome = await poll(config, state)
    assert outcome.ok and len(outcome.new) == rows and outcome.announced == 3
    assert huge.count(path_contains="wr_id=") == 20  # not one article request per row
    assert state.board_states(["huge"])[0].posts == rows
    feed = assert_valid_atom(config.boards[0].feed_path.read_bytes())
    assert len(feed.entries) == 20 and all(e.summary for e in feed.entries)
    newest = sorted(
        state.posts("huge", [d.post_id for d in state.pending_deliveries()]).values(),
        key=lambda p: int(p.id),
    )
    assert [p.excerpt for p in newest] == [f"글 {i} 본문" for i in range(rows - 3, rows)]
    huge.clear_requests()
    assert (await poll(config, state)).unchanged and huge.count(path_contains="wr_id=") == 0


async def test_a_state_that_cannot_be_written_is_a_board_failure_and_nothing_is_lost(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    news = sim.add_board("news", "rhymix")
    news.add_post("기존 글", "x", "<p>본문</p>")
    config = config_for(tmp_path, news)
    state = SqliteState(config.state, busy_timeout=0.05)
    assert (await poll(config, state)).ok
    body = "<p>" + "긴 본문 " * 600 + "</p>"  # the posts need room the full disk lacks
    fresh = [news.add_post(f"새 글 {i}", "x", body).id for i in range(10)]
    with write_lock_held_elsewhere(config.state):
        locked = await poll(config, state)
    assert not locked.ok and locked.reason == "state" and "locked" in locked.error
    with full_disk(state):
        full = await poll(config, state)
    assert not full.ok and full.reason == "state" and "full" in full.error
    assert state.board_state("news").failures == 1  # the full disk still took the count
    recovered = await poll(config, state)
    assert recovered.ok and [p.id for p in recovered.new] == [str(i) for i in fresh]
    assert [d.post_id for d in state.pending_deliveries()] == [str(i) for i in fresh]


async def test_the_service_counts_backs_off_and_alarms_on_a_state_failure(
    tmp_path: Path, sim: BoardSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    news = sim.add_board("news", "rhymix")
    news.add_post("기존 글", "x", "<p>본문</p>")
    config = config_for(tmp_path, news)
    state = SqliteState(config.state)
    async with Fetcher(user_agent="test", host_delay=0, timeout=10) as fetcher:
        clock = [now()]
        steady = [1000.0]
        parts = Parts(
            config=config,
            state=state,
            fetcher=fetcher,
            sender=DryRunSender(),
            clock=Clock(wall=lambda: clock[0], monotonic=lambda: steady[0]),
            rng=random.Random(1),
            dry_run=True,
        )
        service = Service(parts)
        service.prepare()  # the scheduler itself is not started
        await service.poll_job("news")
        for i in range(10):
            news.add_post(f"새 글 {i}", "x", "<p>" + "긴 본문 " * 600 + "</p>")
        steady[0] += config.boards[0].interval  # the next fire, an interval later
        with full_disk(state):
            await service.poll_job("news")
    assert service.backoffs["news"].failures == 1
    assert not service.backoffs["news"].due(service.clock.monotonic())
    failures = service.metrics.registry.get_sample_value(
        "relay_poll_failures_total", {"board": "news", "reason": "state"}
    )
    assert failures == 1
    steady[0] += config.boards[0].interval * 4  # no success since
    assert any(r.startswith("news: ") and "failing: state" in r for r in service.health().reasons)
    messages = [r.getMessage() for r in caplog.records]
    assert any("alarm: failing (state)" in m for m in messages)
    assert not any("poll crashed" in m for m in messages)


async def test_a_page_that_changes_on_every_poll_with_nothing_new_logs_at_debug(
    tmp_path: Path, sim: BoardSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    plain = sim.add_board("counter", "gnuboard", validators=False)
    first = plain.add_post("글", "x", "<p>본문</p>")
    config = config_for(tmp_path, plain)
    state = SqliteState(config.state)
    await poll(config, state)
    caplog.set_level(logging.DEBUG, logger="relay.pipeline.poll")
    caplog.clear()
    plain.set_comments(first.id, 1)  # the body changes (a counter), no post is new or edited
    outcome = await poll(config, state)
    assert outcome.ok and not outcome.unchanged and outcome.new == () and outcome.updated == 0
    [line] = [r for r in caplog.records if "new=0" in r.getMessage()]
    assert line.levelno == logging.DEBUG
    plain.add_post("새 글", "x", "<p>본문</p>")
    caplog.clear()
    await poll(config, state)
    [line] = [r for r in caplog.records if "new=1" in r.getMessage()]
    assert line.levelno == logging.INFO


async def test_slow_article_pages_cannot_hold_a_poll_back_for_long(
    tmp_path: Path, sim: BoardSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five article pages that each take 1.5 s, under a budget of 1 s: the poll records all
    five posts after about two of them, and the rest are read by later polls."""
    from relay.pipeline import read

    monkeypatch.setattr(read, "ARTICLE_BUDGET", 1.0)
    news = sim.add_board("news", "rhymix")
    news.slow_delay = 1.5
    news.add_post("기존 글", "x", "<p>본문</p>")
    config = config_for(tmp_path, news)
    state = SqliteState(config.state)
    await poll(config, state)
    for i in range(5):
        news.add_post(f"느린 글 {i}", "x", f"<p>느린 본문 {i}</p>")
    news.slow_articles(5)
    started = time.monotonic()
    outcome = await poll(config, state)
    assert time.monotonic() - started < 4.5
    assert outcome.ok and len(outcome.new) == 5 and outcome.announced == 5
    missing = state.missing_articles("news", 50, 50)
    assert 3 <= len(missing) <= 4  # two read at most (the one over the budget still ends)
