"""Several `relay run` processes on one PostgreSQL state, end to end: real processes, the board
simulator and the fake Bot API over loopback, a throwaway PostgreSQL (tests/pgserver.py).

- Three instances, 30 boards, posts arriving; one instance killed with kill -9 at random
  moments ten times (restarted each time), then one killed for good. Every post reaches the
  fake Bot API (duplicates at most one per kill); the simulator never sees two polls of a
  board less than half an interval apart unless the first poller died in between (a
  takeover); the dead instance's boards are polled again within a lease plus two intervals.
- The stall: one instance SIGSTOPped past its lease while its polls are under way, then
  SIGCONTed. It records nothing stale: no board's last poll goes backwards, nothing is
  recorded twice, and it says that it lost the lease.

Each instance has its own config folder (feeds) and its own user_agent, by which the
simulator's request log tells the instances apart.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import TOKEN, run_relay, write_config

from relay.sim import BoardSimulator, SimBoard
from relay.sim.records import SimRequest

INTERVAL = 2.5  # seconds between two polls of a board
LEASE = 4.0  # seconds (renewed every 1.3 s: a loaded CI machine must not let live leases lapse)
CLAIM = 20.0  # seconds a dead instance's chats wait before another sends them (the least)


@dataclass
class Cluster:
    """The instances' configs and processes, and what the test did to them."""

    folder: Path
    configs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: list[tuple[str, datetime]] = field(default_factory=list)  # (slot, when)
    logs: list[Path] = field(default_factory=list)

    def start(self, slot: str) -> None:
        log = self.folder / f"{slot}-{len(self.logs)}.log"
        self.logs.append(log)
        env = dict(os.environ) | {"RELAY_TELEGRAM_TOKEN": TOKEN}
        with log.open("wb") as out:
            self.processes[slot] = subprocess.Popen(
                [sys.executable, "-m", "relay", "run", "-c", str(self.configs[slot])],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )

    def kill(self, slot: str) -> None:
        process = self.processes.pop(slot)
        process.send_signal(signal.SIGKILL)
        self.kills.append((slot, datetime.now(UTC)))
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def log_text(self, slot: str) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs if p.name.startswith(slot))


def _boards(sim: BoardSimulator, count: int) -> list[SimBoard]:
    boards = []
    for i in range(count):
        board = sim.add_board(f"b{i:02d}", "rhymix", page_size=10)
        for j in range(3):
            board.add_post(f"기존 {i}-{j}", "x", "<p>x</p>")
        boards.append(board)
    return boards


@pytest.fixture
def cluster_of(tmp_path: Path, sim: BoardSimulator, fakebot: Any, pg_url: str) -> Iterator[Any]:
    made: list[Cluster] = []

    def make(slots: str, boards: list[SimBoard]) -> Cluster:
        chats = ("@news", "@other", "-100200300")  # claimed per chat: spread over instances
        entries = [
            {"id": b.name, "url": b.list_url, "chat": chats[i % 3], "source": "list"}
            for i, b in enumerate(boards)
        ]
        configs = {}
        for slot in slots:
            folder = tmp_path / slot
            folder.mkdir()
            configs[slot] = write_config(
                folder,
                entries,
                state=pg_url,
                interval=f"{INTERVAL}s",
                lease=f"{LEASE}s",
                host_delay=0,
                user_agent=f"relay-test/{slot}",
                telegram={
                    "api_url": fakebot.api_url,
                    "per_chat_interval": 0.05,
                    "group_per_minute": 0,
                    "bot_per_second": 0,
                    "drain_timeout": "20s",
                    "claim": f"{CLAIM}s",
                },
            )
        seeded = run_relay(
            "once", "-c", str(configs[slots[0]]), env={"RELAY_TELEGRAM_TOKEN": TOKEN}
        )
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        cluster = Cluster(tmp_path, configs)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop_all()


def _polls(sim: BoardSimulator) -> dict[str, list[SimRequest]]:
    """Every list-page request per board, in arrival order."""
    polls: dict[str, list[SimRequest]] = {}
    for request in list(sim.requests):
        if request.list_page and request.board is not None:
            polls.setdefault(request.board, []).append(request)
    return polls


def _slot(request: SimRequest) -> str:
    return request.headers.get("User-Agent", "").rpartition("/")[2]


def _too_close(sim: BoardSimulator, kills: list[tuple[str, datetime]]) -> list[str]:
    """Pairs of polls of one board less than half an interval apart whose first poller did
    not die between them (a takeover is the one excuse)."""
    close = []
    for board, polls in _polls(sim).items():
        for first, second in zip(polls, polls[1:], strict=False):
            gap = (second.at - first.at).total_seconds()
            if gap >= INTERVAL / 2:
                continue
            died = any(s == _slot(first) and first.at <= k <= second.at for s, k in kills)
            if not died:
                close.append(
                    f"{board}: {_slot(first)} at {first.at:%H:%M:%S.%f} then {_slot(second)} "
                    f"{gap:.2f}s later"
                )
    return close


def _await_request_from(slot: str, sim: BoardSimulator) -> None:
    """Until a request of `slot` arrives (within 10 s), before it is answered."""
    start = len(sim.arrivals)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(agent.endswith(f"/{slot}") for _path, agent in sim.arrivals[start:]):
            return
        time.sleep(0.005)
    raise AssertionError(f"{slot} sent no request in 10 s")


def _held_by(url: str, process: subprocess.Popen[bytes]) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT board_id FROM leases WHERE owner LIKE %s AND expires > now()",
            (f"%-{process.pid}-%",),
        ).fetchall()
    return {row[0] for row in rows}


def _received(fakebot: Any) -> Counter[str]:
    return Counter(
        m.text.split("\n")[0].removeprefix("<b>").removesuffix("</b>") for m in fakebot.messages
    )


def _wait_for(titles: list[str], fakebot: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(_received(fakebot)[t] for t in titles):
            return
        time.sleep(0.3)


@pytest.mark.slow
def test_three_instances_with_kills_share_the_boards_and_lose_nothing(
    cluster_of: Any, sim: BoardSimulator, fakebot: Any, pg_url: str
) -> None:
    rng = random.Random(20261201)
    boards = _boards(sim, 30)
    cluster = cluster_of("ABC", boards)
    titles: list[str] = []

    def new_posts(count: int) -> None:
        for _ in range(count):
            board = rng.choice(boards)
            title = f"새 글 {len(titles)} {board.name}"
            board.add_post(title, "x", f"<p>{title}</p>")
            titles.append(title)

    def run_for(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            new_posts(1)
            time.sleep(min(0.4, max(0.0, end - time.monotonic())))

    for slot in "ABC":
        cluster.start(slot)
    run_for(4.0)
    for _ in range(10):  # kill -9 at random moments, restarted at once
        run_for(rng.uniform(0.5, 3.0))
        cluster.kill("A")
        cluster.start("A")
    run_for(2 * LEASE + 2 * INTERVAL)  # settled again
    dead = cluster.processes["C"]
    orphans = _held_by(pg_url, dead)
    cluster.kill("C")  # for good
    died = cluster.kills[-1][1]
    run_for(LEASE + 2 * INTERVAL + 1.0)
    new_posts(5)
    _wait_for(titles, fakebot, CLAIM + 15.0)  # the last killed one's chats: after its claims
    cluster.stop_all()

    close = _too_close(sim, cluster.kills)
    assert not close, f"{len(close)} polls too close outside a takeover: {close[:5]}"
    assert orphans, "the instance killed for good held no board: nothing was tested"
    within = died + timedelta(seconds=LEASE + 2 * INTERVAL)
    polls = _polls(sim)
    late = [
        b for b in orphans if not any(died < r.at <= within and _slot(r) != "C" for r in polls[b])
    ]
    assert not late, f"boards of the dead instance not polled again in time: {late}"
    received = _received(fakebot)
    lost = [t for t in titles if not received[t]]
    assert not lost, f"{len(lost)} of {len(titles)} posts never reached Telegram: {lost[:5]}"
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    kills = len(cluster.kills)
    assert duplicates <= kills, f"{duplicates} duplicate messages for {kills} kills"
    assert "Traceback" not in cluster.log_text("B"), cluster.log_text("B")[-3000:]


@pytest.mark.slow
def test_a_stalled_instance_records_nothing_stale_after_it_resumes(
    cluster_of: Any, sim: BoardSimulator, fakebot: Any, pg_url: str
) -> None:
    boards = _boards(sim, 10)
    cluster = cluster_of("AB", boards)
    for board in boards:  # every request takes a while: the stall catches polls mid-way
        board.slow_delay = 0.3  # (one host: an instance's requests go one at a time)
        board.fault_next("slow", 10_000)
    cluster.start("A")
    cluster.start("B")
    seen: dict[str, datetime] = {}
    backwards: list[str] = []

    def watch(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with psycopg.connect(pg_url) as conn:
                rows = conn.execute("SELECT id, last_poll FROM boards").fetchall()
            for board_id, last_poll in rows:
                if last_poll is None:
                    continue
                before = seen.get(board_id)
                if before is not None and last_poll < before:
                    backwards.append(f"{board_id}: {before} -> {last_poll}")
                seen[board_id] = max(last_poll, before or last_poll)
            time.sleep(0.1)

    watch(6.0)  # both hold boards and poll them
    stalled = cluster.processes["A"]
    held = _held_by(pg_url, stalled)
    assert held, "A holds no board: nothing would be stalled"
    status = run_relay("status", "-c", str(cluster.configs["B"]))
    line = next(x for x in status.stdout.splitlines() if f"-{stalled.pid}-" in x)
    assert "alive" in line and any(f"{b} (" in line for b in held), status.stdout
    _await_request_from("A", sim)  # its answer takes 0.3 s: the stall catches a poll mid-way
    stalled.send_signal(signal.SIGSTOP)
    watch(LEASE + 2 * INTERVAL)  # past the lease: B takes A's boards
    stalled.send_signal(signal.SIGCONT)
    titles = []
    for board in boards:
        title = f"멈춤 뒤 {board.name}"
        board.add_post(title, "x", f"<p>{title}</p>")
        titles.append(title)
    watch(3 * INTERVAL)
    _wait_for(titles, fakebot, 20.0)
    cluster.stop_all()

    assert not backwards, f"a stale poll was recorded: {backwards}"
    with psycopg.connect(pg_url) as conn:
        twice = conn.execute(
            "SELECT board_id, post_id, count(*) FROM deliveries "
            "GROUP BY board_id, post_id, chat HAVING count(*) > 1"
        ).fetchall()
    assert not twice, f"posts recorded twice: {twice}"
    received = _received(fakebot)
    assert all(received[t] == 1 for t in titles), received
    log = cluster.log_text("A")
    assert "lease lost, poll not recorded" in log, log[-3000:]
