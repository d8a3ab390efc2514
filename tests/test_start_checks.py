"""What must fail before a board is polled: a board with a chat and no token anywhere (not
after its posts were recorded as announced), and config errors that say their key once."""

from __future__ import annotations

from pathlib import Path

from conftest import run_relay, write_config

from relay.sim import BoardSimulator


def test_a_chat_without_a_token_fails_before_polling(tmp_path: Path, sim: BoardSimulator) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("글", "작성자", "<p>본문</p>")
    path = write_config(tmp_path, [{"id": "news", "url": board.list_url, "chat": "@news"}])
    result = run_relay("once", "-c", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no Telegram token" in result.stderr
    assert board.requests == []  # the board was never asked
    assert not (tmp_path / "state.db").exists()  # nothing recorded as announced


def test_a_bad_template_names_its_key_once(tmp_path: Path) -> None:
    entry = {"id": "news", "url": "http://127.0.0.1:9/news", "template": "{title:.20}"}
    result = run_relay("check", "-c", str(write_config(tmp_path, [entry])))
    assert result.returncode == 2
    assert "template" in result.stderr and "template: template" not in result.stderr
