"""Deliveries claimed once, for real: three `relay run` processes on one PostgreSQL state and a
queue of 120 deliveries to three chats; one of them is killed with kill -9 mid-burst several
times and started again. Every delivery reaches its chat, each chat's messages come oldest
first, and there is at most one duplicate per kill (the message in flight when it died).

Focused on delivery: the posts are queued before the instances start, so their polls find
nothing new (the polling side of several instances is tests/test_pg_instances.py's).
"""

from __future__ import annotations

import itertools
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import TOKEN, run_relay, write_config
from pgclaims import sql
from test_daemon import Running, wait_for

from relay.sim import BoardSimulator

CHATS = ("@news", "@other", "-100200300")
POSTS = 40


def _pending(url: str) -> int:
    return int(sql(url, "SELECT count(*) FROM deliveries WHERE status = 'pending'")[0][0])


@pytest.mark.slow
def test_kill_9_of_one_instance_among_three_loses_nothing_and_keeps_each_chat_s_order(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any, pg_url: str
) -> None:
    rng = random.Random(20261201)
    board = sim.add_board("news", "rhymix", page_size=50)
    for i in range(3):
        board.add_post(f"기존 {i}", "x", "<p>x</p>")
    path = write_config(
        tmp_path,
        [{"id": "news", "url": board.list_url, "routes": [{"chat": c} for c in CHATS]}],
        telegram={
            "api_url": fakebot.api_url,
            "per_chat_interval": 0.3,
            "group_per_minute": 0,
            "claim": "20s",
        },
        state=pg_url,
    )
    token = {"RELAY_TELEGRAM_TOKEN": TOKEN}
    first = run_relay("once", "-c", str(path), env=token)  # the first poll only records
    assert first.returncode == 0, first.stderr
    titles = [f"새 글 {i:02d}" for i in range(POSTS)]
    for title in titles:
        board.add_post(title, "x", f"<p>{title}</p>")
    queued = run_relay("once", "--dry-run", "-c", str(path), env=token)  # recorded, not sent
    assert queued.returncode == 0, queued.stderr
    assert _pending(pg_url) == POSTS * len(CHATS)

    fakebot.stall_next(0.1, count=10_000)  # Telegram's latency: a kill often hits a send
    instances = [Running(path) for _ in range(3)]
    kills = 0
    try:
        while kills < 5:
            time.sleep(rng.uniform(0.8, 2.0))
            if _pending(pg_url) < 15:
                break
            victim = rng.randrange(len(instances))
            instances[victim].process.send_signal(signal.SIGKILL)
            instances[victim].kill()
            kills += 1
            instances[victim] = Running(path)
        wait_for(lambda: _pending(pg_url) == 0, timeout=150, what="every delivery sent")
        for running in instances:
            assert running.stop() < 10 and running.process.returncode == 0, running.log
    finally:
        for running in instances:
            running.kill()
    assert kills >= 3, "the test must actually crash an instance several times"
    assert sql(pg_url, "SELECT count(*) FROM deliveries WHERE claimed_by IS NOT NULL") == [(0,)]

    duplicates = 0
    for chat in CHATS:
        mine = [m for m in fakebot.messages if m.chat_id == chat]
        got = [m.text.split("\n")[0].removeprefix("<b>").removesuffix("</b>") for m in mine]
        assert list(dict.fromkeys(got)) == titles, f"{chat}: lost or out of order"
        duplicates += sum(n - 1 for n in Counter(got).values())
        gaps = [b.time - a.time for a, b in itertools.pairwise(mine)]
        assert min(gaps) >= 0.3 * 0.95, f"{chat}: the pace broke across instances: {gaps}"
    assert duplicates <= kills, f"{duplicates} duplicate messages for {kills} kills"
    logs = "".join(r.log for r in instances)
    assert "Traceback" not in logs, logs
