"""`relay preview` as a user meets it: a help page that explains the selector keys, and on a
layout no preset knows, the board's rows suggested first (not the sidebar's)."""

from __future__ import annotations

from conftest import run_relay

from relay.core.engines import SELECTOR_KEYS
from relay.core.preview import SELECTOR_HELP
from relay.sim import BoardSimulator


def test_preview_help_describes_the_command_and_every_selector_key() -> None:
    result = run_relay("preview", "--help")
    assert result.returncode == 0
    out = result.stdout
    assert "Fetch one page of a board" in out
    assert "ranks the" in out and "main content" in out
    for key in SELECTOR_KEYS:
        assert SELECTOR_HELP.get(key), f"selector key {key!r} has no description"
        assert any(line.split()[:1] == [key] for line in out.splitlines())
        assert SELECTOR_HELP[key] in " ".join(out.split())


def test_every_described_key_is_a_selector_key() -> None:
    assert set(SELECTOR_HELP) <= set(SELECTOR_KEYS)


def test_preview_on_an_unknown_layout_suggests_the_board_rows_first(sim: BoardSimulator) -> None:
    board = sim.add_board("free", "gnuboard")
    for i in range(6):
        board.add_post(f"진짜 게시글 {i}", "홍길동", "<p>x</p>")
    result = run_relay("preview", board.list_url, "--engine", "custom")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    first = out.index("1. row = ")
    second = out.index("2. row = ", first)
    assert "진짜 게시글 5" in out[first:second]
    assert "under 'aside'" in out[second:]
    assert "try: --selector 'row=#fboardlist tbody > tr'" in out
    again = run_relay(
        "preview", board.list_url, "--engine", "custom", "--selector", "row=#fboardlist tbody > tr"
    )
    assert "6 posts parsed" in again.stdout
