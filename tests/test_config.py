"""Config: every error names the board and the key; paths resolve against the file's folder."""

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from relay.core.config import (
    Config,
    HttpTable,
    RelayTable,
    TelegramTable,
    config_from_dict,
    load_config,
    load_token,
)
from relay.core.errors import ConfigError
from relay.core.message import MessageSettings
from relay.core.models import LinkPreview

BOARD = '[[boards]]\nid = "ranknews"\nurl = "http://127.0.0.1:9/ranknews"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return str(caught.value)


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BOARD))
    board = config.boards[0]
    assert config.interval == 120 and board.interval == 120
    assert board.feed_path == tmp_path / "feeds" / "ranknews.atom"
    assert config.state == tmp_path / "state.db"
    assert board.excerpt_chars == 200 and board.max_pages == 5 and board.feed_entries == 50
    assert board.chat is None and board.title == "ranknews"
    assert str(board.timezone) == "Asia/Seoul"


def test_example_config_is_valid() -> None:
    config = load_config(Path(__file__).parent.parent / "config.example.toml")
    assert [b.id for b in config.boards] == ["ranknews"]


def test_bad_interval_names_board_index_id_and_key(tmp_path: Path) -> None:
    text = (
        BOARD
        + '[[boards]]\nid = "b"\nurl = "http://x/"\n'
        + ('[[boards]]\nid = "clien"\nurl = "http://x/"\ninterval = "5x"\n')
    )
    message = error_of(tmp_path, text)
    assert 'boards[2] (id "clien"): interval "5x" is not a duration' in message


def test_unknown_key_is_an_error_not_ignored(tmp_path: Path) -> None:
    message = error_of(tmp_path, BOARD + 'intervall = "1m"\n')
    assert 'boards[0] (id "ranknews"): intervall: unknown key' in message
    assert "[relay]: stat: unknown key" in error_of(tmp_path, '[relay]\nstat = "x"\n' + BOARD)


def test_unknown_selector_key_is_an_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, BOARD + '[boards.selectors]\nrows = "tr"\n')
    assert "selectors.rows: unknown key" in message


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ('engine = "vbulletin"', "engine"),
        ("id_typo = 1", "id_typo"),
        ("excerpt_chars = -1", "excerpt_chars"),
        ('link_preview = "big"', "link_preview"),
        ('timezone = "Mars/Olympus"', "not a known time zone"),
        ('feed = "../escape.atom"', "inside feeds_dir"),
        ('template = "<b>{title}"', "template"),
        ('template = "{nope}"', "template"),
    ],
)
def test_bad_board_values_name_the_key(tmp_path: Path, extra: str, needle: str) -> None:
    message = error_of(tmp_path, BOARD + extra + "\n")
    assert 'boards[0] (id "ranknews")' in message and needle in message


def test_bad_id_url_and_duplicates(tmp_path: Path) -> None:
    assert "id" in error_of(tmp_path, '[[boards]]\nid = "Rank News"\nurl = "http://x/"\n')
    assert "url" in error_of(tmp_path, '[[boards]]\nid = "a"\nurl = "ftp://x/"\n')
    assert 'board id "ranknews" is used twice' in error_of(tmp_path, BOARD + BOARD)
    assert "boards: is required" in error_of(tmp_path, "[relay]\n")


def test_custom_engine_needs_a_row_selector(tmp_path: Path) -> None:
    assert "row" in error_of(tmp_path, BOARD + 'engine = "custom"\n')


def test_bad_css_and_regex_are_config_errors(tmp_path: Path) -> None:
    bad_css = error_of(tmp_path, BOARD + '[boards.selectors]\nrow = "tr[[["\n')
    assert 'boards[0] (id "ranknews")' in bad_css and "row" in bad_css
    two_groups = error_of(tmp_path, BOARD + '[boards.selectors]\nid_pattern = "(a)(b)"\n')
    assert "exactly one group" in two_groups


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid TOML" in error_of(tmp_path, "[relay\n")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")


def test_short_interval_warns_but_is_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BOARD + 'interval = "1s"\n'))
    assert config.boards[0].interval == 1
    assert any("impolite" in w and "ranknews" in w for w in config.warnings)


def test_preset_override_replaces_single_keys(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BOARD + '[boards.selectors]\ndate = "td.regdate"\n'))
    selectors = config.boards[0].selectors
    assert selectors.date == ("td.regdate",)
    assert "td.author" in selectors.author  # the rest of the rhymix preset stays


def test_token_from_env_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "token").write_text("123:file-token\n")
    monkeypatch.setenv("CREDS", str(tmp_path / "creds"))
    config = load_config(write(tmp_path, '[telegram]\ntoken_file = "${CREDS}/token"\n' + BOARD))
    monkeypatch.delenv("RELAY_TELEGRAM_TOKEN", raising=False)
    assert load_token(config) == "123:file-token"
    monkeypatch.setenv("RELAY_TELEGRAM_TOKEN", "456:env-token")
    assert load_token(config) == "456:env-token"


def test_missing_token_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAY_TELEGRAM_TOKEN", raising=False)
    config = load_config(write(tmp_path, '[telegram]\ntoken_file = "nope"\n' + BOARD))
    with pytest.raises(ConfigError, match="token_file"):
        load_token(config)


def test_template_errors_say_template_once(tmp_path: Path) -> None:
    message = error_of(tmp_path, BOARD + 'template = "{nope}"\n')
    assert 'boards[0] (id "ranknews"): template: unknown placeholder {nope}' in message
    assert "template: template" not in message


def test_config_is_frozen_and_compared_by_value(tmp_path: Path) -> None:
    first = load_config(write(tmp_path, BOARD))
    again = load_config(write(tmp_path, BOARD + 'title = "ranknews"\n'))  # the default, written
    assert first == again and hash(first) == hash(again)
    assert first.boards[0] == again.boards[0] and hash(first.boards[0]) == hash(again.boards[0])
    changed = load_config(write(tmp_path, BOARD + 'interval = "3m"\n'))
    assert changed.boards[0] != first.boards[0] and changed != first
    with pytest.raises(ValidationError, match="frozen"):
        first.boards[0].interval = 1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        first.state = tmp_path  # type: ignore[misc]


def test_the_tables_share_no_key_so_the_flat_config_loses_none() -> None:
    names = [set(t.model_fields) for t in (RelayTable, TelegramTable, HttpTable)]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    assert set().union(*names) <= set(Config.model_fields)


def test_paths_are_absolute_against_the_config_folder(tmp_path: Path) -> None:
    text = '[relay]\nstate = "/var/lib/relay/s.db"\nfeeds_dir = "out/../public"\n' + BOARD
    config = load_config(write(tmp_path, text + 'feed = "news.xml"\n'))
    assert config.state == Path("/var/lib/relay/s.db")
    assert config.feeds_dir == tmp_path / "public"
    assert config.boards[0].feed_path == tmp_path / "public" / "news.xml"
    assert config.path == tmp_path / "config.toml" and config.token_file is None


def test_board_defaults_come_from_relay(tmp_path: Path) -> None:
    text = '[relay]\ninterval = "3m"\ntimezone = "UTC"\n' + BOARD + 'engine = "xe"\ntitle = ""\n'
    board = load_config(write(tmp_path, text)).boards[0]
    assert board.interval == 180 and str(board.timezone) == "UTC"
    assert board.engine == "rhymix" and board.title == "ranknews"


def test_a_boards_message_settings_are_one_record(tmp_path: Path) -> None:
    text = (
        BOARD
        + 'title = "랭크뉴스"\ntimezone = "UTC"\nlink_preview = "image"\n'
        + 'disable_notification = true\nmessage_thread_id = 7\ntemplate = "<b>{title}</b>"\n'
    )
    board = load_config(write(tmp_path, text)).boards[0]
    assert board.message == MessageSettings(
        board_title="랭크뉴스",
        tz=ZoneInfo("UTC"),
        template="<b>{title}</b>",
        link_preview=LinkPreview.IMAGE,
        disable_notification=True,
        message_thread_id=7,
    )


def test_config_from_a_dict_validates_the_same(tmp_path: Path) -> None:
    raw = {"boards": [{"id": "a", "url": "http://x/", "interval": "5x"}]}
    with pytest.raises(ConfigError, match='boards\\[0\\] \\(id "a"\\): interval "5x"'):
        config_from_dict(raw, tmp_path / "c.toml")
    config = config_from_dict({"boards": [{"id": "a", "url": "http://x/"}]}, tmp_path / "c.toml")
    assert config.boards[0].feed_path == tmp_path / "feeds" / "a.atom"
    with pytest.raises(ConfigError, match="boards: needs at least one"):
        config_from_dict({"boards": []}, tmp_path / "c.toml")
