"""Benchmark: building the status page from a real state (relay.service.pages), 1,000 boards.

Why: bench/statuspage.py times the rendering alone; this times what a visitor of `/` costs
with the queries too — board states with counts, pending per chat, per-hour arrivals — on a
SQLite state of `--boards` boards with `--posts` posts each (all pending to one chat, the
worst case for the pending counts; half of them first seen within the sparkline's 48 hours),
then a cached hit, then one board's page.

    .venv/bin/python bench/statuspage_state.py                  # 1000 boards x 200 posts
    .venv/bin/python bench/statuspage_state.py --boards 5000 --posts 50
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.clock import Clock
from relay.core.config import config_from_dict
from relay.core.models import Post
from relay.core.state import NewPost, PageChanges, PollIntent, Validators
from relay.pipeline.deliver import DryRunSender
from relay.service.daemon import Service
from relay.service.pages import StatusPages
from relay.service.parts import Parts


def _fill(state: SqliteState, board_ids: list[str], posts: int, now: datetime) -> None:
    batches = 4
    for board_id in board_ids:
        for batch in range(batches):
            rows = tuple(
                NewPost(
                    Post(str(batch * posts + n), f"http://x.example/{n}", f"글 {n}"), True, False
                )
                for n in range(posts // batches)
            )
            changes = PageChanges(Validators(body_hash=str(batch)), "0", rows, chats=("@c",))
            at = now - timedelta(hours=batch * 20)
            state.apply_poll(board_id, PollIntent(at, True, changes, 1))


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"


async def main(boards: int, posts: int) -> None:
    folder = Path(tempfile.mkdtemp())
    raw = {
        "boards": [
            {"id": f"b{i:05}", "url": f"http://x.example/b{i}", "chat": "@c"} for i in range(boards)
        ]
    }
    config = config_from_dict(raw, folder / "config.toml")
    state = SqliteState(config.state)
    started = time.perf_counter()
    _fill(state, [b.id for b in config.boards], posts, datetime.now(UTC))
    print(f"{boards} boards x {posts} posts written in {_ms(started)}")
    async with Fetcher(user_agent="bench", host_delay=0, timeout=5) as fetcher:
        parts = Parts(config, state, fetcher, DryRunSender(), Clock(), random.Random(1), True)
        pages = StatusPages(Service(parts), refresh=3600)
        started = time.perf_counter()
        page = await pages.index()
        print(f"index, built: {_ms(started)} ({len(page.encode()) / 1e6:.1f} MB)")
        started = time.perf_counter()
        await pages.index()
        print(f"index, cached: {_ms(started)}")
        started = time.perf_counter()
        await pages.board(config.boards[1].id)
        print(f"one board's page: {_ms(started)}")
    state.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boards", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.boards, args.posts))
    sys.exit(0)
