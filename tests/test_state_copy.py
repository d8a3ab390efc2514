"""`relay state copy`: an operator moves a real state from SQLite to PostgreSQL and back, and
the relay on the new state announces nothing again — every board, post, held post and
delivery (its seq, status, message id, edit) arrives as it was; a state already in the way
is refused unless --replace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import run_relay, write_config

from relay.adapters.copy import RowSource
from relay.adapters.postgres import PostgresState
from relay.adapters.sqlite import SqliteState
from relay.adapters.tables import TABLES
from relay.core.models import Post
from relay.core.state import PageChanges, PollIntent, Validators
from relay.core.state_url import parse_postgres_url
from relay.sim import BoardSimulator, SimBoard, seed_board

LATER = datetime(2025, 2, 5, 7, 0, tzinfo=UTC)


def every_row(state: RowSource) -> dict[str, list[tuple[object, ...]]]:
    with state.export_rows() as read:
        return {table.name: list(read(table)) for table in TABLES}


def entry(board: SimBoard, **extra: Any) -> dict[str, Any]:
    return {"id": board.name, "url": board.list_url, "engine": board.engine, **extra}


def boards(sim: BoardSimulator) -> list[dict[str, Any]]:
    news = seed_board(sim, "ranknews")
    free = sim.add_board("free", "gnuboard")
    for i in range(4):
        free.add_post(f"자유 {i}", "홍길동", "<p>본문</p>")
    return [entry(news, chat="@news", backfill=4), entry(free, chat="@other", backfill=3)]


def queue(state: SqliteState | PostgresState) -> list[tuple[object, ...]]:
    return [(d.seq, d.board_id, d.post_id, d.chat, d.attempts) for d in state.pending_deliveries()]


def test_a_real_state_moves_to_postgres_and_back_without_announcing_anything(
    tmp_path: Path, sim: BoardSimulator, pg_url: str
) -> None:
    entries = boards(sim)
    config = write_config(tmp_path, entries, telegram={"dry_run": True})
    first = run_relay("once", "-c", str(config))
    assert first.returncode == 0, first.stderr
    assert "ranknews: ok" in first.stdout and "free: ok, 4 new, 3 to announce" in first.stdout
    sqlite = SqliteState(tmp_path / "state.db")
    try:  # the queue in every state a delivery can be in
        sent, failed, waiting, *_ = sqlite.pending_deliveries()
        sqlite.mark_sent(sent.seq, LATER, 4242, "photo")
        sqlite.mark_failed(failed.seq, "Forbidden: bot was kicked")
        sqlite.mark_retry(waiting.seq, "flood: retry after 30 s", LATER + timedelta(hours=1))
        retitle = Post(sent.post_id, "http://x/", "고친 제목")
        changes = PageChanges(Validators(body_hash="other"), None, retitled=(retitle,))
        sqlite.apply_poll(sent.board_id, PollIntent(at=LATER, stamp=True, changes=changes))
        sqlite.set_alarmed("free", True)
        before, pending = every_row(sqlite), queue(sqlite)
    finally:
        sqlite.close()
    assert len(before["deliveries"]) >= 7 and before["posts"]

    moved = run_relay("state", "copy", str(tmp_path / "state.db"), pg_url)
    assert moved.returncode == 0, moved.stderr
    counts = f"{len(before['posts'])} posts, 0 held, {len(before['deliveries'])} deliveries"
    assert counts in moved.stdout
    pg = PostgresState(parse_postgres_url(pg_url))
    try:
        assert every_row(pg) == before
        assert [e.post_id for e in pg.pending_edits()] == [sent.post_id]
    finally:
        pg.close()

    on_pg = tmp_path / "on-pg"
    on_pg.mkdir()
    pg_config = write_config(on_pg, entries, telegram={"dry_run": True}, state=pg_url)
    again = run_relay("once", "-c", str(pg_config))
    assert again.returncode == 0, again.stderr
    assert "ranknews: ok, 0 new" in again.stdout and "free: ok, 0 new" in again.stdout
    pg = PostgresState(parse_postgres_url(pg_url))
    try:
        assert queue(pg) == pending
        after = every_row(pg)
    finally:
        pg.close()

    back = tmp_path / "back" / "state.db"
    home = run_relay("state", "copy", pg_url, str(back))
    assert home.returncode == 0, home.stderr
    sqlite = SqliteState(back)
    try:
        assert every_row(sqlite) == after and queue(sqlite) == pending
    finally:
        sqlite.close()


def polled_sqlite_state(tmp_path: Path, sim: BoardSimulator) -> str:
    """A SQLite state after one `relay once` of one board (dry run): its path."""
    config = write_config(tmp_path, boards(sim)[1:], telegram={"dry_run": True})
    assert run_relay("once", "-c", str(config)).returncode == 0
    return str(tmp_path / "state.db")


def test_a_target_that_holds_a_state_is_refused_unless_replace(
    tmp_path: Path, sim: BoardSimulator, pg_url: str
) -> None:
    source = polled_sqlite_state(tmp_path, sim)
    assert run_relay("state", "copy", source, pg_url).returncode == 0
    again = run_relay("state", "copy", source, pg_url)
    assert again.returncode == 1
    shown = pg_url.replace("relay@", "***@")  # the CLI redacts every URL's userinfo
    assert f"{shown}: already holds a state (1 boards, 4 posts)" in again.stderr
    assert "--replace" in again.stderr
    replaced = run_relay("state", "copy", source, pg_url, "--replace")
    assert replaced.returncode == 0, replaced.stderr
    into_sqlite = run_relay("state", "copy", pg_url, source)
    assert into_sqlite.returncode == 1 and f"{source}: already holds a state" in into_sqlite.stderr


def test_a_copy_into_a_state_relays_are_running_on_is_refused(
    tmp_path: Path, sim: BoardSimulator, pg_url: str
) -> None:
    """Even with --replace: a running relay would go on from what it holds in memory."""
    source = polled_sqlite_state(tmp_path, sim)
    opened = PostgresState(parse_postgres_url(pg_url))  # migrated: the instances table exists
    try:
        opened.database.query(
            "INSERT INTO instances (name, host, pid, started, seen) "
            "VALUES ('web-1-77-x', 'web-1', 77, now(), now()) RETURNING name"
        )
    finally:
        opened.close()
    refused = run_relay("state", "copy", source, pg_url, "--replace")
    assert refused.returncode == 1
    assert "relay instances are running on it (web-1:77)" in refused.stderr


def test_copy_arguments_are_checked_before_anything_is_opened(tmp_path: Path) -> None:
    missing = run_relay("state", "copy", str(tmp_path / "none.db"), str(tmp_path / "to.db"))
    assert missing.returncode == 1 and "no state file there to copy from" in missing.stderr
    assert not (tmp_path / "to.db").exists()
    same = run_relay("state", "copy", "a.db", "./a.db", cwd=tmp_path)
    assert same.returncode == 2 and "FROM and TO are the same state" in same.stderr
