"""The bot token: a small regular file or the environment, of the Bot API's shape, never shown.

`token_file = "/dev/zero"` used to read until MemoryError, and a token with "/../" in it
changed the request path of every Bot API call (issue 9, finding 8).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import run_relay

from relay.core.config import Config, load_config, load_token
from relay.core.errors import ConfigError
from relay.core.token import MAX_TOKEN_FILE_BYTES

BOARD = '[[boards]]\nid = "ranknews"\nurl = "http://127.0.0.1:9/ranknews"\nchat = "@news"\n'
GOOD = "123456:AAbc-DEF_ghi"


@pytest.fixture(autouse=True)
def no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_TELEGRAM_TOKEN", raising=False)


def config_with_token_file(tmp_path: Path, token_file: Path | str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(f'[telegram]\ntoken_file = "{token_file}"\n' + BOARD, encoding="utf-8")
    return load_config(path)


def token_error(config: Config) -> str:
    with pytest.raises(ConfigError) as caught:
        load_token(config)
    return str(caught.value)


def test_a_token_file_is_read_and_stripped(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(f"  {GOOD}\n", encoding="utf-8")
    assert load_token(config_with_token_file(tmp_path, "token")) == GOOD


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_not_read_forever(tmp_path: Path, device: str) -> None:
    message = token_error(config_with_token_file(tmp_path, device))
    assert f"token_file {device}: is not a regular file" in message


def test_a_fifo_does_not_block_the_start(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")  # opening it for reading would wait for a writer forever
    message = token_error(config_with_token_file(tmp_path, "fifo"))
    assert "is not a regular file" in message


def test_a_directory_is_not_a_token_file(tmp_path: Path) -> None:
    (tmp_path / "creds").mkdir()
    assert "is not a regular file" in token_error(config_with_token_file(tmp_path, "creds"))


def test_a_large_file_is_not_a_token(tmp_path: Path) -> None:
    (tmp_path / "big").write_text(GOOD + "\n" + " " * MAX_TOKEN_FILE_BYTES, encoding="utf-8")
    message = token_error(config_with_token_file(tmp_path, "big"))
    assert f"larger than {MAX_TOKEN_FILE_BYTES} bytes" in message and GOOD not in message
    (tmp_path / "edge").write_text(GOOD.ljust(MAX_TOKEN_FILE_BYTES), encoding="utf-8")
    assert load_token(config_with_token_file(tmp_path, "edge")) == GOOD  # exactly the bound


@pytest.mark.parametrize(
    "bad",
    [
        "123456:abc/../../getUpdates",
        "123456:abc def",
        "abc:123456",
        "123456",
        ":abcdef",
        "123456:",
        '"123456:abcdef"',
        "123456:abc\n789:def",
        "123456:토큰",
    ],
)
def test_a_token_of_the_wrong_shape_is_refused_and_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    (tmp_path / "token").write_text(bad, encoding="utf-8")
    config = config_with_token_file(tmp_path, "token")
    from_file = token_error(config)
    assert "token_file" in from_file and "is not a bot token" in from_file
    monkeypatch.setenv("RELAY_TELEGRAM_TOKEN", bad)
    from_env = token_error(config)
    assert "RELAY_TELEGRAM_TOKEN is not a bot token" in from_env
    secret = bad.split(":")[-1].strip()
    for message in (from_file, from_env):
        assert bad.strip() not in message and (len(secret) < 4 or secret not in message)


def test_an_empty_or_binary_token_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    assert "is empty" in token_error(config_with_token_file(tmp_path, "empty"))
    (tmp_path / "binary").write_bytes(b"\xff\xfe123")
    assert "is not UTF-8 text" in token_error(config_with_token_file(tmp_path, "binary"))


def test_the_cli_refuses_a_bad_token_with_exit_2_without_printing_it(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BOARD, encoding="utf-8")
    bad = "123456:SECRETsecret/../x"
    result = run_relay("once", "-c", str(path), env={"RELAY_TELEGRAM_TOKEN": bad})
    assert result.returncode == 2, result.stderr
    assert "RELAY_TELEGRAM_TOKEN is not a bot token" in result.stderr
    assert "SECRETsecret" not in result.stdout + result.stderr
