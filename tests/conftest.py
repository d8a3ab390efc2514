"""Shared fixtures: the board simulator and the fake Bot API on loopback, configs on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from relay.core.config import Config, load_config
from relay.sim import BoardSimulator

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def sim() -> Iterator[BoardSimulator]:
    simulator = BoardSimulator()
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One throwaway PostgreSQL server per test session (per xdist worker): its URL. Tests
    take a state of their own on it (`pg_url`)."""
    from pgserver import postgres_server

    with postgres_server(tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    """A fresh, empty state on the session's server (a schema of its own)."""
    from pgserver import fresh_schema

    return fresh_schema(postgres_url)


@pytest.fixture
def fakebot() -> Iterator[Any]:
    from fakebot import FakeBot

    bot = FakeBot(token=TOKEN, chats=("@news", "@other", "-100200300", "@admin"))
    bot.start()
    try:
        yield bot
    finally:
        bot.stop()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def toml_text(
    relay: Mapping[str, Any],
    boards: list[Mapping[str, Any]],
    telegram: Mapping[str, Any] | None = None,
    http: Mapping[str, Any] | None = None,
    routes: list[Mapping[str, Any]] | None = None,
) -> str:
    lines = ["[relay]"] + [f"{k} = {_toml_value(v)}" for k, v in relay.items()]
    for name, section in (("telegram", telegram), ("http", http)):
        if section:
            lines += [f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in section.items()]
    for board in boards:
        lines.append("[[boards]]")
        tables = ("selectors", "routes")
        lines += [f"{k} = {_toml_value(v)}" for k, v in board.items() if k not in tables]
        if "selectors" in board:
            lines.append("[boards.selectors]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in board["selectors"].items()]
        for route in board.get("routes", []):  # [[boards.routes]]
            lines.append("[[boards.routes]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in route.items()]
    for route in routes or []:  # the global [[routes]]
        lines.append("[[routes]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in route.items()]
    return "\n".join(lines) + "\n"


def write_config(
    folder: Path,
    boards: list[Mapping[str, Any]],
    *,
    telegram: Mapping[str, Any] | None = None,
    http: Mapping[str, Any] | None = None,
    routes: list[Mapping[str, Any]] | None = None,
    **relay: Any,
) -> Path:
    """A config for tests: short timeouts, no politeness delay unless asked."""
    settings: dict[str, Any] = {"host_delay": "0.01s", "timeout": "5s", "interval": "1s"}
    settings.update(relay)
    path = folder / "config.toml"
    path.write_text(toml_text(settings, boards, telegram, http, routes), encoding="utf-8")
    return path


def make_config(folder: Path, boards: list[Mapping[str, Any]], **kwargs: Any) -> Config:
    return load_config(write_config(folder, boards, **kwargs))


def run_relay(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI in a fresh interpreter, as a user would."""
    full_env = {k: v for k, v in os.environ.items() if k != "RELAY_TELEGRAM_TOKEN"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "relay", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
    )


def need_program(name: str, package: str) -> str:
    """The path of a system program a test needs, installed with apt-get when it is missing
    (the machines run Debian and the tests run as root). Never a skip: a test that cannot get
    its program fails, so CI cannot pass with a feature untested."""
    import shutil

    found = shutil.which(name)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        return _apt_install(name, package)
    pytest.fail(f"{name} is needed (Debian package {package}) and could not be installed")


def _apt_install(name: str, package: str) -> str:
    """apt-get install under a file lock: parallel test workers (pytest-xdist) needing the
    same program would otherwise race for dpkg's lock, and one would fail."""
    import fcntl
    import shutil

    with open("/tmp/board-relay-tests-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = shutil.which(name)
        if found:  # another worker installed it while this one waited
            return found
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

        def apt(*args: str) -> int:
            done = subprocess.run(["apt-get", *args], capture_output=True, env=env, timeout=900)
            return done.returncode

        install = ("install", "-y", "--no-install-recommends", package)
        if apt(*install) != 0:  # the package lists may be missing or stale: update once
            apt("update")
            apt(*install)
        found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is needed (Debian package {package}) and could not be installed")
    return found


def as_unprivileged(command: list[str]) -> list[str]:
    """`command` run without root's power to write anywhere: as root, the child loses
    CAP_DAC_OVERRIDE and friends (setpriv), so a read-only folder is read-only to it."""
    if os.geteuid() != 0:
        return command
    caps = "-dac_override,-dac_read_search,-fowner"
    return [need_program("setpriv", "util-linux"), f"--bounding-set={caps}", *command]
