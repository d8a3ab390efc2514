"""The throwaway PostgreSQL server the state tests start (tests/pgserver.py) really serves:
initdb, pg_ctl, a query over loopback, and nothing left behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import need_program
from pgserver import need_postgres, postgres_server


@pytest.mark.slow
def test_a_throwaway_server_answers_on_loopback_and_is_removed(tmp_path: Path) -> None:
    need_postgres()
    psql = need_program("psql", "postgresql-client")
    folder = tmp_path / "pg"
    with postgres_server(folder) as url:
        assert url.startswith("postgresql://relay@127.0.0.1:")
        answer = subprocess.run(
            [psql, url, "-Atc", "select 40 + 2"], capture_output=True, text=True, timeout=30
        )
        assert answer.stdout.strip() == "42", answer.stderr
    assert not folder.exists()
