"""The crash guarantee: `kill -9` at any moment loses no post; each crash causes at most one
duplicate message. Real processes, a real board simulator and a fake Bot API over loopback."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import TOKEN, run_relay, write_config

from relay.sim import BoardSimulator, SimBoard


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items()} | {"RELAY_TELEGRAM_TOKEN": TOKEN}
    return subprocess.Popen(
        [sys.executable, "-m", "relay", *args],
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _check(board: SimBoard, fakebot: Any, announced_titles: list[str], kills: int) -> None:
    received = Counter(
        m.text.split("\n")[0].removeprefix("<b>").removesuffix("</b>") for m in fakebot.messages
    )
    lost = [t for t in announced_titles if received[t] == 0]
    assert not lost, f"posts lost after {kills} kills: {lost}"
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    assert duplicates <= kills, f"{duplicates} duplicate messages for {kills} crashes"
    assert set(received) == set(announced_titles)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["once", "run"])
def test_kill_9_at_random_points_loses_nothing(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any, command: str
) -> None:
    rng = random.Random(20251123 + len(command))
    board = sim.add_board("news", "rhymix", page_size=10)
    for i in range(12):
        board.add_post(f"기존 {i}", "x", "<p>x</p>")
    path = write_config(
        tmp_path,
        [{"id": "news", "url": board.list_url, "chat": "@news", "max_pages": 10, "interval": "1s"}],
        telegram={
            "api_url": fakebot.api_url,
            "per_chat_interval": 0.2,
            "group_per_minute": 0,
            "drain_timeout": "20s",
        },
    )
    first = run_relay("once", "-c", str(path), env={"RELAY_TELEGRAM_TOKEN": TOKEN})
    assert first.returncode == 0, first.stderr
    announced: list[str] = []
    kills = 0
    deadline = time.monotonic() + 50
    cycle = 0
    while cycle < 12 and time.monotonic() < deadline:
        cycle += 1
        for _ in range(rng.randint(0, 6)):
            title = f"새 글 {len(announced)}"
            board.add_post(title, "x", f"<p>{title}</p>")
            announced.append(title)
        if rng.random() < 0.3 and len(board.posts) > 15:
            board.delete_post(sorted(p.id for p in board.posts)[2])  # shifts every number
        process = _spawn(command, "-c", str(path))
        try:
            process.wait(timeout=rng.uniform(0.1, 1.2))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
    final = run_relay(
        "--log-level",
        "DEBUG",
        "once",
        "-c",
        str(path),
        env={"RELAY_TELEGRAM_TOKEN": TOKEN},
        timeout=90,
    )
    assert final.returncode == 0, final.stdout + final.stderr
    assert kills >= 3, "the test must actually crash the relay several times"
    _check(board, fakebot, announced, kills)


def _titles(text: str) -> list[str]:
    """The posts one message carries: a post's bold first line, or a digest's linked lines."""
    lines = re.findall(r'^• <a href="[^"]*">([^<]*)</a>$', text, flags=re.M)
    return lines or [text.split("\n")[0].removeprefix("<b>").removesuffix("</b>")]


@pytest.mark.slow
def test_kill_9_with_routes_filters_and_digests_loses_nothing_per_route(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any
) -> None:
    rng = random.Random(20251201)
    board = sim.add_board("news", "rhymix", page_size=10)
    for i in range(12):
        board.add_post(f"기존 {i}", "x", "<p>x</p>")
    routes = [
        {"chat": "@news", "digest_over": 4},
        {"chat": "@other", "include": ["짝"]},
        {"chat": "@other", "message_thread_id": 9, "exclude": ["짝"], "digest_over": 3},
    ]
    path = write_config(
        tmp_path,
        [{"id": "news", "url": board.list_url, "routes": routes, "max_pages": 10}],
        telegram={
            "api_url": fakebot.api_url,
            "per_chat_interval": 0.2,
            "group_per_minute": 0,
            "drain_timeout": "20s",
        },
    )
    first = run_relay("once", "-c", str(path), env={"RELAY_TELEGRAM_TOKEN": TOKEN})
    assert first.returncode == 0, first.stderr
    wanted: dict[tuple[str, int | None], list[str]] = {
        ("@news", None): [],
        ("@other", None): [],
        ("@other", 9): [],
    }
    kills = 0
    deadline = time.monotonic() + 50
    for _ in range(12):
        if time.monotonic() > deadline:
            break
        for _ in range(rng.randint(0, 8)):
            title = f"새 글 {sum(map(len, wanted.values()))} {'짝' if rng.random() < 0.5 else '홀'}"
            board.add_post(title, "x", f"<p>{title}</p>")
            wanted[("@news", None)].append(title)
            wanted[("@other", None) if "짝" in title else ("@other", 9)].append(title)
        process = _spawn("run", "-c", str(path))
        try:
            process.wait(timeout=rng.uniform(0.1, 1.2))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
    final = run_relay("once", "-c", str(path), env={"RELAY_TELEGRAM_TOKEN": TOKEN}, timeout=90)
    assert final.returncode == 0, final.stdout + final.stderr
    assert kills >= 3, "the test must actually crash the relay several times"
    duplicates = 0
    for destination, titles in wanted.items():
        seen: Counter[str] = Counter()
        for message in fakebot.messages:
            if (message.chat_id, message.message_thread_id) != destination:
                continue
            carried = _titles(message.text)
            duplicates += any(seen[t] for t in carried)
            seen.update(carried)
        assert set(seen) == set(titles), f"{destination} after {kills} kills"
    assert duplicates <= kills, f"{duplicates} duplicate messages for {kills} crashes"
    assert any(len(_titles(m.text)) > 1 for m in fakebot.messages), "no digest was sent"
