"""`relay run` on a PostgreSQL state, as systemd runs it: a new post reaches the feed and the
chat, the status page and /healthz read the shared state, SIGTERM stops it cleanly, and its
log names the state without the password."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conftest import write_config
from test_daemon import Running, _get, free_port, titles, wait_for

from relay.sim import BoardSimulator


@pytest.mark.slow
def test_relay_run_on_postgres_polls_sends_and_serves(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any, pg_url: str
) -> None:
    news = sim.add_board("news", "rhymix")
    news.add_post("기존 글", "x", "<p>본문</p>")
    port = free_port()
    path = write_config(
        tmp_path,
        [{"id": "news", "url": news.list_url, "chat": "@news", "interval": "1s"}],
        telegram={"api_url": fakebot.api_url, "per_chat_interval": 0},
        http={"listen": f"127.0.0.1:{port}"},
        state=pg_url,
    )
    base = f"http://127.0.0.1:{port}"
    running = Running(path, env={"RELAY_STATE_PASSWORD": "Unused-Pw-71c"})
    try:
        wait_for(
            lambda: (r := _get(base + "/feeds/news.atom")) and r.status_code == 200,
            timeout=20,
            what="the first feed",
        )
        news.add_post("새 글", "x", "<p>x</p>")
        wait_for(lambda: "<b>새 글</b>" in titles(fakebot), timeout=10, what="the message")
        page = _get(base + "/boards/news")
        assert page is not None and page.status_code == 200 and "새 글" in page.text
        wait_for(lambda: (r := _get(base + "/healthz")) and r.status_code == 200, what="health")
        time.sleep(0.5)
        assert running.stop() < 10 and running.process.returncode == 0, running.log
    finally:
        running.kill()
    log = running.log
    assert "Traceback" not in log and "Unused-Pw-71c" not in log
    assert "state postgresql://***@127.0.0.1" in log  # named, userinfo redacted
