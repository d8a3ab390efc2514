"""Answers that break the HTTP exchange itself, as broken or hostile servers send them: a
connection cut mid-body, a page far over any size cap, and the hostile answers of HOSTILE_KINDS.

    gzip_bomb     `Content-Encoding: gzip, gzip`: a few KB that inflate to `bomb_bytes`
    deflate_bomb  `Content-Encoding: deflate`: about a thousandth of `bomb_bytes` that inflates
                  to it (what one decompress call of a client makes of a 64 KB chunk: 64 MB)
    endless       no Content-Length, a chunked body that never ends (`endless_pause` between
                  chunks: 0 floods, more trickles below any size cap until a deadline)
    lying_length  `Content-Length: 1024`, then megabytes more on the same connection, sent
                  when a keep-alive client has already reused it for its next request

Every body is streamed from reused buffers or built once and cached (`bomb`): the simulator
never holds what it claims to send.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
import zlib
from functools import lru_cache

from aiohttp import web

from relay.sim.board import SimBoard

HUGE_CHUNK = 64 * 1024
LYING_LENGTH = 1024  # what a lying_length answer declares
LYING_EXTRA = 4 * 1024 * 1024  # what it sends after that
LYING_PAUSE = 0.1  # seconds between the two
_HEAD = b"<!DOCTYPE html><html><head><title>log</title></head><body><pre>"
_FILLER = (b"<!-- " + b"x" * (HUGE_CHUNK - 9) + b" -->\n")[:HUGE_CHUNK]
_BOMB_CODINGS = {"gzip_bomb": ("gzip", "gzip"), "deflate_bomb": ("deflate",)}


async def cut(
    request: web.Request, status: int, headers: dict[str, str], body: bytes, *, reset: bool
) -> web.StreamResponse:
    """Start the page and stop halfway: `reset` aborts with a TCP RST in a chunked body;
    otherwise Content-Length promises more than is sent and the connection just closes."""
    response = web.StreamResponse(status=status, headers=headers)
    if reset:
        response.enable_chunked_encoding()
    else:
        response.content_length = len(body) + 4096
    await response.prepare(request)
    await response.write(body[: max(1, len(body) // 2)])
    transport = request.transport
    if transport is not None:
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    return response


async def huge(request: web.Request, board: SimBoard, content_type: str) -> web.StreamResponse:
    """Stream `huge_bytes` of HTML from one reused chunk: the server never holds the body."""
    response = web.StreamResponse(headers={"Content-Type": content_type, "Server": "nginx"})
    if board.huge_declares_length:
        response.content_length = board.huge_bytes
    else:
        response.enable_chunked_encoding()
    await response.prepare(request)
    sent = 0
    try:
        await response.write(_HEAD)
        sent = len(_HEAD)
        while sent < board.huge_bytes:
            chunk = _FILLER[: min(HUGE_CHUNK, board.huge_bytes - sent)]
            await response.write(chunk)
            sent += len(chunk)
        await response.write_eof()
    except ConnectionError:
        pass  # the client stopped reading: that is what a size bound does
    return response


async def hostile(
    request: web.Request, board: SimBoard, kind: str, content_type: str
) -> web.StreamResponse:
    """One of HOSTILE_KINDS, as a 200 answer to whatever page was asked for."""
    headers = {"Content-Type": content_type, "Server": "nginx"}
    if kind in _BOMB_CODINGS:
        layers = _BOMB_CODINGS[kind]
        body = await asyncio.to_thread(bomb, layers, board.bomb_bytes)
        return web.Response(body=body, headers=headers | {"Content-Encoding": ", ".join(layers)})
    if kind == "endless":
        return await _endless(request, board, headers)
    if kind == "lying_length":
        return await _lying_length(request, headers)
    raise ValueError(f"not a hostile answer: {kind!r}")


@lru_cache(maxsize=8)
def bomb(layers: tuple[str, ...], size: int) -> bytes:
    """An HTML page of `size` bytes (mostly spaces) compressed with each of `layers` in turn
    ("gzip" or "deflate", the zlib format), made in 1 MiB steps so that the page is never held
    (run-length matching only, which is all spaces need: about a second per GiB, then cached)."""
    compressors = [
        zlib.compressobj(
            9, zlib.DEFLATED, zlib.MAX_WBITS | (16 if c == "gzip" else 0), 9, zlib.Z_RLE
        )
        for c in layers
    ]
    step = b" " * (1 << 20)
    parts = []

    def through(data: bytes) -> None:
        for compressor in compressors:
            data = compressor.compress(data)
        parts.append(data)

    through(_HEAD)
    left = size - len(_HEAD)
    while left > 0:
        through(step[: min(left, len(step))])
        left -= len(step)
    data = b""  # what each layer still holds goes through the layers after it
    for compressor in compressors:
        data = compressor.compress(data) + compressor.flush()
    parts.append(data)
    return b"".join(parts)


def content_encode(body: bytes, content_encoding: str) -> bytes:
    """`body` with the codings of a Content-Encoding value applied in order ("gzip, deflate":
    gzip first). A coding other than gzip and deflate is left unapplied: it is only a label,
    which a client that did not ask for it must refuse."""
    for coding in (c.strip().lower() for c in content_encoding.split(",")):
        if coding in ("gzip", "x-gzip"):
            body = gzip.compress(body, mtime=0)
        elif coding == "deflate":
            body = zlib.compress(body)
    return body


async def _endless(
    request: web.Request, board: SimBoard, headers: dict[str, str]
) -> web.StreamResponse:
    response = web.StreamResponse(headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = _FILLER if board.endless_pause <= 0 else _FILLER[:1024]
    try:
        await response.write(_HEAD)
        while True:
            await response.write(chunk)
            if board.endless_pause > 0:
                await asyncio.sleep(board.endless_pause)
    except ConnectionError:
        pass  # the client gave up: the only way this answer ends
    return response


async def _lying_length(request: web.Request, headers: dict[str, str]) -> web.StreamResponse:
    """Declare LYING_LENGTH bytes, send them, then LYING_EXTRA more straight to the socket
    (aiohttp itself would cut the body at its Content-Length) and close. The rest comes a
    moment later, when a client has taken the connection for its next request."""
    response = web.StreamResponse(headers=headers)
    response.content_length = LYING_LENGTH
    await response.prepare(request)
    await response.write((_HEAD + _FILLER)[:LYING_LENGTH])
    await asyncio.sleep(LYING_PAUSE)
    transport = request.transport
    if transport is not None:
        for _ in range(LYING_EXTRA // HUGE_CHUNK):
            transport.write(_FILLER)
        transport.close()
    return response
