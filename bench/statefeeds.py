"""Benchmark: a feed served from the state (relay.service.statefeeds), on SQLite and PostgreSQL.

Why: with a shared state every instance's listener renders every board's feed from the state,
so a feed reader's request costs a feed-version read (cached bytes) or a read of the posts and
a render (the board changed). This fills a state with `--boards` boards of `--posts` posts,
then times, per state, in this process (no HTTP: the listener adds the same for both):

- hit: `StateFeeds.load` of a feed whose version is unchanged (one read of the board's row);
- render: the same after the board's feed changed (a `set_article` first, untimed): the
  version read, the posts read, the feed rendered;
- file: the same bytes read from a file, as the single-instance listener serves them.

    .venv/bin/python bench/statefeeds.py                     # 200 boards x 50 posts
    .venv/bin/python bench/statefeeds.py --boards 1000 --iterations 2000

PostgreSQL is a throwaway durable server on loopback (bench/statebackend.py).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from statebackend import ROOT, open_backend

sys.path.insert(0, str(ROOT / "tests"))


def fill(state: Any, boards: int, posts: int) -> None:
    from relay.core.models import Article, Post
    from relay.core.state import NewPost, PageChanges, PollIntent, Validators

    at = datetime(2026, 12, 1, tzinfo=UTC)
    for b in range(boards):
        new = tuple(
            NewPost(
                Post(str(i), f"http://b{b}.example/{i}", f"글 제목 {i}", number=i, author="작성자"),
                announce=False,
                fetch_article=True,
                article=Article("요약 " * 40, "본문 " * 200),
            )
            for i in range(1, posts + 1)
        )
        state.apply_poll(f"b{b}", PollIntent(at, True, PageChanges(Validators(), "1", new)))


def timed(
    calls: int, step: Callable[[int], object], before: Callable[[int], object] = lambda i: None
) -> dict[str, float]:
    """Median and p95 of `step(i)`, µs; `before(i)` runs first, untimed."""
    samples = []
    for i in range(calls):
        before(i)
        started = time.perf_counter()
        step(i)
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return {
        "median_us": round(statistics.median(samples), 1),
        "p95_us": round(samples[int(0.95 * (len(samples) - 1))], 1),
    }


def run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    from conftest import make_config  # type: ignore[import-not-found]

    from relay.adapters.files import write_atomically
    from relay.core.clock import Clock
    from relay.core.models import Article
    from relay.entry.wiring import open_state
    from relay.pipeline.feed import render_feeds
    from relay.service.statefeeds import StateFeeds
    from relay.service.web import _FeedFiles, feeds_of

    folder = Path(tempfile.mkdtemp(prefix=f"relay-statefeeds-{kind}-"))
    with open_backend(kind, folder) as backend:
        entries = [{"id": f"b{i}", "url": f"http://b{i}.example/"} for i in range(args.boards)]
        config = make_config(folder, entries, state=backend.setting)
        with open_state(config, lock=False) as state:
            fill(state, args.boards, args.posts)
            feeds = StateFeeds(lambda: config.boards, state, Clock())
            rng = random.Random(1)
            names = [f"b{rng.randrange(args.boards)}" for _ in range(args.iterations)]
            for board in config.boards:  # every feed rendered once, and its file written
                feeds.load(board.feed_path.name)
                posts = state.feed_posts(board.id, board.feed_entries)
                write_atomically(board.feed_path, render_feeds(board, posts).atom)
            files = _FeedFiles(lambda: feeds_of(config.boards))
            out: dict[str, Any] = {"state": kind, "boards": args.boards, "posts": args.posts}
            out["feed_bytes"] = len(feeds.load("b0.atom").data)  # type: ignore[union-attr]
            out["hit"] = timed(args.iterations, lambda i: feeds.load(f"{names[i]}.atom"))
            out["file"] = timed(args.iterations, lambda i: files.load(f"{names[i]}.atom"))

            def change(i: int) -> None:  # a late article: the board's feed version moves
                state.set_article(names[i], "1", Article(f"늦은 요약 {i}", "본문"))

            out["render"] = timed(args.renders, lambda i: feeds.load(f"{names[i]}.atom"), change)
            out["set_article"] = timed(args.renders, change)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/statefeeds.py", description=__doc__)
    parser.add_argument("--boards", type=int, default=200)
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--states", default="sqlite,postgresql")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = [run(kind, args) for kind in args.states.split(",")]
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
