"""`python -m relay.sim`: serve the seed board (or N small copies) until Ctrl-C.

Prints the base URL, then one line per board (`name URL`), so a benchmark or a shell can
read where to point board-relay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import sys

from relay.sim.seed import seed_board
from relay.sim.server import BoardSimulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m relay.sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument(
        "--boards", type=int, default=0, help="host N copies named b0..bN-1 with 5-post pages"
    )
    parser.add_argument(
        "--add-every", type=float, default=0.0, metavar="SECONDS",
        help="add a post to a random board every SECONDS",
    )  # fmt: skip
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    sim = BoardSimulator(args.host, args.port)
    if args.boards:
        boards = [seed_board(sim, f"b{i}", page_size=5, id_seed=i) for i in range(args.boards)]
    else:
        boards = [seed_board(sim)]
    await sim.start_async()
    print(f"relay.sim serving {sim.base_url}", flush=True)
    for board in boards:
        print(f"{board.name} {board.list_url}", flush=True)
    rng = random.Random(0)
    try:
        for n in itertools.count(1):
            if args.add_every <= 0:
                await asyncio.Event().wait()
            await asyncio.sleep(args.add_every)
            board = rng.choice(boards)
            board.add_post(f"[속보] 시뮬레이터 새 글 {n}", "랭크뉴스", f"새 글 {n}의 본문입니다.")
    finally:
        await sim.stop_async()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
