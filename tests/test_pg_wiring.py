"""The composition root on each kind of state: a PostgreSQL state gets this instance's claims
and a sender paced through the database, and hands the claims back when the parts close; a
SQLite state gets neither, so a single relay sends exactly as it did before claims."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import TOKEN, make_config
from pgclaims import queue, sql

from relay.adapters.courier import Courier
from relay.entry.wiring import assemble
from relay.pipeline.shared_pace import SharedPaceSender
from relay.sim import BoardSimulator


def _config(tmp_path: Path, sim: BoardSimulator, fakebot: Any, **relay: Any) -> Any:
    board = sim.add_board("b", "rhymix")
    return make_config(
        tmp_path,
        [{"id": "b", "url": board.list_url, "chat": "@news"}],
        telegram={"api_url": fakebot.api_url},
        **relay,
    )


async def test_a_shared_state_claims_and_hands_the_claims_back_at_a_clean_stop(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any, pg_url: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("RELAY_TELEGRAM_TOKEN", TOKEN)
    config = _config(tmp_path, sim, fakebot, state=pg_url)
    async with assemble(config, dry_run=False, strict_telegram=True) as parts:
        assert isinstance(parts.sender, SharedPaceSender) and parts.claims is not None
        queue(pg_url, [("@news", "1")])
        assert [d.post_id for d in parts.claims.claim()] == ["1"]
        assert sql(pg_url, "SELECT count(*) FROM deliveries WHERE claimed_by IS NULL") == [(0,)]
    assert sql(pg_url, "SELECT claimed_by FROM deliveries") == [(None,)]


async def test_a_state_of_its_own_claims_nothing_and_keeps_the_courier_as_it_is(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("RELAY_TELEGRAM_TOKEN", TOKEN)
    config = _config(tmp_path, sim, fakebot)
    async with assemble(config, dry_run=False, strict_telegram=True) as parts:
        assert type(parts.sender) is Courier and parts.claims is None


async def test_a_dry_run_on_a_shared_state_takes_no_chat_from_the_instances_that_send(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any, pg_url: str
) -> None:
    config = _config(tmp_path, sim, fakebot, state=pg_url)
    async with assemble(config, dry_run=True, strict_telegram=True) as parts:
        assert parts.claims is None and parts.dry_run
