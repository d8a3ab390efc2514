"""The fetcher against hostile answers from the simulator: compression bombs, a body that never
ends, a Content-Length that lies, codings it did not ask for. Each is refused (or cut to what
HTTP framing allows) with an error naming the URL and the cap, and memory stays bounded: the
peak RSS of a fetch of a stacked gzip bomb is measured in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relay.adapters.fetch import Fetcher
from relay.core.errors import FetchError
from relay.sim import BoardSimulator, SimBoard
from relay.sim.faults import LYING_LENGTH, bomb

ROOT = Path(__file__).resolve().parents[1]
CAP = 10 * 1024 * 1024  # the default [relay] max_page_bytes
# 256 MiB is enough to tell: httpx's own decoding of it takes 256 MiB at once (issue 9: a
# 2 GiB bomb took relay once to 4.1 GB); a bounded decoder takes a few hundred KB.
BOMB_BYTES = 256 * 1024 * 1024
RSS_BOUND = 100 * 1024 * 1024

CHILD = """
import asyncio, json, resource, sys
from relay.adapters.fetch import Fetcher
from relay.core.errors import FetchError

def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

async def main(url: str, warm_url: str) -> None:
    async with Fetcher(user_agent="rss-probe", host_delay=0, timeout=30) as fetcher:
        await fetcher.get(warm_url)  # imports, the connection pool, first buffers
        idle = peak_rss()
        try:
            await fetcher.get(url)
            outcome = "fetched"
        except FetchError as e:
            outcome = f"{e.reason}: {e}"
    print(json.dumps({"idle": idle, "peak": peak_rss(), "outcome": outcome}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.fixture
def board(sim: BoardSimulator) -> SimBoard:
    b = sim.add_board("news", bomb_bytes=BOMB_BYTES)
    b.add_post("글", "x", "<p>x</p>")
    return b


def fetcher(**kwargs: Any) -> Fetcher:
    settings: dict[str, Any] = {"user_agent": "board-relay-test/1", "host_delay": 0, "timeout": 20}
    return Fetcher(**(settings | kwargs))


def inflate(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """One gzip or zlib layer, in 1 MiB steps: the test's own bounded count of a bomb."""
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 32)
    for data in pieces:
        while data:
            yield decompressor.decompress(data, 1 << 20)
            data = decompressor.unconsumed_tail
    while not decompressor.eof and (rest := decompressor.decompress(b"", 1 << 20)):
        yield rest


def test_the_stacked_gzip_bomb_is_a_few_kb_that_inflate_far_over_the_cap() -> None:
    body = bomb(("gzip", "gzip"), BOMB_BYTES)
    assert len(body) < 4096
    assert sum(map(len, inflate(inflate([body])))) == BOMB_BYTES > 20 * CAP


def test_a_stacked_gzip_bomb_is_refused_within_bounded_memory(
    sim: BoardSimulator, board: SimBoard
) -> None:
    bomb(("gzip", "gzip"), BOMB_BYTES)  # made once, before the child's clock runs
    board.fault_next("gzip_bomb")
    warm = sim.add_board("warm", content_encoding="gzip")  # a normal page first
    warm.add_posts(100)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, board.list_url, warm.list_url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["outcome"].startswith("too large: " + board.list_url)
    assert "limit 10,485,760 bytes" in probe["outcome"]
    assert probe["peak"] - probe["idle"] < RSS_BOUND, probe
    assert [r.headers.get("Accept-Encoding") for r in sim.requests] == ["gzip, deflate"] * 2


async def test_a_deflate_bomb_is_refused(board: SimBoard) -> None:
    board.fault_next("deflate_bomb")
    async with fetcher() as f:
        with pytest.raises(FetchError) as caught:
            await f.get(board.list_url)
        assert caught.value.reason == "too large" and board.list_url in str(caught.value)
        assert "after deflate decoding; limit 10,485,760 bytes" in str(caught.value)
        assert (await f.get(board.list_url)).status == 200  # and the next request is served


async def test_an_endless_body_stops_at_the_cap(board: SimBoard) -> None:
    board.fault_next("endless")
    started = time.monotonic()
    async with fetcher(max_bytes=2 * 1024 * 1024) as f:
        with pytest.raises(FetchError) as caught:
            await f.get(board.list_url)
    assert caught.value.reason == "too large" and "limit 2,097,152 bytes" in str(caught.value)
    assert time.monotonic() - started < 5


async def test_an_endless_trickle_under_the_cap_stops_at_the_deadline(
    sim: BoardSimulator,
) -> None:
    trickle = sim.add_board("trickle", endless_pause=0.02)
    trickle.add_post("글")
    trickle.fault_next("endless")
    started = time.monotonic()
    async with fetcher(timeout=0.6) as f:
        with pytest.raises(FetchError) as caught:
            await f.get(trickle.list_url)
    assert caught.value.reason == "timeout" and trickle.list_url in str(caught.value)
    assert time.monotonic() - started < 3


async def test_a_lying_content_length_is_read_as_framed_and_the_rest_thrown_away(
    board: SimBoard,
) -> None:
    board.fault_next("lying_length")
    async with fetcher(max_bytes=64 * 1024) as f:
        page = await f.get(board.list_url)  # 4 MiB follow the 1 KiB declared: over the cap
        assert len(page.body) == LYING_LENGTH
        # The next request goes out on the kept-alive connection, where the rest then arrives
        # as if it were the answer: a protocol error before any answer, so sent once more.
        again = await f.get(board.list_url)
    assert again.status == 200 and "글".encode() in again.body


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "gzip, gzip", "x-gzip"])
async def test_pages_in_real_encodings_are_decoded(sim: BoardSimulator, encoding: str) -> None:
    b = sim.add_board("gz", content_encoding=encoding)
    b.add_post("압축된 글")
    async with fetcher() as f:
        page = await f.get(b.list_url)
    assert "압축된 글".encode() in page.body and page.body.rstrip().endswith(b"</html>")


async def test_a_page_under_the_cap_compressed_is_kept_and_over_it_refused(
    sim: BoardSimulator,
) -> None:
    b = sim.add_board("gz", content_encoding="gzip")
    b.add_posts(200)
    async with fetcher() as f:
        size = len((await f.get(b.list_url)).body)
    async with fetcher(max_bytes=size) as f:
        assert len((await f.get(b.list_url)).body) == size
    async with fetcher(max_bytes=size - 1) as f:
        with pytest.raises(FetchError, match="after gzip decoding"):
            await f.get(b.list_url)


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress"])
async def test_a_coding_it_did_not_ask_for_is_an_error(sim: BoardSimulator, encoding: str) -> None:
    b = sim.add_board("odd", content_encoding=encoding)
    b.add_post("글")
    async with fetcher() as f:
        with pytest.raises(FetchError) as caught:
            await f.get(b.list_url)
    assert caught.value.reason == "bad encoding"
    assert f"unsupported Content-Encoding '{encoding}'" in str(caught.value)
    assert b.list_url in str(caught.value)
