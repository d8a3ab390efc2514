"""Benchmark: `relay run` polling 10 to 10,000 simulated boards. CPU, memory, lag, latency.

Why: the service is meant to hold thousands of boards on one small machine. This measures,
per board count N, with every process on this machine and all traffic on 127.0.0.0/8:

- mean CPU of the relay process over the window, as % of one core (utime+stime from
  /proc/PID/stat), split into the event-loop thread and the worker threads (sqlite, files);
- RSS: steady (mean VmRSS over the window), the window's peak, and VmHWM (the peak since start,
  cold start included);
- poll start lag: when APScheduler meant a board's job to run vs when the job's coroutine
  actually started, read from APScheduler's own "Running job ... (scheduled at ...)" record;
- end-to-end latency: from the moment the simulator adds a post to the moment the fake
  Telegram Bot API receives the message about it (both stamped with CLOCK_MONOTONIC, which is
  one clock for every process on Linux).

    .venv/bin/python bench/scale.py                         # N = 1, 10, 100, 1000, 10000
    .venv/bin/python bench/scale.py --boards 10,100 --window 180
    .venv/bin/python bench/scale.py --quick                 # 10 boards, 10 s interval, ~1 min
    .venv/bin/python bench/scale.py --boards 10000 --profile /tmp/relay.prof

How it runs (the parts are separate processes, like in production):
- the simulator (relay.sim's BoardSimulator) runs in a child process (`scale.py _sim`). Boards
  are spread over hosts, `--boards-per-host` per host, each host its own loopback address
  127.77.x.y (Linux routes all of 127.0.0.0/8 to lo). The relay's fetcher serializes requests
  per host with `host_delay` between them, so one host for 10,000 boards would measure that
  politeness queue, not the relay; real deployments follow many sites, a few boards each.
  The child adds posts when told to on stdin and prints when it did.
- the fake Bot API (tests/fakebot.py) runs in a thread of this process; each board has its
  own channel, so Telegram's 20-messages-per-minute group limit never queues a message.
- the relay is `relay run -c CONFIG`, started as `scale.py _relay CONFIG`: that calls
  `relay.entry.cli.main(["run", "-c", CONFIG])` after one logging change, since
  relay.service.logs silences
  APScheduler: the executor's "Running job" record is let through (shortened to its two
  timestamps), its "executed successfully" record is dropped. Nothing in relay/ is patched.
  The cost is one short log line per poll, next to the one line per poll the relay writes.

Timeline of one N: start everything; wait until every board has finished its first poll
(the cold start: page 1 and every article on it); then measure for `--window` seconds while
the simulator adds posts to random boards (min(1, N/20) posts per second); then wait up to
one interval + 15 s for the messages still on their way. Every phase has a time bound; the
children are stopped (SIGTERM, then SIGKILL) on exit, error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from statebackend import open_backend, per_poll

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "scale_results.json"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = 5  # posts per simulated list page (plus the seed's 2 notices)
TITLE_MARK = re.compile(r"scale post #(\d+)#")

# --------------------------------------------------------------------------------------------
# child 1: the simulator
# --------------------------------------------------------------------------------------------


def host_address(index: int) -> str:
    """Loopback address of simulated host `index` (127.77.0.1, 127.77.0.2, ...)."""
    return f"127.77.{index // 250}.{index % 250 + 1}"


async def _sim_serve(first: int, last: int, per_host: int) -> None:
    from relay.sim import BoardSimulator, seed_board

    sims: dict[int, BoardSimulator] = {}
    boards = {}
    for i in range(first, last):
        host = i // per_host
        if host not in sims:
            sims[host] = BoardSimulator(host_address(host), 0)
        boards[f"b{i}"] = seed_board(sims[host], f"b{i}", page_size=PAGE_SIZE, id_seed=i)
    for sim in sims.values():
        await sim.start_async()
    out = [f"BOARD {name} {board.list_url}" for name, board in boards.items()]
    print("\n".join(out + ["READY"]), flush=True)

    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str | None] = asyncio.Queue()

    def read_stdin() -> None:  # a thread: stdin is a pipe, and this keeps it simple
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, None)

    threading.Thread(target=read_stdin, daemon=True).start()
    last_clear = time.monotonic()
    try:
        while (command := await commands.get()) is not None:
            name, number = command.split()  # "ADD" lines only: "<board> <n>"
            board = boards[name]
            board.add_post(f"scale post #{number}#", "bench", f"본문 {number}입니다.")
            print(f"ADDED {number} {time.monotonic():.6f}", flush=True)
            if time.monotonic() - last_clear > 30:  # the request logs would grow for ever
                last_clear = time.monotonic()
                for sim in sims.values():
                    sim.requests.clear()
                for board in boards.values():
                    board.clear_requests()
    finally:
        for sim in sims.values():
            await sim.stop_async()


def sim_main(argv: list[str]) -> int:
    first, last, per_host = (int(a) for a in argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_sim_serve(first, last, per_host))
    return 0


# --------------------------------------------------------------------------------------------
# child 2: the relay, with APScheduler's "Running job" record let through
# --------------------------------------------------------------------------------------------


class _RunningJob(logging.Filter):
    """Keep APScheduler's "Running job" record, cut to `@<started> sched=<scheduled> job=<id>`.

    `record.created` is taken when the job's coroutine starts; the scheduled time is the
    jittered run time APScheduler chose. Cheaper than formatting the Job, which prints its
    trigger and next run time.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True  # "was missed by", "maximum number of running instances": keep
        if not str(record.msg).startswith("Running job"):
            return False
        job, run_time = cast(tuple[Any, datetime], record.args)
        record.msg = f"@{record.created:.6f} sched={run_time.timestamp():.6f} job={job.id}"
        record.args = None
        return True


def relay_main(argv: list[str]) -> int:
    from relay.entry.cli import main

    executor = logging.getLogger("apscheduler.executors.default")
    executor.setLevel(logging.INFO)  # relay.service.logs sets the parent "apscheduler" to WARNING
    executor.addFilter(_RunningJob())
    # The bench counts polls from relay.pipeline.poll's line per poll; an unchanged poll logs it at
    # DEBUG (not worth a journal line in production), so let that one logger through.
    logging.getLogger("relay.pipeline.poll").setLevel(logging.DEBUG)
    if os.environ.get("BENCH_RELAY_LOG"):  # see read_relay_log
        logging.getLogger("relay").setLevel(logging.DEBUG)
    return main(["run", "-c", argv[0]])


# --------------------------------------------------------------------------------------------
# the bench: processes, sampling, log reading
# --------------------------------------------------------------------------------------------


def cpu_seconds(stat_path: str) -> float:
    """utime + stime of a process or thread, in seconds."""
    with open(stat_path) as f:
        fields_ = f.read().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / CLK_TCK


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Sample:
    at: float  # monotonic
    cpu: float  # seconds, whole relay processes (summed over the instances)
    cpu_main: float  # seconds, their event-loop threads (TID == PID)
    rss_kb: int  # summed over the instances
    sim_cpu: float
    machine: tuple[float, float]
    server_cpu: float = 0.0  # seconds, the PostgreSQL server (0 with SQLite)


def take_sample(pids: list[int], sim_pids: list[int], server_cpu: float = 0.0) -> Sample:
    return Sample(
        at=time.monotonic(),
        cpu=sum(cpu_seconds(f"/proc/{pid}/stat") for pid in pids),
        cpu_main=sum(cpu_seconds(f"/proc/{pid}/task/{pid}/stat") for pid in pids),
        rss_kb=sum(status_kb(pid, "VmRSS") for pid in pids),
        sim_cpu=sum(cpu_seconds(f"/proc/{p}/stat") for p in sim_pids),
        machine=machine_busy(),
        server_cpu=server_cpu,
    )


@dataclass
class RelayLog:
    """What the relay's stderr tells, read line by line in a thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    first_polled: set[str] = field(default_factory=set)
    starts: list[tuple[float, float, str]] = field(default_factory=list)  # (wall, sched, board)
    polls: list[tuple[float, str, int, bool]] = field(default_factory=list)  # at, board, ms, unch
    failures: list[tuple[float, str]] = field(default_factory=list)
    missed: list[tuple[float, str]] = field(default_factory=list)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    ready: threading.Event = field(default_factory=threading.Event)


_POLL = re.compile(
    r"relay\.pipeline\.poll: board=(\S+) new=\d+ announced=\d+ pages=\d+ ms=(\d+)(.*)"
)
_FAILED = re.compile(r"relay\.pipeline\.poll: board=(\S+) failed")
_START = re.compile(r"@([\d.]+) sched=([\d.]+) job=(\S+)")


def read_relay_log(stream: Any, log: RelayLog) -> None:
    dump = open(os.environ["BENCH_RELAY_LOG"], "a") if os.environ.get("BENCH_RELAY_LOG") else None
    for raw in stream:
        if dump:
            dump.write(f"{time.monotonic():.3f} {raw}")
            dump.flush()
        line = raw.rstrip("\n")
        now = time.monotonic()
        with log.lock:
            if match := _START.search(line):
                log.starts.append((float(match[1]), float(match[2]), match[3]))
                continue
            if match := _POLL.search(line):
                board = match[1]
                log.polls.append((now, board, int(match[2]), "unchanged" in match[3]))
                log.first_polled.add(board)
                continue
            if match := _FAILED.search(line):
                log.failures.append((now, match[1]))
                log.first_polled.add(match[1])
            elif "was missed by" in line or "maximum number of running instances" in line:
                log.missed.append((now, line[:200]))
            elif "running:" in line:
                log.ready.set()
            log.tail.append(line)


@dataclass
class Sim:
    proc: subprocess.Popen[str]
    boards: dict[str, str] = field(default_factory=dict)  # name -> list URL
    added: dict[int, float] = field(default_factory=dict)  # post number -> monotonic
    ready: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def read_sim(sim: Sim) -> None:
    assert sim.proc.stdout is not None
    for line in sim.proc.stdout:
        parts = line.split()
        if parts[:1] == ["BOARD"]:
            sim.boards[parts[1]] = parts[2]
        elif parts[:1] == ["READY"]:
            sim.ready.set()
        elif parts[:1] == ["ADDED"]:
            with sim.lock:
                sim.added[int(parts[1])] = float(parts[2])


class Children:
    """Every child process started, stopped on the way out whatever happens."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        proc = subprocess.Popen(args, text=True, **kwargs)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[str], grace: float = 15.0) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(OSError):
                self.stop(proc, grace=10.0)
        self.procs.clear()


def write_config(
    folder: Path,
    boards: dict[str, str],
    args: argparse.Namespace,
    api: str,
    *,
    name: str = "config.toml",
    host_delay: float | None = None,
    extra: tuple[str, ...] = (),
    state: str = "state.db",
) -> Path:
    lines = [
        "[relay]",
        f'state = "{state}"',
        'feeds_dir = "feeds"',
        f"interval = {args.interval}",
        f"host_delay = {args.host_delay if host_delay is None else host_delay}",
        "timeout = 20",
        *extra,
        "",
        "[telegram]",
        f'api_url = "{api}"',
        "",
    ]
    for board, url in boards.items():
        lines += ["[[boards]]", f'id = "{board}"', f'url = "{url}"', 'engine = "rhymix"',
                  f'chat = "@scale_{board}"', ""]  # fmt: skip
    path = folder / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# --------------------------------------------------------------------------------------------
# one board count
# --------------------------------------------------------------------------------------------


def run_one(n: int, args: argparse.Namespace, children: Children) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    from fakebot import DEFAULT_TOKEN, FakeBot  # type: ignore[import-not-found]

    folder = Path(tempfile.mkdtemp(prefix=f"relay-scale-{n}-"))
    per_host = args.boards_per_host
    hosts = -(-n // per_host)
    bot = FakeBot(chats=tuple(f"@scale_b{i}" for i in range(n))).start()
    result: dict[str, Any] = {"boards": n, "hosts": hosts, "boards_per_host": per_host,
                              "interval_s": args.interval, "host_delay_s": args.host_delay,
                              "window_s": args.window, "state": args.state,
                              "instances": args.instances, "load_before": _load()}  # fmt: skip
    t0 = time.monotonic()
    stack = contextlib.ExitStack()
    try:
        backend = stack.enter_context(open_backend(args.state, folder))
        sims = _start_sims(n, args, children)
        boards = {k: v for s in sims for k, v in s.boards.items()}
        result["sim_start_s"] = round(time.monotonic() - t0, 1)
        configs = []
        for k in range(args.instances):  # each instance its own folder (feeds), like a machine
            where = folder if args.instances == 1 else folder / f"i{k}"
            where.mkdir(exist_ok=True)
            configs.append(write_config(where, boards, args, bot.api_url, state=backend.setting))
        env = dict(os.environ, RELAY_TELEGRAM_TOKEN=DEFAULT_TOKEN, PYTHONUNBUFFERED="1")
        if not args.cold:
            result["prewarm_s"] = _prewarm(
                folder, boards, args, bot.api_url, env, children, backend.setting
            )
            print(
                f"  N={n}: state prewarmed by `relay once` in {result['prewarm_s']} s", flush=True
            )
        relays: list[subprocess.Popen[str]] = []
        logs: list[RelayLog] = []
        t_relay = time.monotonic()
        for config in configs:
            command = [sys.executable, str(Path(__file__).resolve()), "_relay", str(config)]
            if args.profile:
                command[1:1] = ["-m", "cProfile", "-o", str(Path(args.profile).resolve())]
            log = RelayLog()
            relay = children.start(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   env=env, cwd=config.parent)  # fmt: skip
            threading.Thread(target=read_relay_log, args=(relay.stderr, log), daemon=True).start()
            relays.append(relay)
            logs.append(log)
        pids = [relay.pid for relay in relays]
        sim_pids = [s.proc.pid for s in sims]
        samples: list[Sample] = []

        def running() -> bool:
            return all(relay.poll() is None for relay in relays)

        def sample() -> Sample:
            return take_sample(pids, sim_pids, backend.server_cpu())

        def sample_until(deadline: float, stop: Any = lambda: False) -> None:
            while time.monotonic() < deadline and running() and not stop():
                samples.append(sample())
                time.sleep(1.0)

        def ready() -> bool:
            return all(log.ready.is_set() for log in logs)

        def polled() -> int:
            return len(merged(logs).first_polled)

        sample_until(t_relay + args.startup_timeout, ready)
        if not ready():
            tails = "\n".join(line for log in logs for line in log.tail)
            raise RuntimeError("relay did not start:\n" + tails)
        result["relay_start_s"] = round(time.monotonic() - t_relay, 1)
        print(f"  N={n}: relay up in {result['relay_start_s']} s", flush=True)

        warm_limit = time.monotonic() + args.warmup_timeout + 0.06 * n
        sample_until(warm_limit, lambda: polled() >= n)
        result["first_round_s"] = round(time.monotonic() - t_relay, 1)
        # the window starts once every board was polled and the first interval is over
        sample_until(min(warm_limit, t_relay + args.interval + 5))
        result["first_round_complete"] = polled() >= n
        result["startup_rss_peak_mb"] = round(max((s.rss_kb for s in samples), default=0) / 1024, 1)
        result["startup_cpu_pct"] = _cpu_pct(samples, samples[0].at if samples else 0)
        print(
            f"  N={n}: all boards polled in {result['first_round_s']} s "
            f"({polled()}/{n} boards); window {args.window:g} s...",
            flush=True,
        )

        # --- the window: posts arrive, everything is sampled -----------------------------
        rate = min(1.0, n / 20)
        rng = random.Random(n)
        names = list(boards)
        owner = {name: s for s in sims for name in s.boards}
        backend.reset_statements()
        w_start = time.monotonic()
        w_end = w_start + args.window
        next_add, number = w_start, 0
        while time.monotonic() < w_end and running():
            now = time.monotonic()
            if now >= next_add:
                number += 1
                name = rng.choice(names)
                stdin = owner[name].proc.stdin
                assert stdin is not None
                stdin.write(f"{name} {number}\n")
                stdin.flush()
                next_add += 1 / rate
            if not samples or now - samples[-1].at >= 1.0:
                samples.append(sample())
            time.sleep(max(0.0, min(next_add, samples[-1].at + 1.0) - time.monotonic()))
        window = [s for s in samples if s.at >= w_start]
        statements = backend.statements()
        hwm = sum(status_kb(pid, "VmHWM") for pid in pids)

        # --- messages still on their way ----------------------------------------------------
        def delivered() -> set[int]:
            return {int(m[1]) for msg in bot.messages if (m := TITLE_MARK.search(msg.text))}

        drain_end = time.monotonic() + args.interval * 1.1 + 15
        while time.monotonic() < drain_end and len(delivered()) < number:
            time.sleep(1.0)
        result.update(_window_figures(n, args, window, hwm, merged(logs), w_start, w_end))
        result["e2e"] = _latency(sims, bot.messages, number)
        if args.state != "sqlite":
            result["postgres"] = per_poll(statements, result["polls_in_window"])
            result["instances_spread"] = _spread(backend.leases(), logs, w_start, w_end)
        if args.instances > 1 and args.kill:
            result["kill"] = _kill_one(relays, logs, backend, args)
        result["relay_exit"] = None
        for relay in relays:
            children.stop(relay)
        result["relay_exit"] = [relay.returncode for relay in relays]
        if args.profile:
            result["profile"] = str(Path(args.profile).resolve())
        return result
    finally:
        children.stop_all()
        bot.stop()
        stack.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            result["folder"] = str(folder)


def merged(logs: list[RelayLog]) -> RelayLog:
    """The instances' logs as one (a copy): every poll, start, failure of any of them."""
    if len(logs) == 1:
        return logs[0]
    out = RelayLog()
    for log in logs:
        with log.lock:
            out.first_polled |= log.first_polled
            out.starts += log.starts
            out.polls += log.polls
            out.failures += log.failures
            out.missed += log.missed
    return out


def _spread(
    leases: dict[str, int], logs: list[RelayLog], w_start: float, w_end: float
) -> dict[str, Any]:
    """How evenly the boards are shared: leases held per owner (from the state), and boards
    polled per instance in the window (from each one's log)."""
    polled = []
    for log in logs:
        with log.lock:
            polled.append(len({p[1] for p in log.polls if w_start <= p[0] <= w_end}))
    return {"leases_per_owner": sorted(leases.values()), "boards_polled_per_instance": polled}


def _kill_one(
    relays: list[subprocess.Popen[str]],
    logs: list[RelayLog],
    backend: Any,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """kill -9 the last instance; how long until the others hold all the boards' leases (the
    state's lease table) and have polled every board the killed one was polling."""
    victim, victim_log = relays[-1], logs[-1]
    survivors = logs[:-1]
    with victim_log.lock:
        cutoff = time.monotonic() - 2 * args.interval
        orphans = {p[1] for p in victim_log.polls if p[0] >= cutoff}
    leases_before = backend.leases()
    victim.kill()
    victim.wait(10)
    killed = time.monotonic()
    out: dict[str, Any] = {"boards_of_killed": len(orphans), "leases_before": leases_before,
                           "bound_s": args.kill_timeout}  # fmt: skip
    deadline = killed + args.kill_timeout
    total = sum(leases_before.values())
    mark = f"-{victim.pid}-"  # an owner is named host-pid-suffix (relay.entry.wiring)

    def survivors_hold() -> int:
        return sum(n for owner, n in backend.leases().items() if mark not in owner)

    while time.monotonic() < deadline:
        if "leases_moved_s" not in out and survivors_hold() >= total:
            out["leases_moved_s"] = round(time.monotonic() - killed, 1)
        taken = set()
        for log in survivors:
            with log.lock:
                taken |= {p[1] for p in log.polls if p[0] >= killed}
        left = orphans - taken
        if not left:
            out["all_polled_again_s"] = round(time.monotonic() - killed, 1)
            break
        time.sleep(0.5)
    else:
        out["left_unpolled"] = len(left)
    out["leases_after"] = sorted(backend.leases().values())
    return out


def _load() -> str:
    """The load averages (1, 5, 15 min) before a run: other work on the shared machine."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _prewarm(
    folder: Path,
    boards: dict[str, str],
    args: argparse.Namespace,
    api: str,
    env: dict[str, str],
    children: Children,
    state: str = "state.db",
) -> float:
    """Bring the state to what a running relay holds: `relay once` over every board.

    A first poll reads page 1 and every article on it (8 requests here); `relay run` starts
    all of them within one interval with no bound on polls in flight, which at 10,000 boards
    does not finish (see docs/BENCHMARKS.md). `relay once` bounds them with [relay]
    concurrency; no politeness delay is needed against the local simulator.
    """
    config = write_config(folder, boards, args, api, name="prewarm.toml", host_delay=0.001,
                          extra=("concurrency = 32",), state=state)  # fmt: skip
    started = time.monotonic()
    proc = children.start(
        [sys.executable, "-m", "relay", "--log-level", "WARNING", "once", "-c", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=folder,
    )  # fmt: skip
    try:
        _out, err = proc.communicate(timeout=args.prewarm_timeout)
    except subprocess.TimeoutExpired:
        children.stop(proc)
        raise RuntimeError(f"relay once did not finish in {args.prewarm_timeout:g} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"relay once failed ({proc.returncode}):\n{err[-2000:]}")
    return round(time.monotonic() - started, 1)


def _start_sims(n: int, args: argparse.Namespace, children: Children) -> list[Sim]:
    per_host = args.boards_per_host
    hosts = -(-n // per_host)
    procs = max(1, min(args.sim_procs, hosts))
    cut = [round(hosts * k / procs) * per_host for k in range(procs + 1)]
    sims = []
    for first, last in zip(cut, cut[1:], strict=False):
        proc = children.start(
            [sys.executable, str(Path(__file__).resolve()), "_sim", str(first), str(min(last, n)),
             str(per_host)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        sim = Sim(proc)
        threading.Thread(target=read_sim, args=(sim,), daemon=True).start()
        sims.append(sim)
    for sim in sims:
        if not sim.ready.wait(120 + n * 0.05):
            raise RuntimeError("the simulator did not start")
    return sims


def _cpu_pct(samples: list[Sample], since: float, main: bool = False) -> float | None:
    part = [s for s in samples if s.at >= since]
    if len(part) < 2 or part[-1].at <= part[0].at:
        return None
    first, last = part[0], part[-1]
    used = (last.cpu_main - first.cpu_main) if main else (last.cpu - first.cpu)
    return round(100 * used / (last.at - first.at), 1)


def _window_figures(
    n: int,
    args: argparse.Namespace,
    window: list[Sample],
    hwm_kb: int,
    log: RelayLog,
    w_start: float,
    w_end: float,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    span = window[-1].at - window[0].at if len(window) > 1 else 0.0
    out["cpu_mean_pct"] = _cpu_pct(window, w_start)
    out["cpu_event_loop_thread_pct"] = _cpu_pct(window, w_start, main=True)
    if out["cpu_mean_pct"] is not None and out["cpu_event_loop_thread_pct"] is not None:
        out["cpu_other_threads_pct"] = round(
            out["cpu_mean_pct"] - out["cpu_event_loop_thread_pct"], 1
        )
    # the busiest stretch of 10 s, to show bursts the mean hides
    peaks = [
        100 * (b.cpu - a.cpu) / (b.at - a.at)
        for a, b in zip(window, window[10:], strict=False)
        if b.at > a.at
    ]
    out["cpu_max_10s_pct"] = _r(max(peaks, default=None), 1) if peaks else None
    if span:
        out["simulator_cpu_pct"] = round(100 * (window[-1].sim_cpu - window[0].sim_cpu) / span, 1)
        server = window[-1].server_cpu - window[0].server_cpu
        out["state_server_cpu_pct"] = round(100 * server / span, 1)
        busy = window[-1].machine[0] - window[0].machine[0]
        total = window[-1].machine[1] - window[0].machine[1]
        out["machine_cpu_pct_of_all_cores"] = round(100 * busy / total, 1) if total else None
    rss = [s.rss_kb / 1024 for s in window]
    out["rss_steady_mb"] = _r(sum(rss) / len(rss), 1) if rss else None
    out["rss_window_peak_mb"] = _r(max(rss, default=0.0), 1)
    out["rss_peak_since_start_mb"] = round(hwm_kb / 1024, 1)
    with log.lock:
        lags = [started - sched for started, sched, _ in log.starts
                if w_start <= _mono(started) <= w_end]  # fmt: skip
        polls = [p for p in log.polls if w_start <= p[0] <= w_end]
        failures = [f for f in log.failures if w_start <= f[0] <= w_end]
        missed = [m for m in log.missed if w_start <= m[0] <= w_end]
    out["lag_s"] = {
        "count": len(lags),
        "p50": _r(percentile(lags, 50)),
        "p99": _r(percentile(lags, 99)),
        "max": _r(max(lags, default=None)),
    }
    durations = [p[2] / 1000 for p in polls]
    out["polls_in_window"] = len(polls)
    out["polls_unchanged"] = sum(p[3] for p in polls)
    # APScheduler's jitter adds U(0, 10% of interval) to every gap: mean gap 1.05 intervals
    out["polls_expected"] = round(n * (w_end - w_start) / (args.interval * 1.05))
    out["poll_failures"] = len(failures)
    out["polls_missed_or_skipped"] = len(missed)
    out["poll_duration_s"] = {"p50": _r(percentile(durations, 50)),
                              "p99": _r(percentile(durations, 99)),
                              "max": _r(max(durations, default=None))}  # fmt: skip
    return out


_WALL_TO_MONO = time.time() - time.monotonic()


def _mono(wall: float) -> float:
    return wall - _WALL_TO_MONO


def _latency(sims: list[Sim], messages: list[Any], posted: int) -> dict[str, Any]:
    created: dict[int, float] = {}
    for sim in sims:
        with sim.lock:
            created |= sim.added
    arrived: dict[int, float] = {}
    for msg in messages:
        if (match := TITLE_MARK.search(msg.text)) and int(match[1]) not in arrived:
            arrived[int(match[1])] = msg.time
    latencies = [arrived[k] - created[k] for k in created if k in arrived]
    return {
        "posts": posted,
        "delivered": len(latencies),
        "duplicates": len(messages) - len(arrived),
        "p50_s": _r(percentile(latencies, 50), 2),
        "p99_s": _r(percentile(latencies, 99), 2),
        "max_s": _r(max(latencies, default=None), 2),
    }


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/scale.py",
        description="`relay run` against N simulated boards: CPU, RSS, poll lag, latency.",
    )
    parser.add_argument(
        "--boards",
        default="1,10,100,1000,10000",
        help="board counts, comma-separated (default %(default)s)",
    )
    parser.add_argument("--interval", type=float, default=60.0, help="poll interval, seconds")
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        help="measurement window, seconds (default 3 intervals)",
    )
    parser.add_argument("--boards-per-host", type=int, default=20)
    parser.add_argument(
        "--host-delay",
        type=float,
        default=0.2,
        help="[relay] host_delay (the relay's default is 1.0)",
    )
    parser.add_argument("--sim-procs", type=int, default=1, help="simulator processes")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument(
        "--warmup-timeout",
        type=float,
        default=None,
        help="cold-start bound, seconds, plus 0.06 s per board (default 3 intervals)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no prewarm: `relay run` starts on an empty state (slow at 10,000)",
    )
    parser.add_argument("--prewarm-timeout", type=float, default=900.0)
    parser.add_argument(
        "--state",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="a SQLite file, or a throwaway durable PostgreSQL on loopback",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="relays sharing the boards (postgresql); each its own folder",
    )
    kill_help = "after the window, kill -9 one instance; time the others taking over"
    parser.add_argument("--kill", action="store_true", help=kill_help)
    parser.add_argument("--kill-timeout", type=float, default=300.0)
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the relay under cProfile, writing FILE (use with one N)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 10 boards, 10 s interval, 20 s window"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="results JSON (default bench/scale_results.json; "
                             "--quick writes nothing unless given)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.boards, args.interval = "10", 10.0
        args.window = args.window or 20.0
        if "--out" not in (argv if argv is not None else sys.argv):
            args.out = None
    args.window = args.window or 3 * args.interval
    args.warmup_timeout = args.warmup_timeout or 3 * args.interval
    args.counts = [int(x) for x in args.boards.split(",") if x.strip()]
    if args.instances > 1 and args.state == "sqlite":
        parser.error("--instances > 1 needs --state postgresql (a SQLite state has one relay)")
    if args.profile and args.instances > 1:
        parser.error("--profile profiles one relay: use it with --instances 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    children = Children()

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    report: dict[str, Any] = {
        "command": "bench/scale.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },  # fmt: skip
        "runs": [],
    }
    try:
        for n in args.counts:
            print(f"== {n} boards", flush=True)
            started = time.monotonic()
            run = run_one(n, args, children)
            run["wall_s"] = round(time.monotonic() - started, 1)
            report["runs"].append(run)
            print(json.dumps(run, indent=1, ensure_ascii=False), flush=True)
            if args.out:
                args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    except KeyboardInterrupt:
        print("interrupted: stopping the children", file=sys.stderr)
        return 130
    finally:
        children.stop_all()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["_sim"]:
        sys.exit(sim_main(sys.argv[2:]))
    if sys.argv[1:2] == ["_relay"]:
        sys.exit(relay_main(sys.argv[2:]))
    sys.exit(main())
