"""relay.service.supervisor: a long-lived task never dies in silence.

A task that raises is logged once with its traceback, counted, and started again; one that
keeps dying is given up, named, and `gave_up` is set so that the service exits non-zero.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from relay.core.errors import StateError
from relay.service import supervisor as supervision
from relay.service.supervisor import Supervisor


@pytest.fixture(autouse=True)
def fast_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervision, "RESTART_BASE", 0.001)
    monkeypatch.setattr(supervision, "RESTART_CAP", 0.001)


async def run_dying(boss: Supervisor, error: Exception, *, deaths: int) -> int:
    """Supervise a "deliveries" task that raises `error` `deaths` times, then lives: wait
    until it lives, stop, and return how many times it ran."""
    runs: list[int] = []
    done = asyncio.Event()

    async def task() -> None:
        runs.append(1)
        if len(runs) <= deaths:
            raise error
        done.set()
        await asyncio.Event().wait()

    boss.start("deliveries", task)
    await asyncio.wait_for(done.wait(), 5)
    await boss.stop(1.0)
    return len(runs)


async def test_a_task_that_raises_is_logged_counted_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    restarted: list[str] = []
    boss = Supervisor(monotonic=asyncio.get_running_loop().time, on_restart=restarted.append)
    with caplog.at_level(logging.ERROR, logger="relay.supervisor"):
        runs = await run_dying(boss, KeyError("odd answer"), deaths=2)
    assert runs == 3
    assert restarted == ["deliveries", "deliveries"]
    deaths = [r for r in caplog.records if "died" in r.getMessage()]
    assert len(deaths) == 2 and all(r.exc_info for r in deaths)
    assert "odd answer" in deaths[0].getMessage()
    assert not boss.gave_up.is_set() and boss.failed == {}


async def test_a_fault_relay_named_is_one_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The state's server down kills the delivery worker each pass: one line each, the
    message naming the state, not sixty lines of traceback."""
    boss = Supervisor(monotonic=asyncio.get_running_loop().time)
    outage = StateError("state postgresql://***@db/relay: cannot read: server went away")
    with caplog.at_level(logging.ERROR, logger="relay.supervisor"):
        await run_dying(boss, outage, deaths=1)
    [death] = [r for r in caplog.records if "died" in r.getMessage()]
    assert death.exc_info is None and "server went away" in death.getMessage()


async def test_a_task_that_returns_while_running_counts_as_dead() -> None:
    runs: list[int] = []

    async def quitter() -> None:
        runs.append(1)

    boss = Supervisor(monotonic=asyncio.get_running_loop().time, max_restarts=2, window=60)
    boss.start("watchdog", quitter)
    await asyncio.wait_for(boss.gave_up.wait(), 5)
    assert len(runs) == 3
    assert "ended unexpectedly" in boss.failed["watchdog"]


async def test_a_task_that_keeps_dying_is_given_up_and_named() -> None:
    async def broken() -> None:
        raise OSError("disk I/O error")

    boss = Supervisor(monotonic=asyncio.get_running_loop().time, max_restarts=3, window=60)
    boss.start("deliveries", broken)
    await asyncio.wait_for(boss.gave_up.wait(), 5)
    assert list(boss.failed) == ["deliveries"]
    assert "OSError: disk I/O error" in boss.failed["deliveries"]


async def test_deaths_spread_wider_than_the_window_never_give_up() -> None:
    now = [0.0]
    runs: list[int] = []

    async def dies_now_and_then() -> None:
        runs.append(1)
        now[0] += 100.0  # each death comes 100 s after the last: outside a 60 s window
        if len(runs) > 8:
            await asyncio.Event().wait()
        raise RuntimeError("rare")

    boss = Supervisor(monotonic=lambda: now[0], max_restarts=2, window=60)
    boss.start("scheduler", dies_now_and_then)
    for _ in range(200):
        if len(runs) > 8:
            break
        await asyncio.sleep(0.005)
    await boss.stop(0.5)
    assert len(runs) > 8
    assert not boss.gave_up.is_set()


async def test_stop_ends_tasks_without_restarting_them() -> None:
    started = asyncio.Event()
    restarted: list[str] = []

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    boss = Supervisor(monotonic=asyncio.get_running_loop().time, on_restart=restarted.append)
    boss.start("watchdog", forever)
    await started.wait()
    await boss.stop(0.05)
    assert restarted == []
