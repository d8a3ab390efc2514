"""Routes end to end over loopback: a simulated board, the state, the fake Bot API.

One board, several destinations: the `chat` shorthand and an equal route are one thing (and
a config rewritten from one to the other keeps its queue), each route filters for itself and
fails for itself, forum topics, photos with their fallback, the "원문 보기" button."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from delivery_rig import Rig, board_entry, first_poll_then_add, news_board

from relay.adapters.sqlite import SqliteState
from relay.adapters.sqlite.migrations import MIGRATIONS
from relay.sim import BoardSimulator, SimBoard


@pytest.fixture
def news(sim: BoardSimulator) -> SimBoard:
    return news_board(sim)


def entry(board: SimBoard, **extra: Any) -> dict[str, Any]:
    """The board with chat "@news", or with only its routes (or none: `chat=None`)."""
    chat = extra.pop("chat", "@news")
    found = board_entry(board, chat, **extra)
    if "routes" in extra or chat is None:
        found.pop("chat")
    return found


def rows(rig: Rig) -> list[dict[str, Any]]:
    return [dict(r) for r in rig.store._db.query("SELECT * FROM deliveries ORDER BY seq")]


async def test_the_chat_shorthand_and_an_equal_route_send_the_same_messages(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any
) -> None:
    sent = []
    for name, extra in (
        ("short", {"message_thread_id": 7, "disable_notification": True}),
        ("routed", {"routes": [{"chat": "@news", "message_thread_id": 7}]}),
    ):
        board = sim.add_board(name, "rhymix")
        board.add_post("기존", "x", "<p>x</p>")
        extra_board = {"disable_notification": True} if name == "routed" else {}
        (tmp_path / name).mkdir()
        rig = Rig(tmp_path / name, fakebot, [entry(board, **extra, **extra_board)])
        before = len(fakebot.messages)
        await first_poll_then_add(rig, board, ["같은 글"])
        report = await rig.drain()
        assert report.sent == 1
        [message] = fakebot.messages[before:]
        sent.append(message)
        assert [r["route"] for r in rows(rig)] == ["@news#7"]
        rig.store.close()
    short, routed = sent
    assert short.message_thread_id == routed.message_thread_id == 7
    assert short.disable_notification and routed.disable_notification
    assert short.text.replace("short", "routed") == routed.text


async def test_each_route_has_its_own_filter_and_the_feed_keeps_every_post(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    routes = [
        {"chat": "@news"},
        {"chat": "@other", "include": ["핫딜", "re:^\\[[0-9]+\\]"], "exclude": ["품절"]},
        {"chat": "@other", "message_thread_id": 3, "include": ["ＬＧ"]},  # full-width
    ]
    rig = Rig(tmp_path, fakebot, [entry(news, routes=routes)])
    titles = ["오늘의 핫딜 라면", "[123] 번호 글", "핫딜 품절", "lg 모니터", "그냥 글"]
    await first_poll_then_add(rig, news, titles)
    await rig.drain()
    got: dict[tuple[str, int | None], list[str]] = {}
    for m in fakebot.messages:
        got.setdefault((m.chat_id, m.message_thread_id), []).append(m.text.split("\n")[0])
    assert got[("@news", None)] == [f"<b>{t}</b>" for t in titles]
    assert got[("@other", None)] == ["<b>오늘의 핫딜 라면</b>", "<b>[123] 번호 글</b>"]
    assert got[("@other", 3)] == ["<b>lg 모니터</b>"]
    feed = rig.config.boards[0].feed_path.read_text(encoding="utf-8")
    assert all(t in feed for t in titles)


async def test_a_global_route_names_several_boards(
    tmp_path: Path, sim: BoardSimulator, fakebot: Any
) -> None:
    one, two = sim.add_board("one", "rhymix"), sim.add_board("two", "gnuboard")
    for board in (one, two):
        board.add_post("기존", "x", "<p>x</p>")
    boards = [entry(one, chat=None), entry(two, chat=None)]
    rig = Rig(tmp_path, fakebot, boards, routes=[{"boards": ["one", "two"], "chat": "@other"}])
    await rig.poll()
    one.add_post("하나의 글", "x", "<p>x</p>")
    two.add_post("둘의 글", "x", "<p>x</p>")
    await rig.poll()
    await rig.drain()
    assert sorted(m.text.split("\n")[0] for m in fakebot.messages) == [
        "<b>둘의 글</b>",
        "<b>하나의 글</b>",
    ]
    assert {m.chat_id for m in fakebot.messages} == {"@other"}


async def test_a_permanent_error_fails_only_its_route(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [entry(news, routes=[{"chat": "@news"}, {"chat": "@other"}])])
    fakebot.kick("@other")
    await first_poll_then_add(rig, news, ["하나", "둘"])
    report = await rig.drain()
    assert (report.sent, report.failed) == (2, 2)
    status = {(r["route"], r["post_id"]): r["status"] for r in rows(rig)}
    assert sorted(set(status.values())) == ["failed", "sent"]
    assert all(v == ("sent" if k[0] == "@news" else "failed") for k, v in status.items())


async def test_a_config_rewritten_from_chat_to_routes_keeps_pending_and_sent(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    short = Rig(tmp_path, fakebot, [entry(news, message_thread_id=5)])
    await first_poll_then_add(short, news, ["보낸 글"])
    await short.drain()
    news.add_post("대기 글", "x", "<p>x</p>")
    await short.poll()
    short.store.close()
    routed = Rig(
        tmp_path,
        fakebot,
        [entry(news, routes=[{"chat": "@news", "message_thread_id": 5}, {"chat": "@other"}])],
    )
    news.add_post("새 글", "x", "<p>x</p>")
    await routed.poll()
    await routed.drain()
    to_news = [m.text.split("\n")[0] for m in fakebot.messages if m.chat_id == "@news"]
    assert to_news == ["<b>보낸 글</b>", "<b>대기 글</b>", "<b>새 글</b>"]
    to_other = [m.text.split("\n")[0] for m in fakebot.messages if m.chat_id == "@other"]
    assert to_other == ["<b>새 글</b>"]  # a new route announces from now on
    assert all(m.message_thread_id == 5 for m in fakebot.messages if m.chat_id == "@news")


def test_deliveries_stored_before_routes_keep_their_state(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        for number, script in enumerate(MIGRATIONS[:3], start=1):
            db.executescript(f"{script}; PRAGMA user_version = {number};")
        db.execute("INSERT INTO boards (id) VALUES ('news')")
        for post in ("1", "2"):
            db.execute(
                "INSERT INTO posts (board_id, id, sort_key, url, title, first_seen, updated) "
                "VALUES ('news', ?, ?, 'http://x/', 't', '2025-01-01', '2025-01-01')",
                (post, int(post)),
            )
        db.execute(
            "INSERT INTO deliveries (board_id, post_id, chat, status, created, message_id) "
            "VALUES ('news', '1', '@news', 'sent', '2025-01-01', 17)"
        )
        db.execute(
            "INSERT INTO deliveries (board_id, post_id, chat, created) "
            "VALUES ('news', '2', '@news', '2025-01-01')"
        )
    state = SqliteState(path)
    try:
        [pending] = state.pending_deliveries()
        assert (pending.post_id, pending.chat, pending.route_key) == ("2", "@news", "@news")
        [sent] = state._db.query("SELECT * FROM deliveries WHERE status = 'sent'")
        assert (sent["route"], sent["message_id"], sent["sent_as"]) == ("@news", 17, "text")
    finally:
        state.close()


async def test_a_photo_route_sends_the_first_image_and_falls_back_to_text(
    tmp_path: Path, news: SimBoard, fakebot: Any
) -> None:
    rig = Rig(tmp_path, fakebot, [entry(news, routes=[{"chat": "@news", "format": "photo"}])])
    await rig.poll()
    with_image = news.add_post("사진 글", "x", "본문", image="/img/a.png")
    news.add_post("글만", "x", "<p>본문</p>")
    await rig.poll()
    await rig.drain()
    photo, text = fakebot.messages
    assert photo.method == "sendPhoto" and photo.photo and photo.photo.endswith("/img/a.png")
    assert "사진 글" in photo.text and text.method == "sendMessage" and "글만" in text.text
    fakebot.refuse_photos()
    news.add_post("거부될 사진", "x", "본문", image="/img/b.png")
    await rig.poll()
    report = await rig.drain()
    assert report.sent == 1 and report.failed == 0
    last = fakebot.messages[-1]
    assert last.method == "sendMessage" and "거부될 사진" in last.text
    sent_as = {r["post_id"]: r["sent_as"] for r in rows(rig)}
    assert sent_as[str(with_image.id)] == "photo" and list(sent_as.values()).count("text") == 2


async def test_buttons_open_the_post(tmp_path: Path, news: SimBoard, fakebot: Any) -> None:
    rig = Rig(tmp_path, fakebot, [entry(news, routes=[{"chat": "@news", "buttons": True}])])
    [post_id] = await first_poll_then_add(rig, news, ["버튼 글"])
    await rig.drain()
    [message] = fakebot.messages
    markup = json.loads(message.params["reply_markup"])
    [[button]] = markup["inline_keyboard"]
    assert button["text"] == "원문 보기" and button["url"] == news.article_url(int(post_id))
