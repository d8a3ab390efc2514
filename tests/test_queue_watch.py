"""relay.service.queue_watch and `/healthz`: a queue that does not move is a health failure,
a wait Telegram asked for is not."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import write_config
from test_daemon import Running, free_port, wait_for

from relay.core.state import Delivery
from relay.service.queue_watch import QueueWatch
from relay.sim import BoardSimulator


def delivery(seq: int, chat: str = "@news") -> Delivery:
    return Delivery(seq=seq, board_id="news", post_id=str(seq), chat=chat, attempts=1)


def test_a_delivery_pending_past_the_allowance_makes_its_chat_stuck() -> None:
    now = [0.0]
    watch = QueueWatch(lambda: now[0])
    queue = [delivery(1), delivery(2), delivery(3, "@other")]
    check: dict[str, Any] = {"limit": 60.0, "waiting": lambda chat: False}
    assert watch.stuck(queue, pace_needs=lambda q: 10.0 * len(q), **check) == ()
    now[0] = 75.0  # @news: allowed 60 + 2 x 10 = 80 s; @other: 60 + 10 = 70 s
    [reason] = watch.stuck(queue, pace_needs=lambda q: 10.0 * len(q), **check)
    assert reason.startswith("deliveries to @other stuck: 1 pending")
    now[0] = 81.0
    assert len(watch.stuck(queue, pace_needs=lambda q: 10.0 * len(q), **check)) == 2


def test_a_chat_in_a_wait_telegram_asked_for_is_not_stuck() -> None:
    now = [0.0]
    watch = QueueWatch(lambda: now[0])
    queue = [delivery(1)]
    watch.stuck(queue, limit=1, waiting=lambda chat: True, pace_needs=lambda q: 0.0)
    now[0] = 3600.0
    assert watch.stuck(queue, limit=1, waiting=lambda chat: True, pace_needs=lambda q: 0.0) == ()


def test_sent_deliveries_are_forgotten_and_new_ones_start_afresh() -> None:
    now = [0.0]
    watch = QueueWatch(lambda: now[0])
    watch.stuck([delivery(1)], limit=10, waiting=lambda c: False, pace_needs=lambda q: 0.0)
    now[0] = 100.0
    fresh = watch.stuck([delivery(2)], limit=10, waiting=lambda c: False, pace_needs=lambda q: 0.0)
    assert fresh == ()


@pytest.mark.slow
@pytest.mark.parametrize("answer", ["server error", "flood wait"])
def test_healthz_turns_red_when_deliveries_stop_moving_but_not_in_a_flood_wait(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any, answer: str
) -> None:
    board = sim.add_board("news", "rhymix")
    board.add_post("기존", "x", "<p>본문</p>")
    port = free_port()
    path = write_config(
        tmp_path,
        [{"id": "news", "url": board.list_url, "chat": "@news", "interval": "1s"}],
        telegram={"api_url": fakebot.api_url, "per_chat_interval": 0, "stuck_after": "2s"},
        http={"listen": f"127.0.0.1:{port}"},
    )
    if answer == "server error":
        fakebot.fail_always(502, method="sendMessage")
    else:
        fakebot.fail_always(429, retry_after=3600, method="sendMessage")
    running = Running(path)
    health = f"http://127.0.0.1:{port}/healthz"
    try:
        wait_for(lambda: "board=news new=1" in running.log, what="the first poll")
        board.add_post("보내지지 않는 글", "x", "<p>x</p>")  # a later poll: announced
        if answer == "server error":
            reply = wait_for(
                lambda: (r := httpx.get(health, timeout=2)).status_code == 503 and r,
                timeout=20,
                what="a red /healthz",
            )
            assert "deliveries to @news stuck" in reply.text
        else:
            wait_for(lambda: "flood" in running.log, timeout=20, what="the 429")
            time.sleep(4.0)
            reply = httpx.get(health, timeout=2)
            assert reply.status_code == 200, reply.text
    finally:
        running.kill()
