"""Which changes a reload cannot apply: named, so that SIGHUP never ignores one in silence."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.core.config import Config, HttpTable, RelayTable, TelegramTable, load_config
from relay.core.reload import FIRST_CHAT, RESTART_ONLY, restart_only_changes

BOARD = '[[boards]]\nid = "ranknews"\nurl = "http://127.0.0.1:9/ranknews"\n'


def config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(
    ("table", "line", "named"),
    [
        ("relay", 'state = "other.db"', "[relay] state"),
        ("relay", 'user_agent = "other/1.0"', "[relay] user_agent"),
        ("relay", 'timeout = "10s"', "[relay] timeout"),
        ("relay", "host_delay = 0", "[relay] host_delay"),
        ("relay", "max_page_bytes = 2048", "[relay] max_page_bytes"),
        ("relay", "concurrency = 4", "[relay] concurrency"),
        ("telegram", 'api_url = "http://127.0.0.1:9"', "[telegram] api_url"),
        ("telegram", 'token_file = "token"', "[telegram] token_file"),
        ("telegram", "dry_run = true", "[telegram] dry_run"),
        ("telegram", "per_chat_interval = 0", "[telegram] per_chat_interval"),
        ("telegram", "group_per_minute = 5", "[telegram] group_per_minute"),
        ("telegram", "bot_per_second = 5", "[telegram] bot_per_second"),
        ("http", 'listen = "127.0.0.1:8081"', "[http] listen"),
    ],
)
def test_a_key_read_only_at_start_is_named(
    tmp_path: Path, table: str, line: str, named: str
) -> None:
    old = config(tmp_path, BOARD)
    new = config(tmp_path, f"[{table}]\n{line}\n" + BOARD)
    assert restart_only_changes(old, new) == (named,)
    assert restart_only_changes(new, new) == ()


def test_changes_a_reload_applies_are_not_named(tmp_path: Path) -> None:
    old = config(tmp_path, '[relay]\nadmin_chat = "@admin"\n' + BOARD + 'chat = "@news"\n')
    new = config(
        tmp_path,
        '[relay]\ninterval = "5m"\ntimezone = "UTC"\nalarm_after = 9\nmax_rows = 50\n'
        'feeds_dir = "public"\n'
        'admin_chat = "@other"\n[telegram]\ndrain_timeout = "1m"\n'
        + BOARD
        + 'chat = "@elsewhere"\ntitle = "새 제목"\n'
        + '[[boards]]\nid = "added"\nurl = "http://127.0.0.1:9/added"\n',
    )
    assert new != old and new.boards[0] != old.boards[0]
    assert restart_only_changes(old, new) == ()


def test_the_first_chat_needs_a_restart_the_bot_is_connected_at_start(tmp_path: Path) -> None:
    feeds_only = config(tmp_path, BOARD)
    sending = config(tmp_path, BOARD + 'chat = "@news"\n')
    assert restart_only_changes(feeds_only, sending) == (FIRST_CHAT,)
    assert restart_only_changes(sending, feeds_only) == ()  # a bot with nothing to send: fine


def test_several_changes_are_all_named_in_the_tables_order(tmp_path: Path) -> None:
    old = config(tmp_path, BOARD)
    new = config(tmp_path, '[relay]\nstate = "b.db"\n[http]\nlisten = "127.0.0.1:1"\n' + BOARD)
    assert restart_only_changes(old, new) == ("[relay] state", "[http] listen")


def test_every_listed_key_is_named_with_its_own_table() -> None:
    tables = {"relay": RelayTable, "telegram": TelegramTable, "http": HttpTable}
    for table, key in RESTART_ONLY:
        assert key in tables[table].model_fields, (table, key)
