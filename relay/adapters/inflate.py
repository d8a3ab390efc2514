"""Undoing a response's Content-Encoding with a bound on every byte it produces.

httpx inflates each network chunk in one call, and only then could a size check see the result:
a few KB sent as `Content-Encoding: gzip, gzip` become gigabytes in memory first. Here each
layer is a zlib decompressobj asked for at most STEP bytes at a time (`max_length`, the rest of
its input waits in `unconsumed_tail`), the layers are chained lazily, and the output of every
layer counts against the limit. Memory stays at a few STEP buffers and zlib windows whatever
the ratio, and the work stops as soon as any layer passes the limit.

Only the codings the fetcher asks for are known (ACCEPT_ENCODING: gzip and deflate, which the
stdlib decodes); brotli or zstd would need a package and the same bound, so a server that sends
them anyway, or anything else, gets `UnsupportedEncoding`. Knows nothing of HTTP clients:
bytes in, bytes out.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

ACCEPT_ENCODING = "gzip, deflate"
STEP = 64 * 1024  # the most one decompress call may return
_GZIP_MAGIC = b"\x1f\x8b"
_ALIASES = {"x-gzip": "gzip"}  # RFC 9110 8.4.1.3: x-gzip is gzip
_KNOWN = ("gzip", "deflate")


class DecodeError(Exception):
    """The body cannot be decoded; the message says which coding and why."""


MAX_LAYERS = 4  # stacked codings decoded at most ("gzip, gzip" is seen; 1,000 is an attack)


class UnsupportedEncoding(DecodeError):
    """A Content-Encoding this relay does not decode (and did not ask for)."""


class BodyTooLarge(Exception):
    """A layer produced more than the limit: `coding` is the layer, "" for the raw body."""

    def __init__(self, coding: str, produced: int, limit: int) -> None:
        where = f"after {coding} decoding" if coding else "received"
        super().__init__(f"over {produced:,} bytes {where}")
        self.coding = coding
        self.produced = produced
        self.limit = limit


def codings(content_encoding: str | None) -> list[str]:
    """The codings of a Content-Encoding header in the order they were applied (undo them
    last first); identity and empty items are dropped. Raises UnsupportedEncoding."""
    found = []
    for item in (content_encoding or "").split(","):
        name = item.strip().lower()
        name = _ALIASES.get(name, name)
        if name in ("", "identity"):
            continue
        if name not in _KNOWN:
            raise UnsupportedEncoding(f"unsupported Content-Encoding {item.strip()!r}")
        found.append(name)
        if len(found) > MAX_LAYERS:
            # No server stacks more than two in earnest; thousands would recurse the decoder
            # chain past Python's stack (a RecursionError, not a refused page).
            raise UnsupportedEncoding(
                f"Content-Encoding stacks more than {MAX_LAYERS} codings: refused"
            )
    return found


class BoundedDecoder:
    """Decodes a body as its chunks arrive: `feed` each raw chunk, iterate what it yields.

    The raw bytes count against `limit` as well as every layer's output, so an endless run of
    empty deflate blocks is stopped too. A stacked `gzip, gzip` is undone outer layer first.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self.limit = limit
        self.received = 0
        self._layers = [_Inflater(c, limit) for c in reversed(codings(content_encoding))]

    @property
    def identity(self) -> bool:
        return not self._layers

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The decoded pieces of one raw chunk (each at most STEP bytes unless identity).
        Raises BodyTooLarge or DecodeError while iterating."""
        self.received += len(raw)
        if self.received > self.limit:
            raise BodyTooLarge("", self.received, self.limit)
        pieces: Iterable[bytes] = (raw,)
        for layer in self._layers:
            pieces = layer.through(pieces)
        yield from pieces


class _Inflater:
    """One gzip or deflate layer. Several gzip members in a row are read as one body (RFC 1952
    allows it); other bytes after the end of the stream are ignored, as browsers and httpx do.
    """

    def __init__(self, coding: str, limit: int) -> None:
        self.coding = coding
        self.limit = limit
        self.produced = 0
        self._zlib: zlib._Decompress | None = None  # None: at the start of a stream (member)
        self._head = b""  # a stream's first byte, until the second says what follows
        self._streams = 0  # streams (gzip members) ended so far
        self._done = False  # only trailing bytes are left: ignore them

    def through(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            yield from self._inflate(piece)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        while data and not self._done:
            if self._zlib is None:
                data, self._head = self._head + data, b""
                if len(data) < 2:
                    self._head = data
                    return
                self._zlib = self._start(data)
                if self._zlib is None:
                    self._done = True
                    return
            decompressor = self._zlib
            while True:
                try:
                    out = decompressor.decompress(data, STEP)
                except zlib.error as e:
                    raise DecodeError(f"{self.coding}: {e}") from None
                self.produced += len(out)
                if self.produced > self.limit:
                    raise BodyTooLarge(self.coding, self.produced, self.limit)
                if out:
                    yield out
                if decompressor.eof:
                    data, self._zlib = decompressor.unused_data, None
                    self._streams += 1
                    break
                data = decompressor.unconsumed_tail
                if not data and len(out) < STEP:  # all input used, nothing more pending
                    return

    def _start(self, head: bytes) -> zlib._Decompress | None:
        """The decompressor for a stream starting with `head`, None for trailing bytes."""
        if self.coding == "gzip":
            if self._streams and not head.startswith(_GZIP_MAGIC):
                return None
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        if self._streams:
            return None
        return zlib.decompressobj(zlib.MAX_WBITS if _is_zlib(head) else -zlib.MAX_WBITS)


def _is_zlib(head: bytes) -> bool:
    """RFC 1950 header (deflate, window <= 32K, check bits) rather than raw deflate, which some
    servers (old IIS, some PHP set-ups) send as `deflate`."""
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
