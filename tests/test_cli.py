"""The command line as a user meets it: real processes, exit codes, readable output."""

from __future__ import annotations

from pathlib import Path

from atomcheck import assert_valid_atom
from conftest import run_relay, write_config

from relay import __version__
from relay.sim import BoardSimulator, SimBoard, seed_board


def entry(board: SimBoard, **extra: object) -> dict[str, object]:
    return {"id": board.name, "url": board.list_url, "engine": board.engine, **extra}


def test_version() -> None:
    result = run_relay("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_check_prints_a_table_per_board_and_exit_codes(tmp_path: Path, sim: BoardSimulator) -> None:
    seed = seed_board(sim, "ranknews")
    broken = sim.add_board("broken", "gnuboard")
    broken.add_post("x", "x", "<p>x</p>")
    broken.fault_next("zero_rows", count=5)
    path = write_config(tmp_path, [entry(seed, title="랭크뉴스"), entry(broken)])
    result = run_relay("check", "-c", str(path))
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "== ranknews: 랭크뉴스 (rhymix)" in out
    assert "SK하이닉스 ‘딥시크 타격’ 우려에" in out
    assert "공지" in out and "랭크뉴스" in out and "2025-02-05" in out
    assert "FAILED (layout)" in out and "row selector" in out
    assert not (tmp_path / "state.db").exists() and not (tmp_path / "feeds").exists()
    ok = run_relay("check", "-c", str(write_config(tmp_path, [entry(seed)])))
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_config_error_exits_2_naming_board_and_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, [{"id": "clien", "url": "http://x/", "interval": "5x"}])
    result = run_relay("check", "-c", str(path))
    assert result.returncode == 2
    assert 'boards[0] (id "clien"): interval "5x" is not a duration' in result.stderr


def test_config_defaults_to_env_then_cwd(tmp_path: Path, sim: BoardSimulator) -> None:
    board = sim.add_board("b", "rhymix")
    board.add_post("x", "x", "<p>x</p>")
    path = write_config(tmp_path, [entry(board)])
    assert run_relay("check", env={"RELAY_CONFIG": str(path)}).returncode == 0
    assert run_relay("check", cwd=tmp_path).returncode == 0
    (tmp_path / "elsewhere").mkdir()
    missing = run_relay("check", cwd=tmp_path / "elsewhere")
    assert missing.returncode == 2 and "no such config file" in missing.stderr


def test_preview_reports_what_each_selector_found(sim: BoardSimulator) -> None:
    board = sim.add_board("free", "gnuboard")
    for i in range(3):
        board.add_post(f"미리보기 {i}", "홍길동", "<p>본문</p>", comments=i)
    listing = run_relay("preview", board.list_url, "--engine", "gnuboard")
    assert listing.returncode == 0, listing.stderr
    assert "3 posts parsed" in listing.stdout and "미리보기 2" in listing.stdout
    assert "author" in listing.stdout and "found in 3 of 3 rows" in listing.stdout
    article = run_relay("preview", board.article_url(board.posts[0].id), "--engine", "gnuboard")
    assert "body '#bo_v_con': found" in article.stdout and "excerpt: 본문" in article.stdout


def test_preview_on_an_unknown_layout_points_at_the_links(sim: BoardSimulator) -> None:
    board = sim.add_board("free", "gnuboard")
    board.add_post("어디 있나", "x", "<p>x</p>")
    result = run_relay("preview", board.list_url, "--engine", "custom", "--selector", "row=li.post")
    assert "no post rows" in result.stdout
    assert "links that carry a post id" in result.stdout and "어디 있나" in result.stdout
    bad = run_relay("preview", board.list_url, "--selector", "row=tr[[[")
    assert bad.returncode == 2 and "row" in bad.stderr


def test_once_status_and_retry(tmp_path: Path, sim: BoardSimulator) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("하나", "x", "<p>x</p>")
    down = sim.add_board("down", "rhymix")
    down.fail_next(503, count=3)
    path = write_config(tmp_path, [entry(board), entry(down)])
    once = run_relay("once", "-c", str(path))
    assert once.returncode == 1
    assert "news: ok, 1 new" in once.stdout and "down: FAILED (http 503)" in once.stdout
    assert_valid_atom((tmp_path / "feeds" / "news.atom").read_bytes())
    assert not (tmp_path / "feeds" / "down.atom").exists()
    status = run_relay("status", "-c", str(path))
    assert "news" in status.stdout and "1 (http 503)" in status.stdout
    only = run_relay("once", "-c", str(path), "--board", "news")
    assert only.returncode == 0 and "down" not in only.stdout
    unknown = run_relay("once", "-c", str(path), "--board", "nope")
    assert unknown.returncode == 2 and 'no board with id "nope"' in unknown.stderr
    retry = run_relay("retry", "-c", str(path))
    assert retry.returncode == 0 and "0 failed deliveries" in retry.stdout


def test_demo_runs_the_whole_pipeline_on_the_embedded_board(tmp_path: Path) -> None:
    result = run_relay(
        "demo",
        "--dir",
        str(tmp_path / "demo"),
        "--port",
        "0",
        "--duration",
        "6",
        "--add-every",
        "2",
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "dry run: to @demo_channel" in result.stdout
    assert "데모:" in result.stdout  # a post added while it ran was announced
    feed = assert_valid_atom((tmp_path / "demo" / "feeds" / "demo.atom").read_bytes())
    assert len(feed.entries) >= 22
    fed = assert_valid_atom((tmp_path / "demo" / "feeds" / "demo-feed.atom").read_bytes())
    assert len(fed.entries) >= 6  # the board read from its RSS, with the posts added meanwhile
    assert "board=demo-feed" in result.stderr and "feed cannot be used" not in result.stderr


def test_demo_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "relay", "demo", "--dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "RELAY_TELEGRAM_TOKEN"},
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 20
    for line in process.stdout:
        lines.append(line)
        if "dry run: to @demo_channel" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=15)
    assert process.returncode == 0, "".join(lines) + out
    assert "stopped" in out and "Traceback" not in out


def test_status_says_per_chat_how_long_the_pace_needs_for_the_queue(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    """45 posts pending for one channel: at Telegram's 20 a minute that is about 2 minutes."""
    board = sim.add_board("news", "rhymix", page_size=60)
    for i in range(45):
        board.add_post(f"글 {i}", "x", "<p>x</p>")
    path = write_config(
        tmp_path,
        [entry(board) | {"chat": "@news", "backfill": 45}],
        telegram={"dry_run": True},
    )
    assert run_relay("once", "-c", str(path)).returncode == 0  # dry run: all stay pending
    status = run_relay("status", "-c", str(path))
    [row] = [line for line in status.stdout.splitlines() if line.startswith("@news")]
    assert row.split()[1] == "45" and row.split()[2] == "2m04s", status.stdout


def test_status_counts_pending_per_route_when_a_board_has_several(
    tmp_path: Path, sim: BoardSimulator
) -> None:
    """Two forum topics of one group and a channel: the chat table sums the topics, the route
    table tells them apart (the hot-deal topic takes only posts with 특가)."""
    board = sim.add_board("deals", "rhymix")
    for title in ("특가 하나", "그냥 글", "특가 둘"):
        board.add_post(title, "x", "<p>x</p>")
    routes = [
        {"chat": "-100200300", "message_thread_id": 3},
        {"chat": "-100200300", "message_thread_id": 5, "include": ["특가"]},
        {"chat": "@deals"},
    ]
    path = write_config(
        tmp_path,
        [entry(board, backfill=3, routes=routes)],
        telegram={"dry_run": True},
    )
    assert run_relay("once", "-c", str(path)).returncode == 0  # dry run: all stay pending
    status = run_relay("status", "-c", str(path)).stdout
    table = status.split("\n\n")
    [routes] = [part for part in table if part.startswith("board") and "route" in part.split()]
    per_route = [line.split() for line in routes.splitlines()[2:]]
    assert per_route == [
        ["deals", "-100200300#3", "3", "0"],
        ["deals", "-100200300#5", "2", "0"],
        ["deals", "@deals", "3", "0"],
    ], status
    [chat_row] = [line for line in status.splitlines() if line.startswith("-100200300")]
    assert chat_row.split()[1] == "5", status
