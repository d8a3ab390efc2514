"""Over loopback: thresholds crossing on a later poll, edits on a retitle, a burst becoming
one digest, and the digest's one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from delivery_rig import Rig, board_entry, first_poll_then_add, news_board

from relay.sim import BoardSimulator, SimBoard


@pytest.fixture
def news(sim: BoardSimulator) -> SimBoard:
    return news_board(sim)


def routed(board: SimBoard, *routes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    entry = board_entry(board, "@news", routes=list(routes), **extra)
    entry.pop("chat")
    return entry


def heads(fakebot: Any, chat: str) -> list[str]:
    return [m.text.split("\n")[0] for m in fakebot.messages if m.chat_id == chat]


async def test_a_post_crossing_min_comments_on_a_later_poll_is_announced_once(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(
        tmp_path,
        fakebot,
        [routed(news, {"chat": "@news"}, {"chat": "@other", "min_comments": 3})],
    )
    [quiet, busy] = await first_poll_then_add(rig, news, ["조용한 글", "뜨는 글"])
    await rig.drain()
    assert heads(fakebot, "@news") == ["<b>조용한 글</b>", "<b>뜨는 글</b>"]
    assert heads(fakebot, "@other") == []
    news.set_comments(int(busy), 5)
    await rig.poll()
    await rig.drain()
    assert heads(fakebot, "@other") == ["<b>뜨는 글</b>"]
    for comments in (0, 9):  # falls and rises again: never announced twice
        news.set_comments(int(busy), comments)
        await rig.poll()
        await rig.drain()
    news.set_comments(int(quiet), 1)
    await rig.poll()
    await rig.drain()
    assert heads(fakebot, "@other") == ["<b>뜨는 글</b>"]
    assert len(heads(fakebot, "@news")) == 2


async def test_a_retitled_post_is_edited_in_every_chat_it_went_to(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(
        tmp_path,
        fakebot,
        [routed(news, {"chat": "@news"}, {"chat": "@other", "format": "photo"})],
    )
    await rig.poll()
    post = news.add_post("옛 제목", "x", "본문", image="/img/a.png")
    await rig.poll()
    await rig.drain()
    assert [m.method for m in fakebot.messages] == ["sendMessage", "sendPhoto"]
    news.edit_title(post.id, "새 제목")
    await rig.poll()
    report = await rig.drain()
    assert report.edited == 2
    edits = {e.chat_id: e for e in fakebot.edits}
    assert edits["@news"].method == "editMessageText" and "새 제목" in edits["@news"].text
    assert edits["@other"].method == "editMessageCaption" and "새 제목" in edits["@other"].text
    sent = {m.chat_id: m.message_id for m in fakebot.messages}
    assert {c: e.message_id for c, e in edits.items()} == sent
    await rig.drain()
    assert len(fakebot.edits) == 2  # done once


async def test_a_refused_edit_is_recorded_and_not_retried(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [routed(news, {"chat": "@news"})])
    [post_id] = await first_poll_then_add(rig, news, ["옛 제목"])
    await rig.drain()
    fakebot.fail_always(400, method="editMessageText")
    news.edit_title(int(post_id), "새 제목")
    await rig.poll()
    for _ in range(3):
        await rig.drain()
    assert fakebot.requests.count("editMessageText") == 1
    row = rig.delivery(post_id)
    assert row["edit_pending"] == 0 and "refused" in row["edit_error"]


async def test_a_burst_of_45_posts_becomes_one_digest(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [routed(news, {"chat": "@news"})], telegram={"digest_over": 10})
    await rig.poll()
    titles = [f"몰린 글 {i}" for i in range(45)]
    for title in titles:
        news.add_post(title, "x", "본문")
    await rig.poll()
    report = await rig.drain()
    [digest] = fakebot.messages
    assert report.sent == 45
    positions = [digest.text.index(t + "<") for t in titles]
    assert positions == sorted(positions)  # oldest first, newest last
    ids = {r["message_id"] for r in rig.store._db.query("SELECT message_id FROM deliveries")}
    assert ids == {digest.message_id}
    news.add_post("하나 더", "x", "본문")  # below digest_over again: one message per post
    await rig.poll()
    await rig.drain()
    assert fakebot.messages[-1].text.startswith("<b>하나 더</b>")


async def test_a_digest_waits_out_a_429_and_is_sent_once(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [routed(news, {"chat": "@news", "digest_over": 2})])
    await rig.poll()
    for i in range(5):
        news.add_post(f"글 {i}", "x", "본문")
    await rig.poll()
    fakebot.fail_next(429, retry_after=30)
    report = await rig.drain()
    assert report.sent == 0 and fakebot.messages == []
    rig.clock.advance(31)
    report = await rig.drain()
    [digest] = fakebot.messages
    assert report.sent == 5 and all(f"글 {i}<" in digest.text for i in range(5))
    await rig.drain()
    assert len(fakebot.messages) == 1


async def test_a_failing_edit_is_tried_three_times_then_given_up(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [routed(news, {"chat": "@news"})])
    [post_id] = await first_poll_then_add(rig, news, ["옛 제목"])
    await rig.drain()
    fakebot.fail_always(502, method="editMessageText")
    news.edit_title(int(post_id), "새 제목")
    await rig.poll()
    for _ in range(5):
        await rig.drain()
    assert fakebot.requests.count("editMessageText") == 3
    row = rig.delivery(post_id)
    assert (row["edit_pending"], row["edit_tries"]) == (0, 3)
