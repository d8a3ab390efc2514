"""The service and its leases, over loopback (the board simulator), with a coordination fake
that has knobs: which boards it grants, whether the database answers. Scenarios: a board
not held is never polled; leases not renewed in time stop new polls before the database's
expiry; a lease lost mid-poll records nothing and is not a board failure; a board taken
from another instance keeps its schedule; a clean stop releases; Solo holds everything.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.clock import Clock
from relay.core.config import Config
from relay.core.coordination import InstanceId, InstanceInfo, Lease, LeaseLost
from relay.core.errors import StateError
from relay.core.models import StoredPost
from relay.core.state import PollIntent
from relay.pipeline.deliver import DryRunSender
from relay.service.daemon import Service
from relay.service.leases import MARGIN
from relay.service.parts import Parts
from relay.sim import BoardSimulator

LEASE = 30.0
ME = InstanceId("me-1", "here", 1)


@dataclass
class TableLeases:
    """A shared coordination in memory: `grant` decides which boards `me` gets; `down`
    makes every call fail as an unreachable database would."""

    grant: set[str] = field(default_factory=set)
    tokens: dict[str, int] = field(default_factory=dict)
    down: bool = False
    released: list[str] = field(default_factory=list)
    spares: list[tuple[str, ...]] = field(default_factory=list)
    shared: bool = True
    hold: threading.Event | None = None  # take_leases waits for it: a round in flight

    def _check(self) -> None:
        if self.down:
            raise StateError("state test: database down")

    def heartbeat(self, me: InstanceId, lease_seconds: float) -> None:
        self._check()

    def take_leases(
        self,
        me: InstanceId,
        board_ids: Sequence[str],
        lease_seconds: float,
        spare: Sequence[str] | None = None,
    ) -> dict[str, Lease]:
        self._check()
        if self.hold is not None:
            self.hold.wait(10)
        self.spares.append(tuple(spare or ()))
        at = datetime(2026, 1, 1, tzinfo=UTC)
        return {
            b: Lease(b, me.name, self.tokens.setdefault(b, 1), at + timedelta(seconds=30), at)
            for b in board_ids
            if b in self.grant
        }

    def release_leases(self, me: InstanceId) -> None:
        self._check()
        self.released.append(me.name)

    def instances(self, lease_seconds: float) -> list[InstanceInfo]:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        leases = tuple(Lease(b, "me-1", 1, at, at - timedelta(seconds=7)) for b in self.grant)
        return [InstanceInfo("me-1", "here", 1, at, at, leases, True, at)]


class FencedState(SqliteState):
    """A SQLite state that checks the fence as a shared one does: against `current`."""

    current: dict[str, int]

    def apply_poll(
        self, board_id: str, intent: PollIntent, *, fence: Lease | None = None
    ) -> tuple[StoredPost, ...]:
        if fence is not None and fence.token != self.current.get(board_id, fence.token):
            raise LeaseLost(f"board {board_id}: lease token {fence.token} is not current")
        return super().apply_poll(board_id, intent, fence=fence)

    def record_failure(
        self, board_id: str, at: datetime, reason: str, error: str, *, fence: Lease | None = None
    ) -> int:
        if fence is not None and fence.token != self.current.get(board_id, fence.token):
            raise LeaseLost(f"board {board_id}: lease token {fence.token} is not current")
        return super().record_failure(board_id, at, reason, error, fence=fence)


@dataclass
class Rig:
    service: Service
    state: FencedState
    leases: TableLeases
    steady: list[float]
    wall: list[datetime]
    sim: BoardSimulator

    def requests(self, board: str) -> int:
        return sum(1 for r in self.sim.requests if r.board == board and r.list_page)


def _config(tmp_path: Path, sim: BoardSimulator, names: Sequence[str]) -> Config:
    boards = []
    for name in names:
        board = sim.add_board(name, "rhymix")
        board.add_post("글", "x", "<p>본문</p>")
        boards.append({"id": name, "url": board.list_url, "engine": "rhymix", "interval": 60})
    return make_config(tmp_path, boards, lease=LEASE)


def parts(config: Config, state: SqliteState, fetcher: Fetcher, clock: Clock, **kw: Any) -> Parts:
    return Parts(
        config=config,
        state=state,
        fetcher=fetcher,
        sender=DryRunSender(),
        clock=clock,
        rng=random.Random(1),
        dry_run=True,
        **kw,
    )


@pytest.fixture
async def rig(tmp_path: Path, sim: BoardSimulator) -> AsyncIterator[Rig]:
    config = _config(tmp_path, sim, ["alpha", "beta"])
    state = FencedState(config.state)
    state.current = {}
    leases = TableLeases(grant={"alpha"})
    steady, wall = [1000.0], [datetime.now(UTC)]
    async with Fetcher(user_agent="test", host_delay=0, timeout=10) as fetcher:
        clock = Clock(wall=lambda: wall[0], monotonic=lambda: steady[0])
        service = Service(parts(config, state, fetcher, clock, coordination=leases, instance=ME))
        service.prepare()
        yield Rig(service, state, leases, steady, wall, sim)
    state.close()


async def test_only_boards_whose_lease_is_held_are_polled(rig: Rig) -> None:
    await rig.service.poll_job("alpha")
    assert rig.requests("alpha") == 0  # no round yet: nothing is held
    await rig.service.leases.round()
    await rig.service.poll_job("alpha")
    await rig.service.poll_job("beta")
    assert rig.requests("alpha") >= 1 and rig.requests("beta") == 0
    assert rig.state.board_state("alpha").last_success is not None
    assert rig.state.board_state("beta").last_poll is None


async def test_leases_not_renewed_stop_new_polls_before_the_database_expiry(rig: Rig) -> None:
    service = rig.service
    await service.leases.round()
    rig.leases.down = True
    with pytest.raises(StateError):
        await service.leases.round()
    rig.steady[0] += LEASE * (1 - MARGIN) + 0.1  # before the database's expiry, after ours
    await service.poll_job("alpha")
    assert rig.requests("alpha") == 0
    assert not any("lease" in r for r in service.health().reasons)  # not yet a lease time
    rig.steady[0] += LEASE * MARGIN
    assert any(r.startswith("leases not renewed for 30s") for r in service.health().reasons)
    rig.leases.down = False
    await service.leases.round()
    await service.poll_job("alpha")
    assert rig.requests("alpha") >= 1
    assert not any("lease" in r for r in service.health().reasons)


async def test_a_lease_lost_mid_poll_records_nothing_and_is_no_failure(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    service = rig.service
    await service.leases.round()
    rig.state.current["alpha"] = 2  # another instance took the board since our round
    caplog.set_level(logging.INFO)
    await service.poll_job("alpha")
    assert rig.requests("alpha") >= 1  # it polled ...
    assert rig.state.board_state("alpha").last_poll is None  # ... and recorded nothing
    assert rig.state.board_state("alpha").failures == 0
    assert service.backoffs["alpha"].failures == 0
    assert "alpha" not in service.leases.held
    assert any("board=alpha lease lost" in r.getMessage() for r in caplog.records)
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)


async def test_a_failure_met_under_a_lost_lease_is_not_counted_either(rig: Rig) -> None:
    service = rig.service
    await service.leases.round()
    rig.state.current["alpha"] = 2
    rig.sim.boards["alpha"].fail_next(503)
    await service.poll_job("alpha")
    assert rig.state.board_state("alpha").failures == 0
    assert service.backoffs["alpha"].failures == 0
    assert "alpha" not in service.leases.held


async def test_a_taken_board_keeps_its_schedule_from_the_stored_last_poll(rig: Rig) -> None:
    service = rig.service
    service.start()
    try:
        await service.leases.round()
        await service.poll_job("alpha")  # polled and recorded here, as by another instance
        polled = rig.state.board_state("alpha").last_poll
        assert polled is not None
        rig.leases.tokens["alpha"] = 2  # alpha changes hands: taken again under a new token
        rig.wall[0] += timedelta(seconds=20)
        fresh = await service.leases.round()
        assert fresh == ["alpha"]
        job = service.schedule.scheduler.get_job("alpha")
        due = job.next_run_time - (polled + timedelta(seconds=60))
        assert abs(due.total_seconds()) < 2.0  # one interval after the stored poll, not now
    finally:
        service.schedule.shutdown()


async def test_overdue_boards_taken_over_are_spread_not_polled_at_once(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    names = [f"late{i}" for i in range(20)] + ["recent"]
    config = _config(tmp_path, sim, names)
    state = SqliteState(config.state)
    now = datetime.now(UTC)
    for name in names:  # as the instances that held them left them, before an outage
        ago = 10 if name == "recent" else 300
        state.apply_poll(name, PollIntent(at=now - timedelta(seconds=ago), stamp=True))
    leases = TableLeases(grant=set(names))
    try:
        async with Fetcher(user_agent="test", host_delay=0, timeout=10) as fetcher:
            clock = Clock(wall=lambda: now, monotonic=lambda: 1000.0)
            service = Service(
                parts(config, state, fetcher, clock, coordination=leases, instance=ME)
            )
            service.start()
            try:
                await service.leases.round()
                runs = {n: service.schedule.scheduler.get_job(n).next_run_time for n in names}
            finally:
                service.schedule.shutdown()
    finally:
        state.close()
    late = sorted((runs[n] - now).total_seconds() for n in names if n != "recent")
    assert late[0] >= -0.5 and late[-1] <= 21 * 0.1 + 0.5  # 0.1 s a board (FIRST_POLL_SPREAD)
    assert late[-1] - late[0] > 0.5 and len(set(late)) > 10  # spread, not one burst
    recent = (runs["recent"] - now).total_seconds()
    assert 50 - 0.5 <= recent <= 50 + 21 * 0.1 + 0.5  # never before its stored schedule


async def test_the_status_page_of_a_shared_state_lists_the_instances(rig: Rig) -> None:
    from relay.service.pages import StatusPages

    await rig.service.leases.round()
    page = await StatusPages(rig.service).index()
    assert "me-1" in page and "alpha (7s)" in page


async def test_a_board_being_polled_is_never_offered_as_spare(rig: Rig) -> None:
    service = rig.service
    rig.leases.grant = {"alpha", "beta"}
    await service.leases.round()
    service._polling.add("beta")
    await service.leases.round()
    assert rig.leases.spares[-1] == ("alpha",)


async def test_a_poll_due_during_a_round_that_may_give_it_away_waits_for_the_round(
    rig: Rig,
) -> None:
    service = rig.service
    await service.leases.round()
    rig.leases.hold = threading.Event()
    in_flight = asyncio.create_task(service.leases.round())
    await asyncio.sleep(0.05)  # the round is under way, alpha among the boards it may give
    due = asyncio.create_task(service.poll_job("alpha"))
    await asyncio.sleep(0.05)
    assert rig.requests("alpha") == 0 and not due.done()  # not polled while it may be given
    rig.leases.hold.set()
    await in_flight
    await asyncio.wait_for(due, 10)
    assert rig.requests("alpha") >= 1  # the round kept it: polled now, not an interval later


async def test_a_clean_stop_releases_the_leases(rig: Rig) -> None:
    await rig.service.leases.round()
    await rig.service.stop()
    assert rig.leases.released == ["me-1"]
    assert rig.service.leases.held == {}
    assert await rig.service.leases.round() == []  # nothing taken back after the release


async def test_a_clean_stop_during_a_round_keeps_nothing_the_round_took(rig: Rig) -> None:
    service = rig.service
    rig.leases.hold = threading.Event()
    in_flight = asyncio.create_task(service.leases.round())  # would take alpha, fresh
    await asyncio.sleep(0.05)
    stopping = asyncio.create_task(service.leases.release())
    await asyncio.sleep(0.05)
    rig.leases.hold.set()
    assert await in_flight == []
    await stopping
    assert service.leases.held == {} and service.leases.lease_for("alpha") is None
    assert service.schedule.scheduler.get_job("alpha") is None  # not scheduled as taken
    assert rig.leases.released == ["me-1"]


async def test_a_state_one_process_owns_holds_every_board_from_the_start(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    config = _config(tmp_path, sim, ["solo1", "solo2"])
    state = SqliteState(config.state)
    async with Fetcher(user_agent="test", host_delay=0, timeout=10) as fetcher:
        service = Service(parts(config, state, fetcher, Clock()))
        service.prepare()
        assert set(service.leases.held) == {"solo1", "solo2"}
        assert all(lease.token == 0 for lease in service.leases.held.values())
        await service.poll_job("solo1")
        assert state.board_state("solo1").last_success is not None
        assert service.leases.problem() is None
    state.close()
