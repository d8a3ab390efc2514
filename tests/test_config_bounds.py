"""Config values that would pass a loose check and crash (or misbehave) later are config errors.

Each case is a value a user could write: the error names the table or board and the key, and
the CLI exits 2 before anything starts (issue 9, finding 8 and the interval part of 11).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_relay

from relay.core.config import load_config
from relay.core.durations import parse_duration
from relay.core.errors import ConfigError

BOARD = '[[boards]]\nid = "ranknews"\nurl = "http://127.0.0.1:9/ranknews"\n'
SECOND = '[[boards]]\nid = "other"\nurl = "http://127.0.0.1:9/other"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return str(caught.value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("nan", "is not a finite duration"),
        ("inf", "is not a finite duration"),
        ("-inf", "is not a finite duration"),
        ("1e308", "is over the maximum of 7d"),
        ('"99999999999999d"', "is over the maximum of 7d"),
        ('"8d"', "is over the maximum of 7d"),
        ('"1ms"', "is below the minimum of 1s"),
        ("0.5", "is below the minimum of 1s"),
        ("0", "is not a positive duration"),
        ("true", "is not a duration"),
    ],
)
def test_board_interval_must_be_finite_at_least_a_second_at_most_a_week(
    tmp_path: Path, value: str, reason: str
) -> None:
    message = error_of(tmp_path, BOARD + f"interval = {value}\n")
    assert 'boards[0] (id "ranknews"): interval' in message and reason in message


def test_default_interval_is_bounded_too(tmp_path: Path) -> None:
    message = error_of(tmp_path, "[relay]\ninterval = nan\n" + BOARD)
    assert "[relay]: interval" in message and "finite" in message


def test_interval_bounds_are_inclusive(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, BOARD + 'interval = "7d"\n')).boards[0].interval == 604800
    config = load_config(write(tmp_path, BOARD + 'interval = "1s"\n'))
    assert config.boards[0].interval == 1
    assert any("impolite" in w for w in config.warnings)  # the below-10s warning stays


@pytest.mark.parametrize(
    ("table", "line", "reason"),
    [
        ("relay", 'timeout = "1h"', "is over the maximum of 10m"),
        ("relay", "timeout = 0", "is not a positive duration"),
        ("relay", "timeout = nan", "finite"),
        ("relay", 'host_delay = "1h"', "is over the maximum of 10m"),
        ("relay", "host_delay = -1", "is not a positive duration"),
        ("relay", 'lease = "1s"', "is below the minimum of 2s"),
        ("relay", 'lease = "2h"', "is over the maximum of 1h"),
        ("relay", "lease = nan", "finite"),
        ("telegram", 'drain_timeout = "2d"', "is over the maximum of 1d"),
        ("telegram", "drain_timeout = inf", "finite"),
        ("telegram", "per_chat_interval = 3600", "is over the maximum of 1m"),
        ("telegram", "per_chat_interval = nan", "finite"),
    ],
)
def test_timeouts_and_delays_are_bounded(
    tmp_path: Path, table: str, line: str, reason: str
) -> None:
    key = line.split(" ")[0]
    message = error_of(tmp_path, f"[{table}]\n{line}\n" + BOARD)
    assert f"[{table}]: {key} " in message and reason in message


def test_host_delay_zero_means_no_delay(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[relay]\nhost_delay = 0\n" + BOARD))
    assert config.host_delay == 0
    assert load_config(write(tmp_path, '[relay]\nhost_delay = "0s"\n' + BOARD)).host_delay == 0


def test_duration_units_and_bounds_in_one_place() -> None:
    assert parse_duration("1h30m") == 5400 and parse_duration(" 2 m ") == 120
    assert parse_duration(90) == 90 and parse_duration("250ms", maximum=1) == 0.25
    assert parse_duration(0, zero=True) == 0
    with pytest.raises(ValueError, match="over the maximum of 1m30s"):
        parse_duration("91s", maximum=90)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("5 minutes")
    with pytest.raises(ValueError, match="finite"):
        parse_duration("9" * 400)  # a string of digits that float() reads as inf


def test_a_huge_value_is_not_echoed_back_whole(tmp_path: Path) -> None:
    message = error_of(tmp_path, BOARD + f'interval = "{"9" * 100_000}x"\n')
    assert "interval" in message and len(message) < 400


@pytest.mark.parametrize("nesting", ["a = " + "[" * 900 + "]" * 900, "a = " + "{b = " * 600])
def test_deeply_nested_toml_is_a_config_error(tmp_path: Path, nesting: str) -> None:
    message = error_of(tmp_path, nesting + "\n" + BOARD)
    assert "nested too deeply" in message


def test_a_nested_value_is_shown_short(tmp_path: Path) -> None:
    message = error_of(tmp_path, BOARD + "interval = " + "[" * 300 + "]" * 300 + "\n")
    assert 'boards[0] (id "ranknews"): interval' in message and len(message) < 400


def test_two_boards_writing_one_feed_file_is_an_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, BOARD + SECOND + 'feed = "ranknews.atom"\n')
    assert 'boards[1] (id "other"): feed "ranknews.atom"' in message
    assert 'boards[0] (id "ranknews")' in message
    both = error_of(tmp_path, BOARD + 'feed = "x.atom"\n' + SECOND + 'feed = "x.atom"\n')
    assert 'feed "x.atom"' in both


@pytest.mark.parametrize("value", ["true", "false", "1.5", "[1]", '"news"', '"@"', '"@a b"', '""'])
def test_a_chat_is_a_name_or_a_number_not_a_boolean(tmp_path: Path, value: str) -> None:
    message = error_of(tmp_path, BOARD + f"chat = {value}\n")
    assert 'boards[0] (id "ranknews"): chat' in message and "is not a chat" in message
    admin = error_of(tmp_path, f"[relay]\nadmin_chat = {value}\n" + BOARD)
    assert "[relay]: admin_chat" in admin and "is not a chat" in admin


def test_an_integer_chat_becomes_its_decimal_string(tmp_path: Path) -> None:
    text = "[relay]\nadmin_chat = 42\n" + BOARD + "chat = -1001234567890\n"
    config = load_config(write(tmp_path, text))
    assert config.boards[0].chat == "-1001234567890" and config.admin_chat == "42"
    named = load_config(write(tmp_path, BOARD + 'chat = "@news_channel"\n'))
    assert named.boards[0].chat == "@news_channel"


@pytest.mark.parametrize(
    "relay",
    [
        'state = "feeds/state.db"',
        'state = "feeds/deeper/state.db"',
        'state = "web/../feeds/state.db"',
        'feeds_dir = "."',
        'feeds_dir = "/srv"\nstate = "/srv/relay/state.db"',
    ],
)
def test_state_inside_feeds_dir_is_refused(tmp_path: Path, relay: str) -> None:
    message = error_of(tmp_path, f"[relay]\n{relay}\n" + BOARD)
    assert "[relay]: state" in message and "inside feeds_dir" in message


def test_state_beside_feeds_dir_is_fine(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[relay]\nstate = "feeds-state.db"\n' + BOARD))
    assert config.state == tmp_path / "feeds-state.db" and config.feeds_dir == tmp_path / "feeds"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("excerpt_chars = true", "excerpt_chars"),
        ('max_pages = "5"', "max_pages"),
        ('notices = "yes"', "notices"),
        ("message_thread_id = true", "message_thread_id"),
        ('feed_url = "javascript:alert(1)"', "feed_url"),
    ],
)
def test_values_of_the_wrong_type_are_not_coerced(tmp_path: Path, line: str, key: str) -> None:
    message = error_of(tmp_path, BOARD + line + "\n")
    assert f'boards[0] (id "ranknews"): {key}' in message


def test_a_user_agent_httpx_cannot_send_is_refused(tmp_path: Path) -> None:
    for value in ['"릴레이/1.0"', '"a\\nb"', '""']:
        message = error_of(tmp_path, f"[relay]\nuser_agent = {value}\n" + BOARD)
        assert "[relay]: user_agent" in message and "printable ASCII" in message


def test_max_rows_defaults_from_relay_and_can_be_set_per_board(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BOARD + SECOND + "max_rows = 40\n"))
    assert config.max_rows == 500
    assert [b.max_rows for b in config.boards] == [500, 40]
    config = load_config(write(tmp_path, "[relay]\nmax_rows = 100\n" + BOARD))
    assert config.max_rows == 100 and config.boards[0].max_rows == 100
    assert "[relay]: max_rows" in error_of(tmp_path, "[relay]\nmax_rows = 0\n" + BOARD)
    message = error_of(tmp_path, BOARD + "max_rows = 0\n")
    assert 'boards[0] (id "ranknews"): max_rows' in message


def test_the_cli_exits_2_naming_the_key(tmp_path: Path) -> None:
    result = run_relay("check", "-c", str(write(tmp_path, BOARD + "interval = nan\n")))
    assert result.returncode == 2
    assert 'boards[0] (id "ranknews"): interval "nan" is not a finite duration' in result.stderr
    assert "Traceback" not in result.stderr
