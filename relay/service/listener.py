"""The TCP side of the [http] listener: slow or many clients cannot take the descriptors that the
polls, the state and Telegram need, and running out of descriptors cannot flood the log.

It accepts connections itself instead of through `loop.create_server` (aiohttp's TCPSite),
for two reasons found under attack:
- asyncio's accept handler, on EMFILE, reports through the loop's exception handler and
  schedules a retry for *each* of up to `backlog` accepts attempted in the same tick (CPython
  3.11 `selector_events._accept_connection` does not stop after the first failure); every retry
  re-arms the reader, so the log lines multiply to thousands a second.
- aiohttp sets no deadline for a request to arrive shorter than its keep-alive timeout (75 s or
  an hour, by version; older versions none at all before the first request), and accepts any
  number of connections: 1,100 half-sent requests took every descriptor of a 1,024 limit.

What this module does instead, per listening socket, in one task that awaits `sock_accept`:
- **A cap** of `max_connections` open connections. A connection arriving when the cap is
  reached evicts (aborts) the open connection that has waited longest *without a request in
  progress*: a half-sent request or an idle keep-alive. Only when every connection is busy
  with a request is the newcomer closed at once. Evicting rather than refusing keeps /healthz
  answering while an attacker holds the cap: to shut out a client that sends its request at
  once, the attacker would have to open the whole cap's worth of connections within that
  client's few milliseconds.
- **A deadline**: a connection must hand a complete request to the application within
  `request_timeout` of opening, or of the end of its previous request, or it is closed; if the
  close cannot flush (a client that never reads its answer) it is aborted one period later.
- **A pause on failed accepts** (EMFILE, ENFILE, ENOBUFS, ENOMEM or any other OSError): no
  accept for `accept_pause` seconds; a warning when it starts, then at most one a minute while
  it lasts, and one line when accepts work again.

The application (web.py) says when a request is in progress through `request_started` and
`request_finished`, keyed by the connection's transport. This module knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

LOG_EVERY = 60.0  # seconds: at most one line per this period for a condition that lasts


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """How much of the process one listener may hold. Times in seconds."""

    max_connections: int = 256
    request_timeout: float = 5.0  # to send a complete request, from connect or the last answer
    accept_pause: float = 1.0  # no accept for this long after a failed one (EMFILE, ...)
    backlog: int = 128  # connections the kernel queues before we accept them

    def fitted(self, descriptor_limit: int) -> ListenerLimits:
        """At most a quarter of the process's descriptor limit: the rest is the service's."""
        cap = max(1, min(self.max_connections, descriptor_limit // 4))
        return ListenerLimits(cap, self.request_timeout, self.accept_pause, self.backlog)


@dataclass(frozen=True, slots=True)
class ListenerStats:
    """Counts since the listener started (open and peak: connections, now and at most)."""

    open: int
    peak: int
    expired: int  # closed for sending no complete request in time
    evicted: int  # aborted to make room for a newer connection
    refused: int  # closed at once: the cap was full of requests in progress
    accept_failures: int


class Throttle:
    """True at most once per `period` (loop time): one log line per period for a lasting state."""

    def __init__(self, period: float) -> None:
        self._period = period
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        if self._last is not None and now - self._last < self._period:
            return False
        self._last = now
        return True


class _Connection(asyncio.Protocol):
    """Stands between the transport and the application's protocol: forwards every event, and
    keeps the connection's deadline and whether a request is in progress."""

    def __init__(self, listener: Listener, inner: asyncio.Protocol) -> None:
        self._listener = listener
        self._inner = inner
        self._timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.busy = 0  # requests in progress (pipelined ones are handled one at a time)
        self.idle_since = 0.0  # loop time: opened, or its last request finished
        self.aborted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._listener._opened(self)
        self.idle()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._listener._lost(self)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def started(self) -> None:
        self.busy += 1
        self._cancel_timer()

    def idle(self) -> None:
        """No request in progress: the next one must arrive within the timeout."""
        loop = asyncio.get_running_loop()
        self.idle_since = loop.time()
        self._cancel_timer()
        self._timer = loop.call_later(self._listener.limits.request_timeout, self._expire)

    def abort(self) -> None:
        self.aborted = True
        self._cancel_timer()
        if self.transport is not None:
            self.transport.abort()

    def _expire(self) -> None:
        self._listener._expired += 1
        assert self.transport is not None
        self.transport.close()  # flushes what is buffered, then closes...
        loop = asyncio.get_running_loop()  # ...unless the client never reads: then abort
        self._timer = loop.call_later(self._listener.limits.request_timeout, self.abort)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Listener:
    """Accepts on the bound sockets and hands each connection to `protocol_factory()`."""

    def __init__(
        self, protocol_factory: Callable[[], asyncio.Protocol], limits: ListenerLimits
    ) -> None:
        self.limits = limits
        self._factory = protocol_factory
        self._sockets: list[socket.socket] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._open: dict[asyncio.BaseTransport, _Connection] = {}
        self._peak = self._expired = self._evicted = self._refused = 0
        self._accept_failures = self._failing = 0
        self._throttle = Throttle(LOG_EVERY)
        self._full_throttle = Throttle(LOG_EVERY)

    async def start(self, host: str, port: int) -> None:
        """Bind and listen on every address of host:port. OSError names both on failure."""
        self._sockets = await _bind(host, port, self.limits.backlog)
        for sock in self._sockets:
            name = f"accept {sock.getsockname()[:2]}"
            self._tasks.append(asyncio.create_task(self._accept_forever(sock), name=name))

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [sock.getsockname()[:2] for sock in self._sockets]

    def stats(self) -> ListenerStats:
        return ListenerStats(
            len(self._open),
            self._peak,
            self._expired,
            self._evicted,
            self._refused,
            self._accept_failures,
        )

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        connection = self._open.get(transport) if transport is not None else None
        if connection is not None:
            connection.started()

    def request_finished(self, transport: asyncio.BaseTransport | None) -> None:
        connection = self._open.get(transport) if transport is not None else None
        if connection is not None:
            connection.busy -= 1
            if connection.busy == 0 and not connection.aborted:
                connection.idle()

    async def stop_accepting(self) -> None:
        """Close the listening sockets; open connections stay (their owner closes them)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for sock in self._sockets:
            sock.close()

    def abort_all(self) -> None:
        for connection in list(self._open.values()):
            connection.abort()

    def _opened(self, connection: _Connection) -> None:
        assert connection.transport is not None
        self._open[connection.transport] = connection
        self._peak = max(self._peak, len(self._open))

    def _lost(self, connection: _Connection) -> None:
        if connection.transport is not None:
            self._open.pop(connection.transport, None)

    async def _accept_forever(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except ConnectionAbortedError:  # the client gave up while queued: nothing to do
                continue
            except OSError as e:
                self._accept_failed(sock, e, loop.time())
                await asyncio.sleep(self.limits.accept_pause)
                continue
            if self._failing:
                log.info("listener: accepting again after %d failed accepts", self._failing)
                self._failing = 0
            if not self._make_room(loop.time()):
                conn.close()
                continue
            try:
                await loop.connect_accepted_socket(lambda: _Connection(self, self._factory()), conn)
            except OSError:  # reset before the transport was made
                conn.close()
            except Exception:  # a bug must not end accepting for good: log it (rarely), go on
                conn.close()
                if self._throttle.allow(loop.time()):
                    log.exception("listener: a connection could not be set up")

    def _accept_failed(self, sock: socket.socket, e: OSError, now: float) -> None:
        self._accept_failures += 1
        self._failing += 1
        if self._throttle.allow(now):
            log.warning(
                "listener %s: accept failed (%s); pausing accepts for %g s, %d connections open"
                " (logged at most once a minute)",
                sock.getsockname()[:2],
                e.strerror or e,
                self.limits.accept_pause,
                len(self._open),
            )

    def _make_room(self, now: float) -> bool:
        """Whether one more connection may open, after evicting the longest-idle one if full."""
        if len(self._open) < self.limits.max_connections:
            return True
        live = [c for c in self._open.values() if not c.aborted]
        if len(live) < self.limits.max_connections:
            return True
        idle = [c for c in live if c.busy == 0]
        if self._full_throttle.allow(now):
            log.warning(
                "listener: %d connections open, the cap: each newcomer replaces the longest"
                " idle one (logged at most once a minute)",
                len(live),
            )
        if not idle:
            self._refused += 1
            return False
        min(idle, key=lambda c: c.idle_since).abort()
        self._evicted += 1
        return True


async def _bind(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for every address of host:port (as loop.create_server binds them)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as e:
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # each family on its own socket, as asyncio does
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as e:
                where = f"{host}:{port} ({address[0]})"
                raise OSError(e.errno, f"cannot listen on {where}: {e.strerror}") from e
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
