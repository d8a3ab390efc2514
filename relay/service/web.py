"""The optional HTTP listener of `relay run`: the Atom files, /healthz and /metrics.

Only the feeds of configured boards are served, by bare file name (`ranknews.atom`): the caller
passes a callable returning the current name -> path mapping (so a reload can change it), and a
name not in it is 404 whatever lies in `feeds_dir` (a temp file, a copy of config.toml, the
state). The file is opened with O_NOFOLLOW and O_NONBLOCK and checked on the *opened*
descriptor (fstat): a symlink, a FIFO (which would block a worker thread in open() or read()
for good), a directory, a device, or a hard link (st_nlink > 1: the same file also has another
name, config.toml say) are all 404. The atomic writer swaps files with os.replace, so its
feeds always have one link. Each request reads the file whole through that one descriptor, so
the bytes, size and mtime belong to one version. The strong ETag is a hash of those bytes,
cached per (path, inode, mtime_ns, size) so a large feed is not re-hashed for every poll.

That is the feed source of a state this instance alone writes. With a shared state the
caller passes a `FeedSource` instead (relay.service.statefeeds: every board's feed rendered
from the state); the routes and the 304 logic are the same for both (relay.service.served).

The TCP side is relay.service.listener (a connection cap, a request deadline, a paused accept
on EMFILE); an aiohttp middleware tells it when a request is in progress, so that only idle or
half-sent connections are ever timed out or evicted. aiohttp's own AppRunner serves the
requests and closes the connections on shutdown; no TCPSite is used.

Access logging is off: a feed reader fetching every few minutes from many clients would bury
the service's own one-line-per-event log in journald. Knows nothing of polling or Telegram.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import resource
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from relay.core.config import Board
from relay.core.errors import StateError
from relay.pipeline.feed import feed_names
from relay.service.listener import LOG_EVERY, Listener, ListenerLimits, ListenerStats, Throttle
from relay.service.metrics import Metrics
from relay.service.served import FeedSource, ServedFeed, etag_of

log = logging.getLogger(__name__)

FEED_CONTENT_TYPE = "application/atom+xml"
JSON_FEED_CONTENT_TYPE = "application/feed+json"
OPML_CONTENT_TYPE = "text/x-opml"
FEED_MAX_AGE = 60  # seconds; boards are polled every few minutes at most
SHUTDOWN_TIMEOUT = 5.0  # seconds to let in-flight requests finish on close()

_NO_STORE = {"Cache-Control": "no-store"}
DEFAULT_LIMITS = ListenerLimits()
FeedFiles = Callable[[], Mapping[str, Path]]  # served name -> its file, as configured right now


def feeds_of(boards: Iterable[Board]) -> dict[str, Path]:
    """The served mapping for these boards: each board's feed file under its bare name, and its
    JSON Feed beside it when the board writes one."""
    return {
        name: board.json_path if is_json else board.feed_path
        for name, (board, is_json) in feed_names(boards).items()
    }


class Pages(Protocol):
    """The pages made from the service's state (relay.service.pages): the OPML of every feed
    and the status pages. Without them, `/` is a plain list of the feeds."""

    def opml(self, base_url: str) -> bytes:
        """Every board's feed; those with no feed_url under `base_url` (this listener)."""
        ...

    async def index(self) -> str: ...

    async def board(self, board_id: str) -> str | None:
        """The board's page, or None when no board has that id."""
        ...


@dataclass(frozen=True, slots=True)
class Health:
    """What /healthz reports: ok, or the reasons it is not, plus JSON-able detail."""

    ok: bool
    reasons: tuple[str, ...] = ()
    detail: Mapping[str, object] = field(default_factory=dict)


class _FeedFiles:
    """Reads the configured feed files (in a worker thread) and remembers their hashes: the
    `FeedSource` of a state that this instance alone writes (SQLite)."""

    def __init__(self, served: FeedFiles) -> None:
        self._served = served
        self._etags: dict[str, tuple[tuple[str, int, int, int], str]] = {}

    def load(self, name: str) -> ServedFeed | None:
        """The feed served as `name`, or None when it is not a configured feed's own file."""
        path = self._served().get(name)
        if path is None:
            return None
        try:
            # O_NOFOLLOW: a symlink must not lead a reader elsewhere. O_NONBLOCK: opening a
            # FIFO with no writer returns at once (the fstat below then refuses it).
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = os.open(path, flags)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):  # ELOOP: it is a symlink
                return None
            raise  # permissions, I/O: an operator's problem, a 500 and a logged traceback
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read()
        finally:
            os.close(fd)
        key = (os.fspath(path), st.st_ino, st.st_mtime_ns, len(data))
        cached = self._etags.get(name)
        if cached is not None and cached[0] == key:
            etag = cached[1]
        else:
            etag = etag_of(data)
            self._etags[name] = (key, etag)
        return ServedFeed(data, etag, st.st_mtime_ns // 1_000_000_000)

    def names(self) -> list[str]:
        """The served feeds whose file is there (a regular file, not a link), sorted."""
        present = []
        for name, path in self._served().items():
            try:
                st = path.lstat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                present.append(name)
        return sorted(present)


class WebServer:
    """A started listener: `url` is where it answers (the real port when 0 was asked)."""

    def __init__(self, runner: web.AppRunner, listener: Listener, url: str) -> None:
        self._runner = runner
        self._listener = listener
        self.url = url

    @property
    def limits(self) -> ListenerLimits:
        """The limits in force (max_connections fitted to the descriptor limit)."""
        return self._listener.limits

    def stats(self) -> ListenerStats:
        return self._listener.stats()

    async def close(self) -> None:
        """Stop listening and let in-flight requests finish (bounded). Safe to call twice."""
        await self._listener.stop_accepting()
        await self._runner.cleanup()
        self._listener.abort_all()  # anything aiohttp's shutdown left open


async def start_web(
    host: str,
    port: int,
    *,
    feeds: FeedFiles | FeedSource,
    health: Callable[[], Health],
    metrics: Metrics,
    limits: ListenerLimits = DEFAULT_LIMITS,
    pages: Pages | None = None,
) -> WebServer:
    """Listen on host:port. Raises OSError (address in use, no such address) naming both.

    `feeds` is the feed files' mapping, asked on every request (the served name -> file, see
    `feeds_of`), or a `FeedSource` (the feeds rendered from a shared state).
    `limits.max_connections` is lowered to a quarter of the process's descriptor limit.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY:
        limits = limits.fitted(soft)
    source = _FeedFiles(feeds) if callable(feeds) else feeds
    routes = _Routes(source, health, metrics, pages)

    def protocol() -> asyncio.Protocol:  # aiohttp's, once runner.setup() has made its server
        assert runner.server is not None
        return runner.server()

    listener = Listener(protocol, limits)
    app = web.Application(middlewares=[_in_progress(listener)])
    app.router.add_get("/", routes.index)
    app.router.add_get("/boards/{board_id}", routes.board)
    app.router.add_get("/feeds.opml", routes.opml)
    app.router.add_get("/feeds/{name}", routes.feed)
    app.router.add_get("/healthz", routes.healthz)
    app.router.add_get("/metrics", routes.metrics)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    try:
        await listener.start(host, port)
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = listener.addresses[0]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return WebServer(runner, listener, f"http://{shown}:{bound_port}")


def _in_progress(listener: Listener) -> Middleware:
    """Middleware: while a request is handled its connection is busy (no deadline, no eviction)."""

    @web.middleware
    async def mark(request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        listener.request_started(transport)
        try:
            return await handler(request)
        finally:
            listener.request_finished(transport)

    return mark


class _Routes:
    """The request handlers, closed over their collaborators (no app-level state)."""

    def __init__(
        self,
        files: FeedSource,
        health: Callable[[], Health],
        metrics: Metrics,
        pages: Pages | None,
    ) -> None:
        self._files = files
        self._state_throttle = Throttle(LOG_EVERY)
        self._health = health
        self._metrics = metrics
        self._pages = pages

    async def feed(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        try:
            feed = await asyncio.to_thread(self._files.load, name)
        except StateError as e:  # a shared state's server is down: the feeds come back with it
            if self._state_throttle.allow(asyncio.get_running_loop().time()):
                log.warning("feed %s not served: %s (logged at most once a minute)", name, e)
            raise web.HTTPServiceUnavailable(
                text="the state cannot be read now\n", headers={"Retry-After": "30"}
            ) from None
        if feed is None:
            raise web.HTTPNotFound(text="no such feed\n")
        if _not_modified(request, feed):
            response = web.Response(status=304)
        else:
            response = web.Response(body=feed.data)
            is_json = request.match_info["name"].endswith(".json")
            response.content_type = JSON_FEED_CONTENT_TYPE if is_json else FEED_CONTENT_TYPE
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

    async def opml(self, request: web.Request) -> web.Response:
        if self._pages is None:
            raise web.HTTPNotFound(text="no OPML here\n")
        body = self._pages.opml(f"{request.scheme}://{request.host}")
        return web.Response(
            body=body, content_type=OPML_CONTENT_TYPE, charset="utf-8", headers=_NO_STORE
        )

    async def board(self, request: web.Request) -> web.Response:
        page = None
        if self._pages is not None:
            page = await self._pages.board(request.match_info["board_id"])
        if page is None:
            raise web.HTTPNotFound(text="no such board\n")
        return web.Response(text=page, content_type="text/html", headers=_NO_STORE)

    async def index(self, request: web.Request) -> web.Response:
        if self._pages is not None:
            page = await self._pages.index()
            return web.Response(text=page, content_type="text/html", headers=_NO_STORE)
        names = await asyncio.to_thread(self._files.names)
        lines = ["board-relay", "", "Feeds:"]
        lines += [f"  /feeds/{name}" for name in names] or ["  (none yet)"]
        lines += [
            "",
            "  /healthz   200 when healthy, 503 with the reasons (JSON)",
            "  /metrics   Prometheus metrics",
        ]
        return web.Response(text="\n".join(lines) + "\n")


def _not_modified(request: web.Request, feed: ServedFeed) -> bool:
    """RFC 9110 §13.2.2: If-None-Match (weak comparison) decides; else If-Modified-Since."""
    tags = request.if_none_match
    if tags is not None:
        return any(tag.value in ("*", feed.etag) for tag in tags)
    since = request.if_modified_since
    return since is not None and since.timestamp() >= feed.mtime
