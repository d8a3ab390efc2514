"""The quiet-board alarm (relay.service.alarms): a board whose page answers but that shows no
new post for much longer than usual tells the admin once, and once more when posts come again.
Time is an injected clock; the state is the real SQLite one; the admin chat is a recording
sender (a fake Telegram, not a mock of one).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_config

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.clock import Clock as WallAndSteady
from relay.core.config import Config
from relay.core.models import OutgoingMessage, PollOutcome, Post
from relay.core.state import NewPost, PageChanges, PollIntent, Validators
from relay.service.alarms import Alarms
from relay.service.daemon import Service
from relay.service.pages import StatusPages
from relay.service.parts import Parts
from relay.sim import BoardSimulator

START = datetime(2025, 2, 1, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Told:
    """The admin chat: every message it was sent."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    async def send(self, msg: OutgoingMessage) -> int:
        self.messages.append(msg.text)
        return len(self.messages)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _config(tmp_path: Path, quiet_after: str) -> Config:
    board = {"id": "b", "url": "http://127.0.0.1:1/b", "quiet_after": quiet_after}
    return make_config(tmp_path, [board], admin_chat="@admin")


def _arrive(state: SqliteState, post_id: int, at: datetime) -> None:
    post = Post(str(post_id), f"http://127.0.0.1:1/b/{post_id}", f"글 {post_id}")
    changes = PageChanges(Validators(body_hash=str(post_id)), "1", (NewPost(post, False, False),))
    state.apply_poll("b", PollIntent(at=at, stamp=True, changes=changes, pages=1))


OK = PollOutcome(board_id="b", ok=True)


async def test_a_board_silent_far_longer_than_usual_alarms_once_and_recovers_once(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "auto")
    state = SqliteState(config.state)
    for n in range(48):  # a post every hour for two days: the usual gap is an hour
        _arrive(state, n + 1, START + n * HOUR)
    last = START + 47 * HOUR
    clock, told = Clock(last + 5 * HOUR), Told()
    alarms = Alarms(lambda: config, state, told, now=clock)
    board = config.boards[0]
    try:
        await alarms.after_poll(board, OK, 0)
        assert told.messages == [] and alarms.quiet_since("b") is None  # within the 6 h floor
        clock.now = last + 7 * HOUR
        await alarms.after_poll(board, OK, 0)
        assert len(told.messages) == 1 and "b is quiet" in told.messages[0]
        assert alarms.quiet_since("b") == last + 6 * HOUR and alarms.quiet_boards() == ["b"]
        clock.now = last + 30 * HOUR
        await alarms.after_poll(board, OK, 0)
        assert len(told.messages) == 1  # one alarm, however long the silence lasts
        _arrive(state, 100, clock.now)
        await alarms.after_poll(board, OK, 0)
        assert len(told.messages) == 2 and "new posts again" in told.messages[1]
        assert alarms.quiet_since("b") is None
        await alarms.after_poll(board, OK, 0)
        assert len(told.messages) == 2
    finally:
        state.close()


@pytest.mark.parametrize(("setting", "expected"), [("2h", 1), ("off", 0)])
async def test_a_fixed_limit_alarms_without_history_and_off_never(
    tmp_path: Path, setting: str, expected: int
) -> None:
    config = _config(tmp_path, setting)
    state = SqliteState(config.state)
    _arrive(state, 1, START)
    told = Told()
    alarms = Alarms(lambda: config, state, told, now=Clock(START + 3 * HOUR))
    try:
        await alarms.after_poll(config.boards[0], OK, 0)
        assert len(told.messages) == expected
    finally:
        state.close()


async def test_learning_boards_and_failing_polls_never_alarm_quiet(tmp_path: Path) -> None:
    config = _config(tmp_path, "auto")
    state = SqliteState(config.state)
    _arrive(state, 1, START)  # one arrival: too little history to learn from
    told = Told()
    alarms = Alarms(lambda: config, state, told, now=Clock(START + 1000 * HOUR))
    try:
        await alarms.after_poll(config.boards[0], OK, 0)
        failed = PollOutcome(board_id="b", ok=False, reason="network", error="refused")
        await alarms.after_poll(config.boards[0], failed, 1)
        assert told.messages == [] and alarms.quiet_since("b") is None
    finally:
        state.close()


def _parts(
    config: Config,
    state: SqliteState,
    fetcher: Fetcher,
    told: Told,
    wall: Clock,
    steady: list[float],
) -> Parts:
    """The service's parts with the admin chat recorded and both clocks in the test's hands."""
    return Parts(
        config=config,
        state=state,
        fetcher=fetcher,
        sender=told,
        clock=WallAndSteady(wall=wall, monotonic=lambda: steady[0]),
        rng=random.Random(1),
        dry_run=False,
    )


async def test_a_quiet_board_shows_on_the_page_in_healthz_detail_and_metrics(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    """Quiet is not broken: /healthz stays 200 and lists the board; the page and the metric say
    it. The wall clock is injected and moved past the limit between two polls."""
    board = sim.add_board("b", "rhymix")
    board.add_post("하나", "x", "<p>본문</p>")
    config = make_config(
        tmp_path, [{"id": "b", "url": board.list_url, "quiet_after": "2h"}], admin_chat="@admin"
    )
    state = SqliteState(config.state)
    wall, steady = Clock(datetime.now(UTC)), [1000.0]
    async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
        parts = _parts(config, state, fetcher, Told(), wall, steady)
        service = Service(parts)
        service.prepare()
        await service.poll_job("b")
        assert service.health().detail["quiet"] == []
        wall.now += 3 * HOUR
        steady[0] += 3 * 3600  # the poll spacing lets the next poll through
        await service.poll_job("b")
        health = service.health()
        page = await StatusPages(service).index()
        metrics = service.metrics.render()[0].decode()
    state.close()
    # The scheduler is not started here (polls are fired by hand); the board itself is healthy.
    assert health.detail["quiet"] == ["b"] and health.reasons == ("scheduler not running",)
    assert '<article class="board quiet" id="board-b"' in page
    assert 'relay_board_quiet{board="b"} 1.0' in metrics
    assert isinstance(parts.sender, Told) and len(parts.sender.messages) == 1


async def _service_session(
    config: Config, wall: Clock, polls: int, between: timedelta
) -> list[str]:
    """One run of the service on the state file: `polls` polls `between` apart (wall clock);
    returns what the admin chat was told. The state is closed at the end, as at a stop."""
    state = SqliteState(config.state)
    told, steady = Told(), [1000.0]
    try:
        async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
            service = Service(_parts(config, state, fetcher, told, wall, steady))
            service.prepare()
            for _ in range(polls):
                await service.poll_job("b")
                wall.now += between
                steady[0] += between.total_seconds()
    finally:
        state.close()
    return told.messages


async def test_a_restart_does_not_alarm_a_still_quiet_board_again(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    board = sim.add_board("b", "rhymix")
    board.add_post("하나", "x", "<p>본문</p>")
    config = make_config(
        tmp_path, [{"id": "b", "url": board.list_url, "quiet_after": "2h"}], admin_chat="@admin"
    )
    wall = Clock(datetime.now(UTC))
    first = await _service_session(config, wall, polls=2, between=3 * HOUR)
    assert len(first) == 1 and "b is quiet" in first[0]
    # a new Service on the same state file: the board is still quiet, and it was told
    assert await _service_session(config, wall, polls=2, between=HOUR) == []
    board.add_post("둘", "x", "<p>본문</p>")
    again = await _service_session(config, wall, polls=1, between=HOUR)
    assert len(again) == 1 and "new posts again" in again[0]
    assert await _service_session(config, wall, polls=1, between=HOUR) == []
