"""Routes in the config file: the shorthand, board and global tables, and errors that name
the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.core.config import config_from_dict
from relay.core.errors import ConfigError
from relay.core.routes import MessageFormat

BOARD = {"id": "news", "url": "http://x/"}
# A custom layout with no category selector: its reader gives no 말머리.
CUSTOM = {**BOARD, "engine": "custom", "selectors": {"row": "tr"}}


def load(tmp_path: Path, raw: dict[str, object]):  # type: ignore[no-untyped-def]
    return config_from_dict(raw, tmp_path / "config.toml")


def test_the_chat_shorthand_is_one_route_equal_to_its_table(tmp_path: Path) -> None:
    short = load(tmp_path, {"boards": [{**BOARD, "chat": "@news", "message_thread_id": 4}]})
    table = load(
        tmp_path, {"boards": [{**BOARD, "routes": [{"chat": "@news", "message_thread_id": 4}]}]}
    )
    assert short.boards[0].routes == table.boards[0].routes
    assert [r.key for r in short.boards[0].routes] == ["@news#4"]
    assert short.sends and table.sends
    assert not load(tmp_path, {"boards": [BOARD]}).sends


def test_global_routes_and_telegram_digest_over_reach_every_named_board(tmp_path: Path) -> None:
    raw = {
        "telegram": {"digest_over": 10},
        "boards": [{**BOARD, "chat": "@news"}, {"id": "two", "url": "http://y/"}],
        "routes": [{"boards": ["news", "two"], "chat": "@all", "format": "photo"}],
    }
    config = load(tmp_path, raw)
    news, two = (b.routes for b in config.boards)
    assert [r.key for r in news] == ["@news", "@all"] and [r.key for r in two] == ["@all"]
    assert all(r.digest_over == 10 for r in (*news, *two))
    assert two[0].format is MessageFormat.PHOTO


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"boards": [{**BOARD, "routes": [{"chat": "@a", "colour": 1}]}]},
            r'boards\[0\] \(id "news"\): routes\[0\]\.colour: unknown key',
        ),
        (
            {"boards": [{**BOARD, "routes": [{"chat": "@a", "include": ["re:(?<=x)y"]}]}]},
            r"routes\[0\]\.include\[0\]",
        ),
        (
            {"boards": [{**CUSTOM, "routes": [{"chat": "@a", "categories": ["핫딜"]}]}]},
            "preset has no category field",
        ),
        (
            {"boards": [BOARD], "routes": [{"boards": ["nope"], "chat": "@a"}]},
            r"routes\[0\]\.boards\[0\]: no board with id 'nope'",
        ),
        (
            {"boards": [{**BOARD, "chat": "@a", "routes": [{"chat": "@a"}]}]},
            'both send to chat "@a"',
        ),
    ],
)
def test_a_bad_route_is_a_config_error_naming_its_key(
    tmp_path: Path, raw: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, raw)


def test_min_comments_is_accepted_where_the_preset_reads_comments(tmp_path: Path) -> None:
    config = load(tmp_path, {"boards": [{**BOARD, "routes": [{"chat": "@a", "min_comments": 3}]}]})
    assert config.boards[0].routes[0].thresholds.min_comments == 3
