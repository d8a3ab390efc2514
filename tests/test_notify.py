"""relay.service.notify speaks sd_notify: the exact datagrams reach a real AF_UNIX socket.

Each test binds a SOCK_DGRAM socket where systemd would (a path in tmp_path, or an abstract
name), points $NOTIFY_SOCKET at it and reads back what arrived, byte for byte.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relay.service import notify

# Linux's sun_path holds 108 bytes; pytest's tmp_path for a long test name can exceed it.
SUN_PATH_MAX = 107


class Manager:
    """The service manager's end: a bound datagram socket and the $NOTIFY_SOCKET naming it."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env = {"NOTIFY_SOCKET": env_value}

    def received(self) -> list[bytes]:
        """Every datagram queued so far, in order (waits briefly for the first)."""
        got: list[bytes] = []
        self.sock.settimeout(1.0)
        try:
            got.append(self.sock.recv(65536))
        except TimeoutError:
            return got
        self.sock.setblocking(False)
        while True:
            try:
                got.append(self.sock.recv(65536))
            except BlockingIOError:
                return got


@pytest.fixture
def path_manager(tmp_path: Path) -> Iterator[Manager]:
    path = tmp_path / "notify.sock"
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        pytest.skip(f"tmp_path too long for an AF_UNIX address: {path}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(os.fspath(path))
        yield Manager(sock, os.fspath(path))


@pytest.fixture
def abstract_manager() -> Iterator[Manager]:
    name = f"board-relay-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        yield Manager(sock, "@" + name)


@pytest.fixture(params=["path", "abstract"])
def manager(request: pytest.FixtureRequest) -> Manager:
    fixture = "path_manager" if request.param == "path" else "abstract_manager"
    result: Manager = request.getfixturevalue(fixture)
    return result


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        (notify.ready, b"READY=1"),
        (notify.stopping, b"STOPPING=1"),
        (notify.watchdog, b"WATCHDOG=1"),
    ],
    ids=["ready", "stopping", "watchdog"],
)
def test_each_helper_sends_exactly_its_one_line(
    manager: Manager, send: Callable[..., bool], expected: bytes
) -> None:
    assert send(environ=manager.env) is True
    assert manager.received() == [expected]


def test_notify_sends_the_state_verbatim_as_one_datagram(manager: Manager) -> None:
    assert notify.notify("READY=1\nSTATUS=3 boards", environ=manager.env) is True
    assert manager.received() == [b"READY=1\nSTATUS=3 boards"]


def test_notify_reads_notify_socket_from_the_process_environment(
    path_manager: Manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", path_manager.env["NOTIFY_SOCKET"])
    assert notify.ready() is True
    assert path_manager.received() == [b"READY=1"]


def test_successive_calls_arrive_as_separate_datagrams_in_order(manager: Manager) -> None:
    notify.ready(environ=manager.env)
    notify.watchdog(environ=manager.env)
    notify.stopping(environ=manager.env)
    assert manager.received() == [b"READY=1", b"WATCHDOG=1", b"STOPPING=1"]


def test_status_is_utf8_and_a_newline_cannot_start_a_second_assignment(manager: Manager) -> None:
    assert notify.status("랭크뉴스: 3 new\nREADY=1", environ=manager.env) is True
    assert manager.received() == ["STATUS=랭크뉴스: 3 new READY=1".encode()]


def test_reloading_carries_the_monotonic_clock_in_microseconds(manager: Manager) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notify.reloading(environ=manager.env) is True
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    [datagram] = manager.received()
    first, second = datagram.decode().split("\n")
    assert first == "RELOADING=1"
    key, _, value = second.partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after


@pytest.mark.parametrize(
    "env",
    [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "@"}, {"NOTIFY_SOCKET": "relative/notify.sock"}],
    ids=["unset", "empty", "bare-at", "relative-path"],
)
def test_no_usable_socket_is_a_quiet_no_op(env: dict[str, str]) -> None:
    assert notify.notify("READY=1", environ=env) is False
    assert notify.watchdog(environ=env) is False


def test_unset_in_the_process_environment_returns_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify.ready() is False


def test_a_socket_nobody_listens_on_returns_false_instead_of_raising(tmp_path: Path) -> None:
    gone = tmp_path / "gone.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(os.fspath(gone))
    # The file is still there but nothing reads it any more: ECONNREFUSED.
    assert notify.ready(environ={"NOTIFY_SOCKET": os.fspath(gone)}) is False
    assert notify.ready(environ={"NOTIFY_SOCKET": os.fspath(tmp_path / "missing.sock")}) is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 60.0),
        ({"WATCHDOG_USEC": "1500000"}, 1.5),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "<self>"}, 60.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "<other>"}, None),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "abc"}, None),
        ({}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "60s"}, None),
    ],
    ids=[
        "sixty-seconds",
        "fractional",
        "pid-is-ours",
        "pid-is-a-parent-not-us",
        "pid-malformed",
        "unset",
        "empty",
        "zero-means-off",
        "negative",
        "not-a-number",
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    pids = {"<self>": str(os.getpid()), "<other>": str(os.getpid() + 1)}
    resolved = {key: pids.get(value, value) for key, value in env.items()}
    assert notify.watchdog_interval(environ=resolved) == expected


def test_watchdog_interval_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert notify.watchdog_interval() == 30.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert notify.watchdog_interval() is None
