"""deploy/: the systemd unit is valid and hardened, and the deployed config fits the unit.

`systemd-analyze verify` and `systemd-analyze security --offline=yes` run on the real unit file
when systemd-analyze is installed (skipped otherwise); the rest reads the files and needs
nothing. All of it takes well under a second.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "relay.service"
CONFIG = DEPLOY / "config.toml"
README = DEPLOY / "README.md"
VENV_RELAY = "/opt/board-relay/bin/relay"

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (not a systemd host)"
)


def directives(text: str) -> dict[str, dict[str, list[str]]]:
    """Section -> key -> values in order (keys such as SystemCallFilter= repeat)."""
    result: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            result.setdefault(section, {})
            continue
        key, _, value = line.partition("=")
        result[section].setdefault(key.strip(), []).append(value.strip())
    return result


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return directives(UNIT.read_text(encoding="utf-8"))["Service"]


@pytest.fixture(scope="module")
def config() -> dict[str, object]:
    with CONFIG.open("rb") as f:
        return tomllib.load(f)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=30, check=False)


# --- The unit, read as text ----------------------------------------------------------------

REQUIRED = {
    "Type": "notify",
    "NotifyAccess": "main",
    "WatchdogSec": "60",
    "Restart": "on-failure",
    "DynamicUser": "yes",
    "StateDirectory": "board-relay",
    "ConfigurationDirectory": "board-relay",
    "LoadCredential": "telegram-token:/etc/board-relay/telegram-token",
    "UMask": "0022",
    "TimeoutStopSec": "15",
    "ExecReload": "/bin/kill -HUP $MAINPID",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "NoNewPrivileges": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
}


@pytest.mark.parametrize(("key", "value"), sorted(REQUIRED.items()))
def test_unit_sets(service: dict[str, list[str]], key: str, value: str) -> None:
    assert service.get(key) == [value], f"{key}= in {UNIT.name}"


def test_unit_starts_the_venv_script_with_the_config_from_configuration_directory(
    service: dict[str, list[str]],
) -> None:
    assert service["ExecStart"] == [f"{VENV_RELAY} run -c ${{CONFIGURATION_DIRECTORY}}/config.toml"]


def test_unit_filters_system_calls_to_a_service_set(service: dict[str, list[str]]) -> None:
    assert "@system-service" in service["SystemCallFilter"]


def test_unit_has_a_memory_cap_and_a_restart_pause(service: dict[str, list[str]]) -> None:
    assert re.fullmatch(r"\d+[KMG]", service["MemoryMax"][0])
    assert int(service["RestartSec"][0]) > 0


def test_unit_leaves_the_service_descriptors_beyond_the_listeners_cap(
    service: dict[str, list[str]],
) -> None:
    """One number sets soft and hard alike (systemd's default soft limit is 1024), and it is
    large enough that the listener's default cap is not cut to a quarter of it: the other
    three quarters or more stay for polls, the state and Telegram."""
    from relay.service.listener import ListenerLimits

    (value,) = service["LimitNOFILE"]
    assert value.isdigit(), f"LimitNOFILE={value}: one number, soft and hard"
    limit = int(value)
    default = ListenerLimits()
    assert default.fitted(limit) == default
    assert limit >= 4 * default.max_connections and limit > 1024


def test_every_service_directive_has_a_comment_saying_why() -> None:
    in_service = False
    previous = ""
    bare = []
    for number, raw in enumerate(UNIT.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if line.startswith("["):
            in_service = line == "[Service]"
        elif in_service and line and not line.startswith("#") and not previous.startswith("#"):
            bare.append(f"{UNIT.name}:{number}: {line}")
        if line:
            previous = line
    assert bare == []


def test_the_entry_point_the_unit_runs_is_the_one_pip_installs() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert PurePosixPath(VENV_RELAY).name in scripts


# --- systemd's own checks -------------------------------------------------------------------


@needs_analyze
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    """verify also checks that ExecStart's program exists, and /opt/board-relay is not installed
    here. So verify a copy whose ExecStart names an executable that exists (this Python), which
    checks everything else; then require that the real file's only complaint, if any, is that
    missing program."""
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(VENV_RELAY, sys.executable))
    checked = run("verify", "--man=no", os.fspath(copy))
    assert checked.returncode == 0, checked.stderr
    assert [line for line in checked.stderr.splitlines() if UNIT.name in line] == []

    real = run("verify", "--man=no", os.fspath(UNIT))
    complaints = [line for line in real.stderr.splitlines() if UNIT.name in line]
    if Path(VENV_RELAY).exists():
        assert real.returncode == 0, real.stderr
        assert complaints == []
    else:
        assert complaints == [
            f"{UNIT.name}: Command {VENV_RELAY} is not executable: No such file or directory"
        ]


def _supports_offline() -> bool:
    return ANALYZE is not None and "--offline" in run("--help").stdout


OVERALL = re.compile(r"Overall exposure level for \S+: (\d+\.\d) (\w+)")
GOOD_RATINGS = {"OK", "SAFE", "PERFECT"}  # exposure below 5.0 (MEDIUM starts at 5.0)


@needs_analyze
def test_systemd_analyze_security_rates_the_unit_ok_or_better() -> None:
    if not _supports_offline():
        pytest.skip("systemd-analyze security --offline needs systemd 250 or newer")
    result = run("security", "--offline=yes", "--no-pager", os.fspath(UNIT))
    assert result.returncode == 0, result.stderr
    match = OVERALL.search(result.stdout)
    assert match, result.stdout
    exposure, rating = float(match.group(1)), match.group(2)
    assert rating in GOOD_RATINGS and exposure < 5.0, match.group(0)
    # --threshold is on the 0-100 scale: 49 is 4.9, the last "OK".
    limited = run("security", "--offline=yes", "--threshold=49", os.fspath(UNIT))
    assert limited.returncode == 0


# Checks the unit must pass whatever the systemd version: a removed line shows up by name.
MUST_PASS = [
    "ProtectSystem=",
    "ProtectHome=",
    "PrivateTmp=",
    "PrivateDevices=",
    "PrivateUsers=",
    "NoNewPrivileges=",
    "MemoryDenyWriteExecute=",
    "CapabilityBoundingSet=~CAP_SYS_ADMIN",
    "RestrictNamespaces=~user",
    "RestrictAddressFamilies=~AF_PACKET",
    "RestrictAddressFamilies=~AF_NETLINK",
    "SystemCallFilter=~@privileged",
    "SystemCallFilter=~@mount",
    "SystemCallArchitectures=",
    "User=/DynamicUser=",
    "NotifyAccess=",
]


@needs_analyze
def test_systemd_analyze_security_passes_each_claimed_check() -> None:
    if not _supports_offline():
        pytest.skip("systemd-analyze security --offline needs systemd 250 or newer")
    result = run("security", "--offline=yes", "--json=short", os.fspath(UNIT))
    assert result.returncode == 0, result.stderr
    checks = {item["name"]: item for item in json.loads(result.stdout)}
    failing = [name for name in MUST_PASS if name in checks and checks[name]["exposure"]]
    assert failing == []


# --- The deployed config --------------------------------------------------------------------


def test_config_writes_only_inside_the_state_directory(
    config: dict[str, object], service: dict[str, list[str]]
) -> None:
    """Relative paths would resolve against /etc/board-relay, read-only under ProtectSystem."""
    relay = config["relay"]
    assert isinstance(relay, dict)
    state_dir = PurePosixPath("/var/lib") / service["StateDirectory"][0]
    for key in ("state", "feeds_dir"):
        path = PurePosixPath(relay[key])
        assert path.is_absolute(), f"[relay] {key}"
        assert path.is_relative_to(state_dir), f"[relay] {key} = {path} is outside {state_dir}"


def test_config_reads_the_token_from_the_credential_the_unit_loads(
    config: dict[str, object], service: dict[str, list[str]]
) -> None:
    name = service["LoadCredential"][0].partition(":")[0]
    telegram = config["telegram"]
    assert isinstance(telegram, dict)
    assert telegram["token_file"] == f"${{CREDENTIALS_DIRECTORY}}/{name}"


def test_config_listens_on_loopback_only(config: dict[str, object]) -> None:
    http = config["http"]
    assert isinstance(http, dict)
    assert str(http["listen"]).startswith("127.0.0.1:")


def test_config_loads_as_the_service_would_load_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from relay.core.config import load_config

    monkeypatch.setenv("CREDENTIALS_DIRECTORY", "/run/credentials/relay.service")
    loaded = load_config(CONFIG)
    assert loaded.token_file == Path("/run/credentials/relay.service/telegram-token")
    assert loaded.state == Path("/var/lib/board-relay/state.db")
    assert [(b.id, b.engine, b.title, b.chat) for b in loaded.boards] == [
        ("ranknews", "rhymix", "랭크뉴스", "@your_channel")
    ]
    assert loaded.warnings == ()


def test_readme_proxies_to_the_configured_listener(config: dict[str, object]) -> None:
    http = config["http"]
    assert isinstance(http, dict)
    text = README.read_text(encoding="utf-8")
    assert f"proxy_pass http://{http['listen']}" in text  # nginx
    assert f"reverse_proxy {http['listen']}" in text  # Caddy
