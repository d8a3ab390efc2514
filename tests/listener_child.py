"""A relay listener in a process of its own with a low descriptor limit, driven through stdin.

Run by tests/test_listener_flood.py: `python listener_child.py FEED NOFILE REQUEST_TIMEOUT
ACCEPT_PAUSE`. Prints `url <url>` when listening, then answers one line per command:
`stats` (the listener's counters as JSON), `exhaust` (open /dev/null until EMFILE, holding every
descriptor left), `release` (close them again), `quit` (or end of input: close and exit 0).
Logs go to stderr through relay.service.logs, as under systemd, so the parent can count lines.

/healthz is "ok" only while 32 more files can be opened at once: the descriptors a poll, a feed
write and the state need must stay free whatever clients do to the listener.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import resource
import sys
import threading
from pathlib import Path

from relay.service.listener import ListenerLimits
from relay.service.logs import setup_logging
from relay.service.metrics import Metrics
from relay.service.web import Health, start_web

SPARE = 32


def health() -> Health:
    fds = []
    try:
        for _ in range(SPARE):
            fds.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as e:
        return Health(ok=False, reasons=(f"only {len(fds)} spare descriptors: {e}",))
    finally:
        for fd in fds:
            os.close(fd)
    return Health(ok=True, detail={"spare": SPARE})


async def main(feed: Path, request_timeout: float, accept_pause: float) -> None:
    setup_logging("INFO")
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, "quit")

    limits = ListenerLimits(request_timeout=request_timeout, accept_pause=accept_pause)
    web = await start_web(
        "127.0.0.1",
        0,
        feeds=lambda: {feed.name: feed},
        health=health,
        metrics=Metrics(),
        limits=limits,
    )
    print("url", web.url, flush=True)
    threading.Thread(target=read_stdin, daemon=True).start()
    held: list[int] = []
    while (command := await commands.get()) != "quit":
        if command == "stats":
            stats = dataclasses.asdict(web.stats())
            print(json.dumps({**stats, "cap": web.limits.max_connections}), flush=True)
        elif command == "exhaust":
            try:
                while True:
                    held.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                print("exhausted", len(held), flush=True)
        elif command == "release":
            for fd in held:
                os.close(fd)
            held.clear()
            print("released", flush=True)
    await web.close()


if __name__ == "__main__":
    feed_arg, nofile, timeout, pause = sys.argv[1:5]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(nofile), hard))
    asyncio.run(main(Path(feed_arg), float(timeout), float(pause)))
