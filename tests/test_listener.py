"""relay.service.listener through the real web listener on loopback: half-sent requests and idle
connections are closed after the request timeout, a full cap evicts the longest-idle connection
so that /healthz still answers, a client that never reads its answer is aborted, and a cap full
of requests in progress refuses the newcomer. Timeouts are a few tenths of a second here.

The descriptor-limit attack itself (more half-sent connections than the process may open, and
EMFILE on accept) runs in a child process: tests/test_listener_flood.py.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from relay.adapters.files import write_atomically
from relay.service.listener import Listener, ListenerLimits
from relay.service.metrics import Metrics
from relay.service.web import Health, WebServer, start_web

TIMEOUT = 0.4
HALF_SENT = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"  # the blank line that ends it never comes


@pytest.fixture
def big_feed(tmp_path: Path) -> Path:
    path = tmp_path / "big.atom"
    write_atomically(path, b"<feed>" + b"x" * 16_000_000 + b"</feed>")  # far above socket buffers
    return path


async def serve(feed: Path, **limits: float) -> WebServer:
    return await start_web(
        "127.0.0.1",
        0,
        feeds=lambda: {feed.name: feed},
        health=lambda: Health(ok=True),
        metrics=Metrics(),
        limits=ListenerLimits(**{"request_timeout": TIMEOUT, **limits}),  # type: ignore[arg-type]
    )


@pytest.fixture
async def server(big_feed: Path) -> AsyncIterator[WebServer]:
    web = await serve(big_feed, max_connections=4)
    yield web
    await web.close()


def address(server: WebServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


async def half_sent(server: WebServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(*address(server))
    writer.write(HALF_SENT)
    await writer.drain()
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    """True when the server ends the connection (EOF or reset) within `within` seconds."""
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


async def until(condition: Callable[[], bool], within: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_a_half_sent_request_is_closed_after_the_request_timeout(server: WebServer) -> None:
    reader, writer = await half_sent(server)
    assert not await closed_by_server(reader, TIMEOUT / 2)  # not before its time
    assert await closed_by_server(reader, TIMEOUT * 3)
    assert server.stats().expired == 1
    assert await until(lambda: server.stats().open == 0, 1)
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed_too(server: WebServer) -> None:
    reader, writer = await asyncio.open_connection(*address(server))
    assert await closed_by_server(reader, TIMEOUT * 3)
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed_after_its_answer(server: WebServer) -> None:
    reader, writer = await asyncio.open_connection(*address(server))
    for _ in range(2):  # the deadline restarts after each answer
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        await asyncio.sleep(TIMEOUT / 2)
    assert await closed_by_server(reader, TIMEOUT * 3)
    writer.close()


async def test_healthz_answers_while_half_sent_requests_hold_the_cap(server: WebServer) -> None:
    held = [await half_sent(server) for _ in range(4)]
    await until(lambda: server.stats().open == 4, 1)
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT / 2) as client:
        r = await client.get("/healthz")  # sooner than any of them would time out
    assert r.status_code == 200
    assert server.stats().evicted == 1
    assert await closed_by_server(held[0][0], 0.2)  # the longest-waiting one made room
    assert not await closed_by_server(held[3][0], 0.01)
    assert server.stats().peak <= 5  # the cap, plus the one being aborted for a newcomer
    for _, writer in held:
        writer.close()


async def test_a_client_that_never_reads_its_answer_is_aborted(
    server: WebServer, big_feed: Path
) -> None:
    sock = socket.create_connection(address(server))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET /feeds/{big_feed.name} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    try:
        assert await until(lambda: server.stats().open == 1, 1)
        # close() cannot flush 16 MB to a client that does not read: aborted a timeout later
        assert await until(lambda: server.stats().open == 0, TIMEOUT * 6)
    finally:
        sock.close()


class _Busy(asyncio.Protocol):
    """A stand-in application whose every connection is in the middle of a request."""

    def __init__(self, listener: Callable[[], Listener]) -> None:
        self._listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._listener().request_started(transport)


async def test_a_cap_full_of_requests_in_progress_refuses_the_newcomer_at_once() -> None:
    listener = Listener(lambda: _Busy(lambda: listener), ListenerLimits(max_connections=2))
    await listener.start("127.0.0.1", 0)
    try:
        held = [await asyncio.open_connection(*listener.addresses[0]) for _ in range(2)]
        assert await until(lambda: listener.stats().open == 2, 1)
        reader, writer = await asyncio.open_connection(*listener.addresses[0])
        assert await closed_by_server(reader, 1)
        assert listener.stats().refused == 1 and listener.stats().evicted == 0
        assert not await closed_by_server(held[0][0], TIMEOUT)  # busy: no deadline either
        for _, w in [*held, (reader, writer)]:
            w.close()
    finally:
        await listener.stop_accepting()
        listener.abort_all()


def test_the_cap_is_at_most_a_quarter_of_the_descriptor_limit() -> None:
    assert ListenerLimits(max_connections=256).fitted(1024).max_connections == 256
    assert ListenerLimits(max_connections=256).fitted(256).max_connections == 64
    assert ListenerLimits(max_connections=256).fitted(2).max_connections == 1
    assert ListenerLimits(request_timeout=3).fitted(256).request_timeout == 3


async def test_close_closes_the_open_connections_too(big_feed: Path) -> None:
    web = await serve(big_feed, request_timeout=60)
    reader, writer = await asyncio.open_connection(*address(web))
    await until(lambda: web.stats().open == 1, 1)
    await web.close()
    assert await closed_by_server(reader, 1)
    assert web.stats().open == 0
    writer.close()
