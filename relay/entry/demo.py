"""`relay demo`: the whole service against the bundled example board, nothing to configure.

Starts the board simulator on loopback with the target board's posts (a Rhymix board of a
news-repost site), adds a post every few seconds, writes a config pointing at it into
`--dir`, and runs `relay run` on it: the feed is written and served over HTTP, and each
Telegram message is printed (dry run). Ctrl-C stops it cleanly.

A second board, a Gnuboard board with its RSS on, is read from its own feed
(`source = "feed"`: exact times, articles from the entries) into `demo-feed.atom`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
from pathlib import Path

from relay.entry.wiring import run_service
from relay.sim import BoardSimulator, SimBoard, seed_board

DEMO_TITLES = (
    "데모: 서울 첫눈, 출근길 교통 혼잡 예상",
    "데모: 반도체 수출 석 달 연속 증가",
    '데모: "주말 나들이 어디로?" 수도권 축제 모음 <총정리>',
    "데모: 한은 기준금리 동결…물가 흐름 주시",
    "데모: 프로야구 개막전 매진 & 새 기록",
)


def free_port(preferred: int) -> int:
    """`preferred` if it can be bound on loopback, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def write_demo_config(
    folder: Path, board_url: str, port: int, feed_board_url: str | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f"""# Written by `relay demo`: the bundled example board on loopback.
[relay]
state = "state.db"
feeds_dir = "feeds"
interval = "10s"
host_delay = "0.05s"
timeout = "10s"

[telegram]
dry_run = true          # print each message instead of sending it

[http]
listen = "127.0.0.1:{port}"

[[boards]]
id = "demo"
url = "{board_url}"
engine = "rhymix"
title = "랭크뉴스 (demo)"
interval = "3s"         # only for the local simulator: real boards want minutes
chat = "@demo_channel"
backfill = 3
excerpt_chars = 160
"""
        + (_FEED_BOARD.format(url=feed_board_url) if feed_board_url else ""),
        encoding="utf-8",
    )
    return path


_FEED_BOARD = """
[[boards]]
id = "demo-feed"
url = "{url}"
engine = "gnuboard"
title = "피드로 읽는 게시판 (demo)"
interval = "3s"
source = "feed"         # read from the board's own RSS (bbs/rss.php), not its list rows
"""


def _add_posts(boards: list[SimBoard], every: float, stop: threading.Event) -> None:
    count = 0
    while not stop.wait(every):
        title = DEMO_TITLES[count % len(DEMO_TITLES)]
        for board in boards:
            board.add_post(
                title,
                author="랭크뉴스",
                body=f"<p>{title} — 데모 게시판에 {count + 1}번째로 올라온 새 글입니다.</p>",
            )
        count += 1


def feed_board(sim: BoardSimulator) -> SimBoard:
    """A Gnuboard board whose RSS is on, with a few posts to start from."""
    board = sim.add_board("gnufeed", "gnuboard", feed="on", title="피드 게시판")
    for i, title in enumerate(DEMO_TITLES):
        board.add_post(title, author="운영자", body=f"<p>{title} — 피드에 실린 {i + 1}번째 글.</p>")
    return board


async def run_demo(folder: Path, *, port: int, duration: float | None, add_every: float) -> int:
    sim = BoardSimulator()
    board = seed_board(sim, "ranknews")
    fed = feed_board(sim)
    sim.start()
    stop_adding = threading.Event()
    adder = threading.Thread(
        target=_add_posts, args=([board, fed], add_every, stop_adding), daemon=True
    )
    try:
        port = free_port(port)
        config_path = write_demo_config(folder, board.list_url, port, fed.list_url)
        print(f"board simulator: {board.list_url}  (a new post every {add_every:g}s)")
        print(f"                 {fed.list_url}  (read from its RSS)")
        print(f"config:          {config_path}")
        print(f"feed:            http://127.0.0.1:{port}/feeds/demo.atom")
        print(f"                 http://127.0.0.1:{port}/feeds/demo-feed.atom")
        print(f"status page:     http://127.0.0.1:{port}/  (all feeds: /feeds.opml)")
        print(f"health, metrics: http://127.0.0.1:{port}/healthz  /metrics")
        print("Telegram messages are printed below (dry run). Ctrl-C stops.\n", flush=True)
        adder.start()
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, os.kill, os.getpid(), signal.SIGTERM)
        code = await run_service(config_path)
        feed = folder / "feeds" / "demo.atom"
        if feed.exists():
            print(f"\nfeed written: {feed} ({feed.stat().st_size:,} bytes)")
        return code
    finally:
        stop_adding.set()
        with contextlib.suppress(RuntimeError):
            adder.join(timeout=2)
        sim.stop()
