"""Benchmark: `relay.core.statuspage.render_index` for 1,000 boards (and other counts).

Why: the issue asks that `/` answer "in well under 100 ms with 1,000 boards". Rendering is the
part of that answer this module owns (the web layer adds reading the state), so it is measured
alone, on records shaped like a busy deployment's: every board with a title in Korean, three
routes of pending deliveries, and one new post every 20 minutes over the 48 hours the sparkline
shows: each board draws its own number of posts (0 to 300, 150 on average) at random times
from a seeded generator, so no two sparklines are alike; a tenth of the boards failing, some
quiet.

    .venv/bin/python bench/statuspage.py                  # 1000 boards, 30 runs
    .venv/bin/python bench/statuspage.py --boards 100,1000,5000 --runs 50

Wall time per call (time.perf_counter_ns) and this process's CPU time (time.process_time_ns)
after a warm-up, garbage collector on; prints the wall median and 95th percentile, the CPU
median and minimum in ms, the load average, and the page's size. On a machine shared with
other work the wall figures wander; the CPU figures are what the page itself costs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from relay.core.statuspage import BoardRow, RoutePending, render_index

NOW = datetime(2025, 2, 5, 6, 30, tzinfo=UTC)
KST = ZoneInfo("Asia/Seoul")


def boards(count: int) -> list[BoardRow]:
    rows = []
    rng = random.Random(12)
    for n in range(count):
        recent = rng.randint(0, 300)
        # Oldest first, as the state's query returns them (any order is counted right).
        seen = tuple(
            sorted(NOW - timedelta(seconds=rng.uniform(0, 48 * 3600)) for _ in range(recent))
        )
        failing = n % 10 == 0
        rows.append(
            BoardRow(
                id=f"board{n}",
                title=f"게시판 {n} — 자유게시판 & <잡담>",
                url=f"https://site{n % 50}.example.kr/free{n}",
                feed_name=f"board{n}.atom",
                json_feed_name=f"board{n}.json" if n % 2 else "",
                ok=not failing,
                problem="layout" if failing else "",
                backing_off_until=NOW + timedelta(minutes=5) if failing else None,
                quiet_since=NOW - timedelta(hours=3) if n % 17 == 0 and not failing else None,
                last_poll=NOW - timedelta(seconds=30 + n % 300),
                last_success=NOW - timedelta(minutes=2 + (60 if failing else 0)),
                last_new=NOW - timedelta(minutes=n % 90),
                failures=3 if failing else 0,
                posts_known=500 + n,
                pending=(
                    RoutePending("telegram", f"@chan{n}", n % 4),
                    RoutePending("admin", "@admin", 0, n % 2),
                    RoutePending("mirror", "-100200300", 1),
                ),
                source=f"https://site{n % 50}.example.kr/free{n}",
                first_seen=seen,
            )
        )
    return rows


@dataclass(frozen=True)
class Result:
    wall_median: float  # ms
    wall_p95: float
    cpu_median: float  # ms of this process's CPU: what other processes on the cores leave out
    cpu_min: float
    page_bytes: int


def measure(count: int, runs: int) -> Result:
    rows = boards(count)
    page = render_index(rows, now=NOW, tz=KST)  # warm-up
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter_ns(), time.process_time_ns()
        render_index(rows, now=NOW, tz=KST)
        cpu.append((time.process_time_ns() - start_cpu) / 1e6)
        wall.append((time.perf_counter_ns() - start) / 1e6)
    wall.sort()
    p95 = wall[min(len(wall) - 1, round(0.95 * (len(wall) - 1)))]
    return Result(
        statistics.median(wall), p95, statistics.median(cpu), min(cpu), len(page.encode())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boards", default="1000", help="comma-separated board counts")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"{'boards':>7}  {'wall median':>11}  {'wall p95':>8}  {'cpu median':>10}  "
        f"{'cpu min':>7}  {'page KiB':>8}"
    )
    for count in (int(c) for c in args.boards.split(",")):
        r = measure(count, args.runs)
        print(
            f"{count:>7}  {r.wall_median:>9.1f}ms  {r.wall_p95:>6.1f}ms  {r.cpu_median:>8.1f}ms"
            f"  {r.cpu_min:>5.1f}ms  {r.page_bytes / 1024:>8.0f}"
        )


if __name__ == "__main__":
    main()
