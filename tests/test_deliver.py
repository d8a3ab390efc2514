"""Delivery rules end to end: simulator -> state -> courier -> fake Bot API, over loopback."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import TOKEN, run_relay, write_config
from delivery_rig import NASTY, Rig, board_entry, first_poll_then_add, news_board

from relay.adapters.courier import Pace
from relay.core.backoff import DELIVERY_BACKOFF
from relay.sim import BoardSimulator, SimBoard


@pytest.fixture
def news(sim: BoardSimulator) -> SimBoard:
    return news_board(sim)


async def test_new_posts_reach_the_chat_oldest_first_with_escaped_html(
    tmp_path: Path, sim: BoardSimulator, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(
        tmp_path,
        fakebot,
        [
            board_entry(
                news, "@news", disable_notification=True, message_thread_id=7, link_preview="none"
            )
        ],
    )
    await first_poll_then_add(rig, news, ["첫째", NASTY, "셋째"])
    report = await rig.drain()
    assert report.sent == 3 and report.failed == 0
    messages = fakebot.messages
    assert [m.chat_id for m in messages] == ["@news"] * 3
    assert "첫째" in messages[0].text and "셋째" in messages[2].text
    nasty = messages[1]
    assert nasty.parse_mode == "HTML"
    assert "&lt;script&gt;" in nasty.text and "&amp; 뉴스" in nasty.text and "🇰🇷😀" in nasty.text
    assert "&lt;b&gt;굵게&lt;/b&gt;" in nasty.text and "a&lt;b &amp; c&gt;d" in nasty.text
    assert nasty.disable_notification is True and nasty.message_thread_id == 7
    assert nasty.link_preview_options == {"is_disabled": True}
    assert rig.store.pending_deliveries() == []
    await rig.poll()
    assert (await rig.drain()).sent == 0  # nothing is ever sent twice


async def test_flood_429_is_waited_out_exactly_then_sent(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    await first_poll_then_add(rig, news, ["하나", "둘"])
    fakebot.fail_next(429, retry_after=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    rig.clock = lambda: datetime.now(UTC)  # type: ignore[assignment,method-assign]
    report = await rig.drain(deadline=10)
    assert report.sent == 2
    assert 0.9 <= loop.time() - started < 3
    assert [m.text.split("\n")[0] for m in fakebot.messages] == ["<b>하나</b>", "<b>둘</b>"]


async def test_absurd_retry_after_keeps_deliveries_pending_and_other_chats_going(
    tmp_path: Path, sim: BoardSimulator, news: SimBoard, fakebot: Any
) -> None:
    other = sim.add_board("other", "gnuboard")
    other.add_post("다른 게시판", "x", "<p>x</p>")
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news"), board_entry(other, "@other")])
    await rig.poll()
    news.add_post("홍수 제한", "x", "<p>x</p>")
    news.add_post("홍수 제한 둘", "x", "<p>x</p>")
    other.add_post("다른 채팅은 간다", "x", "<p>x</p>")
    await rig.poll()
    queued = rig.store.pending_deliveries()
    flooded = queued[0].chat  # the first message in the queue meets the 12-hour flood answer
    fakebot.fail_next(429, retry_after=43837)
    loop = asyncio.get_running_loop()
    started = loop.time()
    report = await rig.drain(deadline=5)
    assert loop.time() - started < 3  # nothing slept on the 12-hour answer
    free = [d for d in queued if d.chat != flooded]
    assert [m.chat_id for m in fakebot.messages] == [d.chat for d in free]
    pending = rig.store.pending_deliveries()
    assert report.deferred == len(queued) - len(free) == len(pending)
    assert {d.chat for d in pending} == {flooded}
    assert pending[0].not_before is not None
    assert pending[0].not_before - rig.clock() > timedelta(hours=12)


async def test_transient_502_backs_off_with_attempts_recorded(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    [post_id] = await first_poll_then_add(rig, news, ["재시도"])
    fakebot.fail_next(502, count=2)
    await rig.drain()
    row = rig.delivery(post_id)
    assert row["status"] == "pending" and row["attempts"] == 1 and "502" in row["last_error"]
    first_wait = datetime.fromisoformat(row["not_before"]) - rig.clock()
    assert timedelta(seconds=4) <= first_wait <= timedelta(seconds=6)
    rig.clock.advance(6)
    await rig.drain()
    row = rig.delivery(post_id)
    second_wait = datetime.fromisoformat(row["not_before"]) - rig.clock()
    assert row["attempts"] == 2 and second_wait >= timedelta(seconds=9)  # exponential
    rig.clock.advance(12)
    assert (await rig.drain()).sent == 1
    assert len(fakebot.messages) == 1


async def test_permanent_failure_marks_failed_logs_once_and_blocks_nobody(
    tmp_path: Path,
    sim: BoardSimulator,
    news: SimBoard,
    fakebot: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = sim.add_board("other", "gnuboard")
    other.add_post("x", "x", "<p>x</p>")
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@nowhere"), board_entry(other, "@other")])
    await rig.poll()
    [lost] = [str(news.add_post("없는 채팅", "x", "<p>x</p>").id)]
    other.add_post("도착", "x", "<p>x</p>")
    await rig.poll()
    with caplog.at_level(logging.ERROR, logger="relay.pipeline.deliver"):
        report = await rig.drain()
    assert report.failed == 1 and report.sent == 1
    assert rig.delivery(lost)["status"] == "failed"
    assert "chat not found" in rig.delivery(lost)["last_error"].lower()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "board=news" in errors[0] and "chat=@nowhere" in errors[0]
    assert [m.chat_id for m in fakebot.messages] == ["@other"]
    assert rig.store.requeue_failed("news") == 1
    assert [d.post_id for d in rig.store.pending_deliveries()] == [lost]


async def test_kicked_bot_is_a_permanent_failure(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    [post_id] = await first_poll_then_add(rig, news, ["추방"])
    fakebot.kick("@news")
    assert (await rig.drain()).failed == 1
    assert "kicked" in rig.delivery(post_id)["last_error"]


async def test_group_upgraded_to_supergroup_is_followed(
    tmp_path: Path, news: SimBoard, fakebot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "-100200300")])
    await first_poll_then_add(rig, news, ["이사 간 그룹", "둘째"])
    fakebot.migrate("-100200300", -1009998887776)
    report = await rig.drain()
    assert report.sent == 2
    assert {m.chat_id for m in fakebot.messages} == {"-1009998887776"}
    assert any("update the config" in r.getMessage() for r in caplog.records)


async def test_answer_lost_after_delivery_sends_it_at_most_once_more(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    [post_id] = await first_poll_then_add(rig, news, ["응답 유실"])
    fakebot.drop_after_accept(1)
    await rig.drain()
    assert rig.delivery(post_id)["status"] == "pending"
    rig.clock.advance(10)
    await rig.drain()
    assert rig.delivery(post_id)["status"] == "sent"
    assert len(fakebot.messages) == 2  # one duplicate, never more


async def test_per_chat_pace_is_about_one_message_a_second(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news")])
    await first_poll_then_add(rig, news, ["1", "2", "3"])
    await rig.drain(deadline=5, pace=Pace(per_chat_interval=0.3, group_max=0, bot_max=0))
    times = [m.time for m in fakebot.messages]
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.28


async def test_a_channel_at_its_minute_limit_does_not_hold_up_other_chats(
    tmp_path: Path, sim: BoardSimulator, news: SimBoard, fakebot: Any
) -> None:
    other = sim.add_board("other", "gnuboard")
    other.add_post("x", "x", "<p>x</p>")
    rig = Rig(tmp_path, fakebot, [board_entry(news, "@news"), board_entry(other, "@other")])
    await rig.poll()
    for i in range(3):
        news.add_post(f"채널 {i}", "x", "<p>x</p>")
    await rig.poll()
    other.add_post("기다리지 않는다", "x", "<p>x</p>")
    await rig.poll()
    loop = asyncio.get_running_loop()
    started = loop.time()
    report = await rig.drain(
        deadline=3, pace=Pace(per_chat_interval=0, group_max=2, group_period=60, bot_max=0)
    )
    assert loop.time() - started < 2  # a 60 s wait for @news is beyond the deadline
    assert [m.chat_id for m in fakebot.messages] == ["@news", "@news", "@other"]
    assert report.deferred == 1
    assert [d.chat for d in rig.store.pending_deliveries()] == ["@news"]


async def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(7)
    waits = [DELIVERY_BACKOFF.delay(n, rng) for n in range(12)]
    assert 4.5 <= waits[0] <= 5.5 and 9 <= waits[1] <= 11
    assert max(waits) <= DELIVERY_BACKOFF.cap * 1.1


def test_once_sends_and_dry_run_prints(tmp_path: Path, news: SimBoard, fakebot: Any) -> None:
    path = write_config(
        tmp_path,
        [board_entry(news, "@news", backfill=1)],
        telegram={"api_url": fakebot.api_url, "per_chat_interval": 0},
    )
    dry = run_relay("once", "-c", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: to @news" in dry.stdout and fakebot.messages == []
    news.add_post("실제 발송", "x", "<p>x</p>")
    real = run_relay("once", "-c", str(path), env={"RELAY_TELEGRAM_TOKEN": TOKEN})
    assert real.returncode == 0, real.stderr
    assert "2 sent" in real.stdout
    assert [m.text.split("\n")[0] for m in fakebot.messages][-1] == "<b>실제 발송</b>"


def test_a_dry_run_prints_the_edits_it_would_make_and_leaves_them_queued(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    path = write_config(
        tmp_path,
        [board_entry(news, "@news")],
        telegram={"api_url": fakebot.api_url, "per_chat_interval": 0},
    )
    live = {"RELAY_TELEGRAM_TOKEN": TOKEN}
    assert run_relay("once", "-c", str(path), env=live).returncode == 0
    post = news.add_post("옛 제목", "x", "<p>x</p>")
    assert "1 sent" in run_relay("once", "-c", str(path), env=live).stdout
    [sent] = fakebot.messages
    news.edit_title(post.id, "고친 제목")
    dry = run_relay("once", "-c", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"dry run: edit @news message {sent.message_id}" in dry.stdout
    assert "<b>고친 제목</b>" in dry.stdout and "1 edits shown" in dry.stdout
    assert fakebot.edits == []
    real = run_relay("once", "-c", str(path), env=live)  # still queued: made for real now
    assert "1 edited" in real.stdout, real.stderr
    [edit] = fakebot.edits
    assert edit.message_id == sent.message_id and "고친 제목" in edit.text


def test_wrong_token_is_a_clear_error_at_start_and_never_printed(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    path = write_config(
        tmp_path, [board_entry(news, "@news")], telegram={"api_url": fakebot.api_url}
    )
    wrong = "999999:WRONG-token-zyxwvutsrqponmlkjihgfed"
    result = run_relay(
        "--log-level", "DEBUG", "check", "-c", str(path), env={"RELAY_TELEGRAM_TOKEN": wrong}
    )
    assert result.returncode == 1
    assert "token was rejected" in result.stdout + result.stderr
    assert wrong not in result.stdout + result.stderr
    assert wrong.split(":")[1] not in result.stdout + result.stderr
    missing = run_relay("once", "-c", str(path))
    assert missing.returncode == 2 and "RELAY_TELEGRAM_TOKEN" in missing.stderr


def test_token_never_reaches_a_log_line_at_debug(
    tmp_path: Path, sim: BoardSimulator, news: SimBoard, fakebot: Any
) -> None:
    lost = sim.add_board("lost", "gnuboard")
    lost.add_post("x", "x", "<p>x</p>")
    path = write_config(
        tmp_path,
        [board_entry(news, "@news", backfill=2), board_entry(lost, "@nowhere", backfill=1)],
        telegram={"api_url": fakebot.api_url, "per_chat_interval": 0},
    )
    result = run_relay(
        "--log-level", "DEBUG", "once", "-c", str(path), env={"RELAY_TELEGRAM_TOKEN": TOKEN}
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1  # the chat that does not exist
    assert "sendMessage" in output and "Chat not found" in output  # requests were logged...
    assert TOKEN not in output and TOKEN.split(":")[1] not in output  # ...without the token
