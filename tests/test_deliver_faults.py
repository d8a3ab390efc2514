"""The drain under faults, over loopback: it ends by its deadline whatever Telegram answers, it
survives a state that refuses writes without sending twice, and it says how far it is."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import TOKEN, run_relay, write_config
from delivery_rig import FAST, Rig, board_entry, first_poll_then_add, news_board

from relay.adapters.courier import Courier, Pace
from relay.adapters.sqlite import SqliteState
from relay.core.errors import StateError, TransientDeliveryError
from relay.core.models import OutgoingMessage
from relay.pipeline.deliver import Deliverer, DryRunSender
from relay.sim import BoardSimulator, SimBoard


@pytest.fixture
def news(sim: BoardSimulator) -> SimBoard:
    return news_board(sim)


def sends(fakebot: Any) -> int:
    return sum(method == "sendMessage" for method in fakebot.requests)


# --- every drain ends -----------------------------------------------------------------------


async def test_retry_after_zero_forever_neither_spins_nor_outlives_the_deadline(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    await first_poll_then_add(rig, news, ["하나", "둘"])
    rig.clock = lambda: datetime.now(UTC)  # type: ignore[assignment,method-assign]
    fakebot.fail_always(429, retry_after=0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    report = await rig.drain(deadline=2.5)
    assert loop.time() - started < 2.8  # returned by its deadline
    assert 1 <= sends(fakebot) <= 4  # a second between tries, not 20,000 calls
    assert report.sent == 0 and report.deferred == 2
    assert fakebot.messages == []


async def test_without_a_deadline_each_delivery_is_tried_once(
    tmp_path: Path, sim: BoardSimulator, news: SimBoard, fakebot: Any
) -> None:
    other = sim.add_board("other", "gnuboard")
    other.add_post("x", "x", "<p>x</p>")
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news"), board_entry(other, "@other")])
    await rig.poll()
    news.add_post("하나", "x", "<p>x</p>")
    other.add_post("둘", "x", "<p>x</p>")
    await rig.poll()
    rig.clock = lambda: datetime.now(UTC)  # type: ignore[assignment,method-assign]
    fakebot.fail_always(429, retry_after=0)
    report = await rig.drain()
    assert sends(fakebot) == 2  # one per chat, then the drain ends
    assert report.deferred == 2 and report.next_due is not None and report.next_due <= 1


@pytest.mark.parametrize(
    ("status", "retry_after", "raw"),
    [(429, 0, None), (429, -5, None), (429, 1e308, None), (200, None, b"[1]")],
)
def test_relay_once_ends_by_its_drain_timeout_whatever_telegram_answers(
    tmp_path: Path,
    news: SimBoard,
    fakebot: Any,
    status: int,
    retry_after: object,
    raw: bytes | None,
) -> None:
    path = write_config(
        tmp_path,
        [board_entry(news, "@news", backfill=2)],
        telegram={"api_url": fakebot.api_url, "per_chat_interval": 0, "drain_timeout": "2s"},
    )
    fakebot.fail_always(status, retry_after=retry_after, raw=raw, method="sendMessage")
    started = time.monotonic()
    result = run_relay("once", "-c", str(path), env={"RELAY_TELEGRAM_TOKEN": TOKEN}, timeout=30)
    assert time.monotonic() - started < 15  # start-up, a poll, and a 2 s drain
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "0 sent, 0 failed, 2 pending" in result.stdout
    assert 1 <= sends(fakebot) <= 4


class ZeroWaitSender:
    """A sender of our own protocol that names a wait no one should believe."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        self.calls = 0

    def pace_delay(self, chat: str) -> float:
        return 0.0

    async def send(self, msg: OutgoingMessage) -> int:
        self.calls += 1
        raise TransientDeliveryError("flood", reason="flood", retry_after=self.retry_after)


@pytest.mark.parametrize(("retry_after", "wait"), [(0, 1.0), (-5, 1.0), (math.nan, 86400.0)])
async def test_the_deliverer_bounds_any_senders_wait(
    tmp_path: Path, news: SimBoard, fakebot: Any, retry_after: float, wait: float
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    [post_id] = await first_poll_then_add(rig, news, ["대기"])
    sender = ZeroWaitSender(retry_after)
    deliverer = Deliverer(rig.config, rig.store, sender, rig.clock)
    loop = asyncio.get_running_loop()
    await deliverer.drain(deadline=loop.time() + 0.5)
    assert sender.calls == 1  # the frozen test clock never reaches the wait
    not_before = datetime.fromisoformat(rig.delivery(post_id)["not_before"])
    assert not_before - rig.clock() == timedelta(seconds=wait)


async def test_a_send_in_flight_is_cut_off_at_the_deadline_and_stays_pending(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    [post_id] = await first_poll_then_add(rig, news, ["느린 답"])
    fakebot.stall_next(1.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with Courier(TOKEN, fakebot.api_url, pace=FAST, timeout=10) as courier:
        deliverer = Deliverer(rig.config, rig.store, courier, rig.clock)
        report = await deliverer.drain(deadline=loop.time() + 0.3)
        assert loop.time() - started < 0.8
        assert report.sent == 0 and report.deferred == 1
        row = rig.delivery(post_id)
        assert row["status"] == "pending" and row["attempts"] == 0  # may go again at once
        assert (await deliverer.drain()).sent == 1
    assert rig.delivery(post_id)["status"] == "sent"


class SlowClock:
    """A wall clock that moves 5 s at every read: as if every try took longer than its wait."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=5)
        return self.at


async def test_without_a_deadline_a_drain_ends_even_when_every_retry_is_due_again(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    await first_poll_then_add(rig, news, ["하나", "둘"])
    sender = ZeroWaitSender(0)
    clock = SlowClock()
    deliverer = Deliverer(
        rig.config, rig.store, sender, clock, monotonic=lambda: clock().timestamp()
    )
    report = await deliverer.drain()
    assert sender.calls == 1  # the oldest, once; the second keeps the chat's order
    assert report.deferred == 2 and report.next_due == 0  # due again: the next drain


# --- a state that refuses writes ------------------------------------------------------------


class ReadOnlyMarks(SqliteState):
    """A state whose sent-marks hit a real SQLite refusal (a read-only connection), as a full
    or failing disk would, until `failing` is cleared."""

    failing = True

    def mark_sent(
        self, seq: int, now: datetime, message_id: int | None, sent_as: str = "text"
    ) -> None:
        if self.failing:
            uri = f"file:{self.path}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as readonly:
                readonly.execute("UPDATE deliveries SET status = 'sent' WHERE seq = ?", (seq,))
        super().mark_sent(seq, now, message_id, sent_as)


class ReadOnlyRetries(SqliteState):
    def mark_retry(self, seq: int, error: str, not_before: datetime, *, count: bool = True) -> None:
        uri = f"file:{self.path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as readonly:
            readonly.execute("UPDATE deliveries SET last_error = ? WHERE seq = ?", (error, seq))


def texts(fakebot: Any) -> Counter[str]:
    return Counter(m.text.split("\n")[0] for m in fakebot.messages)


async def test_a_sent_message_whose_mark_fails_is_never_sent_again_by_this_process(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")], store=ReadOnlyMarks)
    store = rig.store
    assert isinstance(store, ReadOnlyMarks)
    [first, *_] = await first_poll_then_add(rig, news, ["하나", "둘", "셋"])
    async with Courier(TOKEN, fakebot.api_url, pace=FAST, timeout=2) as courier:
        deliverer = Deliverer(rig.config, store, courier, rig.clock)
        with pytest.raises(StateError) as raised:
            await deliverer.drain()
        message = str(raised.value)
        assert f"mark board=news chat=@news post={first} sent" in message
        assert "readonly" in message and str(rig.config.state) in message
        assert len(fakebot.messages) == 1
        with pytest.raises(StateError, match="it is not sent again"):
            await deliverer.drain()  # the state still refuses: nothing more is sent
        assert len(fakebot.messages) == 1
        store.failing = False  # the disk has room again
        report = await deliverer.drain()
    assert report.sent == 2 and store.pending_deliveries() == []
    assert texts(fakebot) == {"<b>하나</b>": 1, "<b>둘</b>": 1, "<b>셋</b>": 1}
    row = rig.delivery(first)
    assert row["status"] == "sent" and row["message_id"] == fakebot.messages[0].message_id


async def test_after_a_restart_an_unrecorded_send_is_at_most_one_duplicate(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")], store=ReadOnlyMarks)
    store = rig.store
    assert isinstance(store, ReadOnlyMarks)
    await first_poll_then_add(rig, news, ["하나", "둘"])
    with pytest.raises(StateError):
        await rig.drain()  # sent, not recorded; then the process "restarts"
    store.failing = False
    assert (await rig.drain()).sent == 2
    assert texts(fakebot) == {"<b>하나</b>": 2, "<b>둘</b>": 1}


async def test_an_unreadable_queue_is_a_state_error_naming_the_state(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    await first_poll_then_add(rig, news, ["하나"])
    rig.store.close()
    with pytest.raises(StateError, match="cannot read the delivery queue") as raised:
        await rig.drain()
    assert str(rig.config.state) in str(raised.value)
    assert fakebot.messages == []


async def test_a_retry_the_state_cannot_record_stops_the_drain(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")], store=ReadOnlyRetries)
    [post_id] = await first_poll_then_add(rig, news, ["재시도"])
    fakebot.fail_next(502)
    with pytest.raises(
        StateError, match=f"record the retry of board=news chat=@news post={post_id}"
    ):
        await rig.drain()


# --- progress you can see -------------------------------------------------------------------

PROGRESS = re.compile(
    r"deliveries: (\d+) sent, (\d+) left; the pace needs about \d+s more "
    r"\(until \d\d:\d\d:\d\d UTC\)"
)


async def test_a_drain_that_waits_on_the_pace_logs_its_progress(
    tmp_path: Path, news: SimBoard, fakebot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")], telegram={"per_chat_interval": 0.2})
    await first_poll_then_add(rig, news, [str(i) for i in range(5)])
    pace = Pace(per_chat_interval=0.2, group_max=0, bot_max=0)
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.INFO, logger="relay.pipeline.deliver"):
        async with Courier(TOKEN, fakebot.api_url, pace=pace, timeout=2) as courier:
            deliverer = Deliverer(rig.config, rig.store, courier, rig.clock, progress_every=0.3)
            report = await deliverer.drain(deadline=loop.time() + 5)
    assert report.sent == 5
    lines = [m for r in caplog.records if (m := r.getMessage()).startswith("deliveries:")]
    assert 1 <= len(lines) <= 4  # not once per message: at most every 0.3 s of a 0.8 s drain
    for line in lines:
        match = PROGRESS.fullmatch(line)
        assert match is not None, line
        assert int(match[1]) + int(match[2]) == 5


async def test_a_short_drain_logs_no_progress(
    tmp_path: Path, news: SimBoard, fakebot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    await first_poll_then_add(rig, news, ["1", "2", "3"])
    with caplog.at_level(logging.INFO, logger="relay.pipeline.deliver"):
        report = await rig.drain(deadline=5, pace=Pace(per_chat_interval=0.2, group_max=0))
    assert report.sent == 3
    assert not [r for r in caplog.records if r.getMessage().startswith("deliveries:")]


async def test_the_estimate_follows_telegrams_pace_per_chat(
    tmp_path: Path, sim: BoardSimulator, news: SimBoard, fakebot: Any
) -> None:
    other = sim.add_board("other", "gnuboard")
    other.add_post("x", "x", "<p>x</p>")
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news"), board_entry(other, "42")])
    await rig.poll()
    for i in range(45):
        news.add_post(f"속보 {i}", "x", "<p>x</p>")
    for i in range(3):
        other.add_post(f"개인 {i}", "x", "<p>x</p>")
    await rig.poll()
    deliverer = Deliverer(rig.config, rig.store, DryRunSender(), rig.clock)
    pending = rig.store.pending_deliveries()
    assert len(pending) == 48
    assert deliverer.estimate(pending, rig.clock()) == 124  # 20 a minute to the channel
    first_to_news = next(d for d in pending if d.chat == "@news")
    rig.store.mark_retry(first_to_news.seq, "flood", rig.clock() + timedelta(seconds=600))
    assert deliverer.estimate(rig.store.pending_deliveries(), rig.clock()) == 600 + 124
