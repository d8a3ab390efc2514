"""The bounded Content-Encoding decoder: it decodes what servers really send (gzip, zlib and raw
deflate, stacked, several gzip members, chunks split anywhere), and no ratio makes it hold or
produce more than its limit: every piece it yields is at most STEP bytes."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from relay.adapters.inflate import (
    ACCEPT_ENCODING,
    STEP,
    BodyTooLarge,
    BoundedDecoder,
    DecodeError,
    UnsupportedEncoding,
    codings,
)
from relay.sim.faults import bomb

PAGE = (
    "<html><body>" + "".join(f"<p>글 {i} 본문</p>" for i in range(3000)) + "</body></html>"
).encode()


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def decode(
    body: bytes, content_encoding: str | None, *, chunk: int = 4096, limit: int = 1 << 24
) -> bytes:
    decoder = BoundedDecoder(content_encoding, limit)
    out = []
    for start in range(0, len(body), chunk):
        out += decoder.feed(body[start : start + chunk])
    return b"".join(out)


@pytest.mark.parametrize(
    ("content_encoding", "encoded"),
    [
        (None, PAGE),
        ("identity", PAGE),
        ("gzip", gzip.compress(PAGE)),
        ("x-gzip", gzip.compress(PAGE)),
        ("GZIP", gzip.compress(PAGE)),
        ("deflate", zlib.compress(PAGE)),
        ("deflate", raw_deflate(PAGE)),  # what old IIS and some PHP set-ups call deflate
        ("gzip, gzip", gzip.compress(gzip.compress(PAGE))),
        ("deflate, gzip", gzip.compress(zlib.compress(PAGE))),
        ("gzip", gzip.compress(PAGE[:5000]) + gzip.compress(PAGE[5000:])),  # two members
        ("gzip", gzip.compress(PAGE) + b"\x00\x00 trailing junk"),
    ],
)
@pytest.mark.parametrize("chunk", [1, 7, 65536])
def test_real_encodings_decode_whatever_the_chunking(
    content_encoding: str | None, encoded: bytes, chunk: int
) -> None:
    assert decode(encoded, content_encoding, chunk=chunk) == PAGE


def test_the_codings_are_undone_last_applied_first() -> None:
    assert codings("deflate, gzip") == ["deflate", "gzip"]
    assert codings(" identity , x-gzip") == ["gzip"] and codings(None) == [] and codings("") == []
    assert ACCEPT_ENCODING == "gzip, deflate"


@pytest.mark.parametrize("label", ["br", "zstd", "compress", "gzip, br", "x-unknown"])
def test_codings_it_did_not_ask_for_are_refused(label: str) -> None:
    with pytest.raises(UnsupportedEncoding, match="unsupported Content-Encoding"):
        BoundedDecoder(label, 1000)


def test_a_stacked_gzip_bomb_stops_at_the_limit_in_small_pieces() -> None:
    body = bomb(("gzip", "gzip"), 256 << 20)
    assert len(body) < 4096  # a few KB that are 256 MiB
    decoder = BoundedDecoder("gzip, gzip", 10 << 20)
    pieces = []
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge) as caught:
            for piece in decoder.feed(body):  # the whole bomb arrives as one network chunk
                pieces.append(len(piece))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert max(pieces) <= STEP and sum(pieces) <= 10 << 20
    assert caught.value.coding == "gzip" and caught.value.produced > 10 << 20
    assert "after gzip decoding" in str(caught.value)
    assert peak < 4 << 20  # a few STEP buffers and zlib windows, not the 10 MiB it counted


def test_a_deflate_bomb_stops_at_the_limit() -> None:
    body = bomb(("deflate",), 64 << 20)
    decoder = BoundedDecoder("deflate", 1 << 20)
    with pytest.raises(BodyTooLarge):
        for start in range(0, len(body), 65536):
            for _ in decoder.feed(body[start : start + 65536]):
                pass


def test_every_layer_counts_and_so_do_the_raw_bytes() -> None:
    # An intermediate layer far over the limit is refused even if the last would be small:
    # 2 MiB of empty stored deflate blocks decode to nothing, but the gzip layer gives 2 MiB.
    empty_blocks = b"\x00\x00\x00\xff\xff" * ((2 << 20) // 5)
    stacked = gzip.compress(b"\x78\x01" + empty_blocks)
    with pytest.raises(BodyTooLarge, match="after gzip decoding"):
        decode(stacked, "deflate, gzip", limit=1 << 20)
    with pytest.raises(BodyTooLarge, match="received"):
        decode(PAGE, None, limit=len(PAGE) - 1)
    assert decode(PAGE, None, limit=len(PAGE)) == PAGE


def test_a_page_exactly_at_the_limit_is_kept() -> None:
    assert decode(gzip.compress(PAGE), "gzip", limit=len(PAGE)) == PAGE
    with pytest.raises(BodyTooLarge):
        decode(gzip.compress(PAGE), "gzip", limit=len(PAGE) - 1)


@pytest.mark.parametrize(
    ("content_encoding", "body"),
    [("gzip", b"not gzip at all"), ("deflate", b"\x78\x9c\xff")],  # reserved block type
)
def test_a_corrupt_body_is_a_decode_error_naming_the_coding(
    content_encoding: str, body: bytes
) -> None:
    with pytest.raises(DecodeError, match=content_encoding):
        decode(body, content_encoding)


def test_a_thousand_stacked_codings_are_refused_not_recursed() -> None:
    from relay.adapters.inflate import MAX_LAYERS, UnsupportedEncoding, codings

    assert codings(", ".join(["gzip"] * MAX_LAYERS)) == ["gzip"] * MAX_LAYERS
    with pytest.raises(UnsupportedEncoding, match="stacks more than"):
        codings(", ".join(["gzip"] * 1000))
