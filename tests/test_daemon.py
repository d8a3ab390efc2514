"""`relay run` as systemd runs it: a real process, the simulator, the fake Bot API, signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from atomcheck import assert_valid_atom
from conftest import TOKEN, write_config

from relay.sim import BoardSimulator, SimBoard


def wait_for(check: Callable[[], Any], timeout: float = 15, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


class Running:
    """A `relay run` subprocess with its stderr collected."""

    def __init__(self, config: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.log_path = config.parent / f"relay-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115
        full_env = dict(os.environ) | {"RELAY_TELEGRAM_TOKEN": TOKEN} | (env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "relay", *extra, "run", "-c", str(config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=full_env,
            text=True,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> float:
        started = time.monotonic()
        self.process.send_signal(sig)
        self.process.wait(timeout=15)
        self._log.close()
        return time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def news(sim: BoardSimulator) -> SimBoard:
    board = sim.add_board("news", "rhymix")
    for i in range(5):
        board.add_post(f"기존 {i}", "x", "<p>본문</p>")
    return board


@pytest.fixture
def service(tmp_path: Path, news: SimBoard, fakebot: Any) -> Iterator[tuple[Running, str, Path]]:
    port = free_port()
    path = write_config(
        tmp_path,
        [{"id": "news", "url": news.list_url, "chat": "@news", "interval": "1s"}],
        telegram={"api_url": fakebot.api_url, "per_chat_interval": 0},
        http={"listen": f"127.0.0.1:{port}"},
        admin_chat="@admin",
        alarm_after=2,
    )
    running = Running(path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(base + "/healthz") is not None, what="the HTTP listener")
        yield running, base, path
    finally:
        running.kill()


def _get(url: str, **headers: str) -> httpx.Response | None:
    try:
        return httpx.get(url, headers=headers, timeout=2)
    except httpx.HTTPError:
        return None


def titles(fakebot: Any) -> list[str]:
    return [m.text.split("\n")[0] for m in fakebot.messages if m.chat_id == "@news"]


def test_posts_reach_the_feed_and_the_chat_within_an_interval(
    service: tuple[Running, str, Path], news: SimBoard, fakebot: Any
) -> None:
    running, base, _ = service
    wait_for(
        lambda: (r := _get(base + "/feeds/news.atom")) and r.status_code == 200,
        what="the first feed",
    )
    news.add_post("실시간 <새> 글", "x", "<p>x</p>")
    added = time.monotonic()
    wait_for(lambda: "<b>실시간 &lt;새&gt; 글</b>" in titles(fakebot), timeout=10)
    assert time.monotonic() - added < 1 + 1.5  # interval + jitter + sending
    feed = _get(base + "/feeds/news.atom")
    assert feed is not None and feed.status_code == 200
    parsed = assert_valid_atom(feed.content)
    assert parsed.entries[0].title == "실시간 <새> 글"
    cached = _get(base + "/feeds/news.atom", **{"If-None-Match": feed.headers["ETag"]})
    assert cached is not None and cached.status_code == 304
    health = _get(base + "/healthz")
    assert health is not None and health.status_code == 200
    metrics = _get(base + "/metrics")
    assert metrics is not None and 'relay_new_posts_total{board="news"}' in metrics.text
    assert 'relay_deliveries_total{board="news",result="sent"} 1.0' in metrics.text
    assert running.stop() < 10
    assert running.process.returncode == 0
    assert TOKEN not in running.log and TOKEN.split(":")[1] not in running.log
    assert "board=news new=1" in running.log


def test_sigterm_stops_within_seconds_even_mid_poll(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    news.slow_delay = 30.0
    path = write_config(tmp_path, [{"id": "news", "url": news.list_url, "interval": "1s"}])
    running = Running(path)
    try:
        wait_for(lambda: "running:" in running.log, what="start")
        time.sleep(1.5)
        news.fault_next("slow", count=10)  # the next poll hangs for 30 s
        time.sleep(1.5)
        assert running.stop() < 10
        assert running.process.returncode == 0 and "stopped" in running.log
    finally:
        running.kill()


def test_second_process_on_one_state_refuses_to_start(
    service: tuple[Running, str, Path],
) -> None:
    _, _, path = service
    second = subprocess.run(
        [sys.executable, "-m", "relay", "once", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ) | {"RELAY_TELEGRAM_TOKEN": TOKEN},
    )
    assert second.returncode == 1
    assert "only one relay may run on a state file" in second.stderr


def test_sighup_reloads_boards_and_keeps_the_old_config_when_the_new_is_bad(
    service: tuple[Running, str, Path], sim: BoardSimulator, fakebot: Any
) -> None:
    running, base, path = service
    later = sim.add_board("later", "gnuboard")
    later.add_post("나중에 추가된 게시판", "x", "<p>x</p>")
    path.write_text(
        path.read_text() + f'\n[[boards]]\nid = "later"\nurl = "{later.list_url}"\n'
        'engine = "gnuboard"\ninterval = "1s"\n',
        encoding="utf-8",
    )
    running.process.send_signal(signal.SIGHUP)
    wait_for(
        lambda: (r := _get(base + "/feeds/later.atom")) and r.status_code == 200,
        what="the added board's feed",
    )
    good = path.read_text()
    path.write_text(good.replace('interval = "1s"', 'interval = "soon"', 1), encoding="utf-8")
    running.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload refused" in running.log, what="the refusal")
    assert "interval" in running.log.split("reload refused")[1].split("\n")[0]
    assert running.process.poll() is None
    health = _get(base + "/healthz")
    assert health is not None and health.status_code == 200
    path.write_text(good.split('\n[[boards]]\nid = "later"')[0], encoding="utf-8")
    running.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "1 removed" in running.log, what="the removal")
    later.clear_requests()
    time.sleep(2.5)
    assert later.requests == []  # the removed board is no longer polled


def test_alarm_once_when_a_board_breaks_and_once_when_it_recovers(
    service: tuple[Running, str, Path], news: SimBoard, fakebot: Any
) -> None:
    running, base, _ = service
    wait_for(lambda: "board=news new=5" in running.log, what="the first poll")
    news.fail_next(500, count=4)
    wait_for(
        lambda: [m for m in fakebot.messages if m.chat_id == "@admin"], timeout=20, what="the alarm"
    )
    wait_for(lambda: "recovered" in running.log, timeout=30, what="the recovery")
    time.sleep(1.5)
    admin = [m.text for m in fakebot.messages if m.chat_id == "@admin"]
    assert len(admin) == 2, admin
    assert "news is failing" in admin[0] and "http 500" in admin[0]
    assert "news recovered" in admin[1]


def test_layout_change_alarms_at_once(
    service: tuple[Running, str, Path], news: SimBoard, fakebot: Any
) -> None:
    running, base, _ = service
    wait_for(lambda: "board=news new=5" in running.log, what="the first poll")
    news.fault_next("zero_rows", count=1)
    wait_for(lambda: [m for m in fakebot.messages if m.chat_id == "@admin"], what="the alarm")
    alarm = [m.text for m in fakebot.messages if m.chat_id == "@admin"][0]
    assert "layout" in alarm and "relay preview" in alarm


def test_systemd_ready_watchdog_and_stopping_notifications(tmp_path: Path, news: SimBoard) -> None:
    path = write_config(tmp_path, [{"id": "news", "url": news.list_url, "interval": "1s"}])
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(10)
    running = Running(path, env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"})
    try:
        received: list[str] = []
        while not any("WATCHDOG=1" in r for r in received):
            received.append(listener.recv(4096).decode())
        assert any("READY=1" in r for r in received)
        running.stop()
        while not any("STOPPING=1" in r for r in received):
            received.append(listener.recv(4096).decode())
    finally:
        running.kill()
        listener.close()


def test_unhealthy_when_a_board_has_not_succeeded_for_three_intervals(
    tmp_path: Path, news: SimBoard
) -> None:
    port = free_port()
    news.fail_next(503, count=1000)
    path = write_config(
        tmp_path,
        [{"id": "news", "url": news.list_url, "interval": "1s"}],
        http={"listen": f"127.0.0.1:{port}"},
    )
    running = Running(path)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: (r := _get(base + "/healthz")) and r.status_code == 503,
            timeout=15,
            what="an unhealthy answer",
        )
        answer = _get(base + "/healthz")
        assert answer is not None and "news" in answer.text and "http 503" in answer.text
    finally:
        running.kill()


def test_telegram_down_at_start_does_not_stop_the_feeds(tmp_path: Path, news: SimBoard) -> None:
    port = free_port()
    path = write_config(
        tmp_path,
        [{"id": "news", "url": news.list_url, "chat": "@news", "interval": "1s"}],
        telegram={"api_url": "http://127.0.0.1:9"},  # nothing listens there
        http={"listen": f"127.0.0.1:{port}"},
    )
    running = Running(path)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: (r := _get(base + "/feeds/news.atom")) and r.status_code == 200,
            what="the feed while Telegram is unreachable",
        )
        assert "telegram not reachable at start" in running.log
    finally:
        running.kill()


def test_wrong_token_stops_the_service_at_start(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    path = write_config(
        tmp_path,
        [{"id": "news", "url": news.list_url, "chat": "@news"}],
        telegram={"api_url": fakebot.api_url},
    )
    running = Running(path, env={"RELAY_TELEGRAM_TOKEN": "1:wrong-token-wrong-token-wrong"})
    try:
        assert running.process.wait(timeout=20) == 1
        assert "token was rejected" in running.log and "wrong-token" not in running.log
    finally:
        running.kill()
