"""Issue 9, finding 5: slow clients must not exhaust the service's file descriptors.

Reproduced at the time: 1,100 half-sent requests at a limit of 1,024 descriptors made /healthz
time out, board fetches and feed writes fail with EMFILE, and asyncio log accept errors at
20,000 lines a second; the half-sent requests were never closed.

Here the listener runs in a child process (tests/listener_child.py) whose RLIMIT_NOFILE is 256,
and this test opens more half-sent connections than that. Then the child's descriptors are
exhausted on purpose, so that accept() itself fails with EMFILE while clients queue. Each step
checks what a user would see: /healthz answers quickly (and the child can still open the 32
files a poll needs), every half-sent connection is closed by the listener after the request
timeout, queued clients are answered once descriptors are back, and the log holds a handful of
lines, not a flood.
"""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relay.adapters.files import write_atomically

CHILD = Path(__file__).with_name("listener_child.py")
NOFILE = 256
ATTACKERS = 400  # more connections than the child may have descriptors
REQUEST_TIMEOUT = 1.0
ACCEPT_PAUSE = 0.5
HALF_SENT = b"GET /feeds/ranknews.atom HTTP/1.1\r\nHost: x\r\nUser-Agent: slow"


class Child:
    """The listener process: commands on stdin, one answer line each on stdout."""

    def __init__(self, feed: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(feed), str(NOFILE), str(REQUEST_TIMEOUT)]
            + [str(ACCEPT_PAUSE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()
        kind, self.url = self.line().split()
        assert kind == "url"

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._lines.put(line.strip())

    def line(self, timeout: float = 10) -> str:
        return self._lines.get(timeout=timeout)

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.line()

    def stats(self) -> dict[str, int]:
        return dict(json.loads(self.ask("stats")))

    def stop(self) -> str:
        """Quit; the whole log the child wrote."""
        _, err = self.proc.communicate("quit\n", timeout=10)
        assert self.proc.returncode == 0, err
        return err

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").split(":")
        return host, int(port)


@pytest.fixture
def child(tmp_path: Path) -> Iterator[Child]:
    feed = tmp_path / "ranknews.atom"
    write_atomically(feed, b"<feed/>")
    started = Child(feed)
    try:
        yield started
    finally:
        if started.proc.poll() is None:
            started.proc.kill()
            started.proc.communicate()


def open_half_sent(address: tuple[str, int], count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(address, timeout=5)
        try:
            sock.sendall(HALF_SENT)
        except OSError:  # evicted already, before the bytes went out: it still counts
            pass
        sockets.append(sock)
    return sockets


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return sock.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def healthz(url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(f"{url}/healthz", timeout=2)
    return response, time.monotonic() - started


def test_half_sent_requests_beyond_the_descriptor_limit_leave_the_service_its_descriptors(
    child: Child,
) -> None:
    attackers = open_half_sent(child.address, ATTACKERS)
    try:
        response, took = healthz(child.url)
        assert response.status_code == 200, response.text  # ok: 32 more files could be opened
        assert took < 1.5
        stats = child.stats()
        assert stats["cap"] == NOFILE // 4
        assert stats["peak"] <= stats["cap"] + 1
        deadline = time.monotonic() + REQUEST_TIMEOUT + 3
        still_open = [s for s in attackers if not closed_by_server(s, deadline)]
        assert still_open == []
        assert child.stats()["open"] == 0
    finally:
        for sock in attackers:
            sock.close()
    log = child.stop().splitlines()
    assert len(log) <= 3, log
    assert [line for line in log if "the cap" in line] == log[:1]


def test_accept_failing_with_emfile_pauses_logs_once_and_recovers(child: Child) -> None:
    assert child.ask("exhaust").startswith("exhausted ")
    queued = [socket.create_connection(child.address, timeout=5) for _ in range(20)]
    try:
        for sock in queued:  # the kernel queues them; the child cannot accept them yet
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(ACCEPT_PAUSE * 6)
        assert child.ask("release") == "released"
        answers = []
        for sock in queued:
            sock.settimeout(5)
            answers.append(sock.recv(4096))
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers
        failures = child.stats()["accept_failures"]
        assert 3 <= failures <= 10  # one try per pause, not one per tick
    finally:
        for sock in queued:
            sock.close()
    response, took = healthz(child.url)
    assert response.status_code == 200 and took < 1.5
    log = child.stop().splitlines()
    failed = [line for line in log if "accept failed" in line]
    assert len(failed) == 1 and "Too many open files" in failed[0], log
    assert [line for line in log if "accepting again" in line] == [
        f"INFO relay.service.listener: listener: accepting again after {failures} failed accepts"
    ]
    assert len(log) == 2, log
