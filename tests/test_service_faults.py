"""`relay run` meeting unlucky moments: wall-clock steps under libfaketime, stops mid-poll,
start-up failures. Real processes, the board simulator and the fake Bot API on loopback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import as_unprivileged, need_program, write_config
from test_daemon import Running, wait_for

from relay.sim import BoardSimulator, SimBoard


def list_polls(board: SimBoard, since: float) -> int:
    """List-page requests the simulator answered after `since` (monotonic)."""
    cutoff = time.time() - (time.monotonic() - since)
    return sum(
        1
        for r in board.requests
        if "document_srl" not in r.path and r.at.timestamp() >= cutoff and "/20" not in r.path
    )


def libfaketime() -> str:
    need_program("faketime", "faketime")
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    assert found, "libfaketime.so.1 not found after installing faketime"
    return str(found[0])


def faketime_env(offset_file: Path) -> dict[str, str]:
    """libfaketime for a child: its wall clock follows the offset in `offset_file` (re-read on
    every call), its monotonic clock is left alone — as with an NTP step."""
    return {
        "LD_PRELOAD": libfaketime(),
        "FAKETIME_TIMESTAMP_FILE": str(offset_file),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "DONT_FAKE_MONOTONIC": "1",
    }


def stepped_relay(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any, titles: list[str]
) -> tuple[Any, Path, Running]:
    """`relay run` under libfaketime (offset "+0" for now, in the returned file) on a board
    "news" polled every second, with these posts, sending to the fake Bot API."""
    board = sim.add_board("news", "rhymix")
    for title in titles:
        board.add_post(title, "x", "<p>본문</p>")
    offset_file = tmp_path / "faketime"
    offset_file.write_text("+0\n")
    path = write_config(
        tmp_path,
        [{"id": "news", "url": board.list_url, "chat": "@news", "interval": "1s"}],
        telegram={"api_url": fakebot.api_url, "per_chat_interval": 0},
    )
    return board, offset_file, Running(path, env=faketime_env(offset_file))


@pytest.mark.slow
@pytest.mark.parametrize("step", ["-3600", "+3600"])
def test_polling_survives_a_real_wall_clock_step(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any, step: str
) -> None:
    """The relay runs under libfaketime with the monotonic clock left alone (as with an NTP
    step); its wall clock jumps an hour back or forward while it runs. Polls must go on at
    the board's interval, a post added after the step must reach the chat, and no storm."""
    board, offset_file, running = stepped_relay(
        tmp_path, sim, fakebot, ["기존 0", "기존 1", "기존 2"]
    )
    try:
        wait_for(lambda: "running:" in running.log, what="start")
        wait_for(lambda: list_polls(board, 0.0) >= 2, what="the first polls")
        offset_file.write_text(f"{step}\n")
        wait_for(lambda: "wall clock stepped" in running.log, timeout=10, what="the step")
        stepped = time.monotonic()
        # Not stalled: polls go on after the step (a loaded machine may delay a few, so the
        # wait is generous)...
        wait_for(lambda: list_polls(board, stepped) >= 4, timeout=20, what="polls after the step")
        time.sleep(1.0)
        polls, elapsed = list_polls(board, stepped), time.monotonic() - stepped
        # ...and no storm: about one a second (the interval), never a burst of catch-up polls.
        assert polls <= elapsed * 1.5 + 2, (polls, elapsed)
        board.add_post("시계가 바뀐 뒤의 글", "x", "<p>x</p>")
        wait_for(
            lambda: any("시계가 바뀐 뒤의 글" in m.text for m in fakebot.messages),
            timeout=10,
            what="the post added after the step",
        )
        assert running.stop() < 10
        assert running.process.returncode == 0
    finally:
        running.kill()


def test_sigterm_during_a_long_poll_logs_no_error(tmp_path: Path, sim: BoardSimulator) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("기존", "x", "<p>본문</p>")
    board.slow_delay = 30.0
    path = write_config(tmp_path, [{"id": "news", "url": board.list_url, "interval": "1s"}])
    running = Running(path)
    try:
        wait_for(lambda: "running:" in running.log, what="start")
        time.sleep(1.5)
        board.fault_next("slow", count=10)
        time.sleep(2.0)
        assert running.stop() < 10
        assert running.process.returncode == 0
        assert "Traceback" not in running.log and "CancelledError" not in running.log
        assert " ERROR " not in running.log and "ERROR" not in running.log.split("stopping")[-1]
    finally:
        running.kill()


def test_a_busy_listen_address_is_one_clear_line_and_exit_1(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("기존", "x", "<p>본문</p>")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = write_config(
            tmp_path,
            [{"id": "news", "url": board.list_url}],
            http={"listen": f"127.0.0.1:{port}"},
        )
        done = subprocess.run(
            [sys.executable, "-m", "relay", "run", "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("relay:")]
    assert len(lines) == 1 and f"listen 127.0.0.1:{port}" in lines[0], done.stderr


def test_a_read_only_state_folder_is_one_clear_line_and_exit_1(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("기존", "x", "<p>본문</p>")
    folder = tmp_path / "ro"
    folder.mkdir()
    path = write_config(folder, [{"id": "news", "url": board.list_url}])
    folder.chmod(0o555)
    try:
        done = subprocess.run(
            as_unprivileged([sys.executable, "-m", "relay", "once", "-c", str(path)]),
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        folder.chmod(0o755)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("relay:")]
    assert len(lines) == 1 and str(folder) in lines[0], done.stderr


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_the_state_file_swapped_under_a_running_relay_stops_it(
    tmp_path: Path, sim: BoardSimulator, how: str
) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("기존", "x", "<p>본문</p>")
    path = write_config(tmp_path, [{"id": "news", "url": board.list_url, "interval": "1s"}])
    running = Running(path)
    try:
        wait_for(lambda: "board=news new=1" in running.log, what="the first poll")
        state = tmp_path / "state.db"
        if how == "deleted":
            state.unlink()
        else:
            state.rename(tmp_path / "old.db")
            state.write_bytes(b"")
        running.process.wait(timeout=15)
        assert running.process.returncode == 1
        assert f"the state file was {how}" in running.log
    finally:
        running.kill()


def test_deleting_the_lock_note_does_not_let_a_second_relay_in(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("기존", "x", "<p>본문</p>")
    path = write_config(tmp_path, [{"id": "news", "url": board.list_url, "interval": "1s"}])
    running = Running(path)
    try:
        wait_for(lambda: "running:" in running.log, what="start")
        for leftover in tmp_path.glob("*.lock"):
            leftover.unlink()
        second = subprocess.run(
            [sys.executable, "-m", "relay", "once", "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert "only one relay may run" in second.stderr
    finally:
        running.kill()


def test_a_reload_names_the_keys_that_wait_for_a_restart(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("기존", "x", "<p>본문</p>")
    boards = [{"id": "news", "url": board.list_url, "interval": "1s"}]
    path = write_config(tmp_path, boards)
    running = Running(path)
    try:
        wait_for(lambda: "running:" in running.log, what="start")
        write_config(tmp_path, boards, concurrency=3, user_agent="x/1", max_page_bytes=99999)
        running.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in running.log, what="the reload")
        for key in ("concurrency", "user_agent", "max_page_bytes"):
            assert f"reload: [relay] {key} changed; it takes effect after a restart" in running.log
    finally:
        running.kill()


def test_a_reloaded_feeds_dir_is_where_feeds_go_and_what_the_listener_serves(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("기존", "x", "<p>본문</p>")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    boards = [{"id": "news", "url": board.list_url, "interval": "1s"}]
    http = {"listen": f"127.0.0.1:{port}"}
    path = write_config(tmp_path, boards, http=http)
    running = Running(path)
    feed_url = f"http://127.0.0.1:{port}/feeds/news.atom"
    try:
        wait_for(lambda: (tmp_path / "feeds" / "news.atom").exists(), what="the first feed")
        write_config(tmp_path, boards, http=http, feeds_dir="public")
        running.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in running.log, what="the reload")
        assert "feeds_dir changed" not in running.log
        board.add_post("새 폴더로 가는 글", "x", "<p>x</p>")
        moved = tmp_path / "public" / "news.atom"
        wait_for(
            lambda: moved.exists() and "새 폴더로 가는 글" in moved.read_text(), what="new feed"
        )
        served = httpx.get(feed_url, timeout=5)
        assert served.status_code == 200 and "새 폴더로 가는 글" in served.text
    finally:
        running.kill()


@pytest.mark.parametrize("interval", ["nan", "99999999999999d", "1ms"])
def test_a_reload_with_a_value_that_would_crash_is_refused_whole_and_answers_ready(
    tmp_path: Path, sim: BoardSimulator, interval: str
) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("기존", "x", "<p>본문</p>")
    boards = [{"id": "news", "url": board.list_url, "interval": "1s"}]
    path = write_config(tmp_path, boards)
    address = str(tmp_path / "n.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(10)
    running = Running(path, env={"NOTIFY_SOCKET": address})
    try:
        received = [listener.recv(4096).decode()]
        assert "READY=1" in received[0]
        write_config(tmp_path, [boards[0] | {"interval": interval}])
        running.process.send_signal(signal.SIGHUP)
        while not any("RELOADING=1" in r for r in received):
            received.append(listener.recv(4096).decode())
        while "READY=1" not in received[-1]:
            received.append(listener.recv(4096).decode())
        wait_for(lambda: "reload refused" in running.log, what="the refusal")
        assert "interval" in running.log.split("reload refused")[1].splitlines()[0]
        polled = len(board.requests)
        wait_for(lambda: len(board.requests) > polled, what="polls going on")
        assert running.process.poll() is None and "Traceback" not in running.log
    finally:
        running.kill()
        listener.close()


@pytest.mark.slow
def test_a_retry_pending_across_a_step_back_is_sent_on_time(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any
) -> None:
    """A send failed (a malformed answer: backoff 5 s), then the wall clock steps back an
    hour: the retry must still go about 5 s later, not an hour later."""
    board, offset_file, running = stepped_relay(tmp_path, sim, fakebot, ["기존"])
    try:
        wait_for(lambda: "board=news new=1" in running.log, what="the first poll")
        fakebot.fail_next(200, raw=b"[1]")
        board.add_post("재시도될 글", "x", "<p>x</p>")
        wait_for(lambda: "retry in" in running.log, timeout=15, what="the failed send")
        offset_file.write_text("-3600\n")
        wait_for(
            lambda: any("재시도될 글" in m.text for m in fakebot.messages),
            timeout=20,
            what="the retried message",
        )
    finally:
        running.kill()


def test_a_hard_link_to_the_state_in_another_folder_does_not_let_a_second_relay_in(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("기존", "x", "<p>본문</p>")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    boards = [{"id": "news", "url": board.list_url, "interval": "1s"}]
    running = Running(write_config(first, boards))
    try:
        wait_for(lambda: "running:" in running.log, what="start")
        (second / "state.db").hardlink_to(first / "state.db")
        other = subprocess.run(
            [sys.executable, "-m", "relay", "once", "-c", str(write_config(second, boards))],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert other.returncode == 1
        assert "only one relay may run on a state file" in other.stderr
    finally:
        running.kill()
