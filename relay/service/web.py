"""The optional HTTP listener of `relay run`: the Atom files, /healthz and /metrics.

Feeds are served from `feeds_dir` by bare file name only (`ranknews.atom`): no subfolders, no
hidden files (the atomic writer's temp files are `.name.xyz.tmp`), no symlinks, so a request can
never read outside the folder. Each request reads the file whole through one descriptor: the
writer swaps files with os.replace, so the bytes, size and mtime always belong to one version.
The strong ETag is a hash of those bytes, cached per (inode, mtime_ns, size) so a large feed is
not re-hashed for every reader's poll.

Access logging is off: a feed reader fetching every few minutes from many clients would bury
the service's own one-line-per-event log in journald. Knows nothing of polling or Telegram.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from relay.service.metrics import Metrics

log = logging.getLogger(__name__)

FEED_CONTENT_TYPE = "application/atom+xml"
FEED_MAX_AGE = 60  # seconds; boards are polled every few minutes at most
# A plain file name: starts with a letter or digit, dot-separated parts (so never ".."), and an
# .atom or .xml suffix. Route matching already excludes "/", but %2F decodes into match_info.
FEED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.(?:atom|xml)")
SHUTDOWN_TIMEOUT = 5.0  # seconds to let in-flight requests finish on close()


@dataclass(frozen=True, slots=True)
class Health:
    """What /healthz reports: ok, or the reasons it is not, plus JSON-able detail."""

    ok: bool
    reasons: tuple[str, ...] = ()
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Feed:
    data: bytes
    etag: str  # unquoted
    mtime: int  # whole Unix seconds, as Last-Modified carries it


class _FeedFiles:
    """Reads feed files by name (in a worker thread) and remembers their hashes."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._etags: dict[str, tuple[tuple[int, int, int], str]] = {}

    def load(self, name: str) -> _Feed | None:
        """The feed called `name`, or None when there is no such regular file."""
        if not FEED_NAME.fullmatch(name):
            return None
        try:
            # O_NOFOLLOW: a symlink planted in the folder must not lead a reader elsewhere.
            fd = os.open(self._folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):  # ELOOP: it is a symlink
                return None
            raise  # permissions, I/O: an operator's problem, a 500 and a logged traceback
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # a directory or fifo named like a feed
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read()
        finally:
            os.close(fd)
        key = (st.st_ino, st.st_mtime_ns, len(data))
        cached = self._etags.get(name)
        if cached is not None and cached[0] == key:
            etag = cached[1]
        else:
            etag = hashlib.blake2b(data, digest_size=16).hexdigest()
            self._etags[name] = (key, etag)
        return _Feed(data, etag, st.st_mtime_ns // 1_000_000_000)

    def names(self) -> list[str]:
        """The feed files present, sorted."""
        try:
            with os.scandir(self._folder) as it:
                entries = list(it)
        except FileNotFoundError:
            return []
        return sorted(
            e.name
            for e in entries
            if FEED_NAME.fullmatch(e.name) and e.is_file(follow_symlinks=False)
        )


class WebServer:
    """A started listener: `url` is where it answers (the real port when 0 was asked)."""

    def __init__(self, runner: web.AppRunner, url: str) -> None:
        self._runner = runner
        self.url = url

    async def close(self) -> None:
        """Stop listening and let in-flight requests finish (bounded). Safe to call twice."""
        await self._runner.cleanup()


async def start_web(
    host: str,
    port: int,
    *,
    feeds_dir: Path,
    health: Callable[[], Health],
    metrics: Metrics,
) -> WebServer:
    """Listen on host:port. Raises OSError (address in use, no such address) naming both."""
    routes = _Routes(_FeedFiles(feeds_dir), health, metrics)
    app = web.Application()
    app.router.add_get("/", routes.index)
    app.router.add_get("/feeds/{name}", routes.feed)
    app.router.add_get("/healthz", routes.healthz)
    app.router.add_get("/metrics", routes.metrics)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return WebServer(runner, f"http://{shown}:{bound_port}")


class _Routes:
    """The request handlers, closed over their collaborators (no app-level state)."""

    def __init__(self, files: _FeedFiles, health: Callable[[], Health], metrics: Metrics) -> None:
        self._files = files
        self._health = health
        self._metrics = metrics

    async def feed(self, request: web.Request) -> web.StreamResponse:
        feed = await asyncio.to_thread(self._files.load, request.match_info["name"])
        if feed is None:
            raise web.HTTPNotFound(text="no such feed\n")
        if _not_modified(request, feed):
            response = web.Response(status=304)
        else:
            response = web.Response(body=feed.data)
            response.content_type = FEED_CONTENT_TYPE
            response.charset = "utf-8"
        response.etag = feed.etag
        response.last_modified = feed.mtime
        response.headers["Cache-Control"] = f"max-age={FEED_MAX_AGE}"
        return response

    async def healthz(self, request: web.Request) -> web.Response:
        try:
            health = self._health()
            body = {"ok": health.ok, "reasons": list(health.reasons), "detail": dict(health.detail)}
            text = json.dumps(body, ensure_ascii=False, default=str, indent=1)
            status = 200 if health.ok else 503
        except Exception as e:  # a broken check is itself unhealthy, never a 500
            log.warning("health check failed: %s: %s", type(e).__name__, e)
            reason = f"health check failed: {type(e).__name__}: {e}"
            text = json.dumps({"ok": False, "reasons": [reason]}, ensure_ascii=False)
            status = 503
        return web.Response(
            text=text + "\n",
            status=status,
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def metrics(self, request: web.Request) -> web.Response:
        # Off the loop: with thousands of boards the text runs to megabytes.
        body, content_type = await asyncio.to_thread(self._metrics.render)
        return web.Response(
            body=body, headers={"Content-Type": content_type, "Cache-Control": "no-store"}
        )

    async def index(self, request: web.Request) -> web.Response:
        names = await asyncio.to_thread(self._files.names)
        lines = ["board-relay", "", "Feeds:"]
        lines += [f"  /feeds/{name}" for name in names] or ["  (none yet)"]
        lines += [
            "",
            "  /healthz   200 when healthy, 503 with the reasons (JSON)",
            "  /metrics   Prometheus metrics",
        ]
        return web.Response(text="\n".join(lines) + "\n")


def _not_modified(request: web.Request, feed: _Feed) -> bool:
    """RFC 9110 §13.2.2: If-None-Match (weak comparison) decides; else If-Modified-Since."""
    tags = request.if_none_match
    if tags is not None:
        return any(tag.value in ("*", feed.etag) for tag in tags)
    since = request.if_modified_since
    return since is not None and since.timestamp() >= feed.mtime
