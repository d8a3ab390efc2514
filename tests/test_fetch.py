"""The fetcher against the simulator's faults: bounded, conditional, classified."""

from __future__ import annotations

import time
from typing import Any

import pytest

from relay.adapters.fetch import Fetcher, parse_retry_after
from relay.core.errors import FetchError
from relay.sim import BoardSimulator, SimBoard


@pytest.fixture
def board(sim: BoardSimulator) -> SimBoard:
    b = sim.add_board("news", "rhymix", slow_delay=3.0)
    b.add_post("글", "x", "<p>x</p>")
    return b


def fetcher(**kwargs: Any) -> Fetcher:
    settings: dict[str, Any] = {"user_agent": "board-relay-test/1", "host_delay": 0, "timeout": 5.0}
    return Fetcher(**(settings | kwargs))


async def test_sends_user_agent_and_answers_304_to_validators(board: SimBoard) -> None:
    async with fetcher() as f:
        page = await f.get(board.list_url)
        assert page.status == 200 and page.etag
        again = await f.get(board.list_url, etag=page.etag, last_modified=page.last_modified)
    assert again.not_modified and again.body == b""
    assert board.requests[0].headers.get("User-Agent") == "board-relay-test/1"


async def test_a_huge_page_is_refused_without_reading_it_all(board: SimBoard) -> None:
    board.fault_next("huge")
    started = time.monotonic()
    async with fetcher(max_bytes=1024 * 1024) as f:
        with pytest.raises(FetchError) as caught:
            await f.get(board.list_url)
    assert caught.value.reason == "too large" and "limit 1,048,576 bytes" in str(caught.value)
    assert time.monotonic() - started < 3


async def test_declared_huge_length_is_refused_before_reading(sim: BoardSimulator) -> None:
    b = sim.add_board("big", "rhymix", huge_declares_length=True)
    b.add_post("x", "x", "<p>x</p>")
    b.fault_next("huge")
    async with fetcher(max_bytes=1024 * 1024) as f:
        with pytest.raises(FetchError, match="Content-Length"):
            await f.get(b.list_url)


async def test_slow_answer_hits_the_whole_request_deadline(board: SimBoard) -> None:
    board.fault_next("slow")
    async with fetcher(timeout=0.5) as f:
        with pytest.raises(FetchError) as caught:
            await f.get(board.list_url)
    assert caught.value.reason == "timeout"


@pytest.mark.parametrize("kind", ["reset", "truncated"])
async def test_broken_connections_are_network_errors(board: SimBoard, kind: str) -> None:
    board.fault_next(kind)
    async with fetcher() as f:
        with pytest.raises(FetchError) as caught:
            await f.get(board.list_url)
    assert caught.value.reason == "network" and board.list_url in str(caught.value)


async def test_503_with_retry_after_is_classified(board: SimBoard) -> None:
    board.fail_next(503, retry_after=120)
    async with fetcher() as f:
        with pytest.raises(FetchError) as caught:
            await f.get(board.list_url)
    error = caught.value
    assert (error.reason, error.status, error.retry_after) == ("http 503", 503, 120)
    assert "HTTP 503" in str(error)


async def test_unreachable_host_is_a_network_error() -> None:
    async with fetcher(timeout=2) as f:
        with pytest.raises(FetchError) as caught:
            await f.get("http://127.0.0.1:9/nothing-listens-here")
    assert caught.value.reason in ("network", "timeout")


async def test_requests_to_one_host_are_spaced(board: SimBoard) -> None:
    async with fetcher(host_delay=0.3) as f:
        for _ in range(3):
            await f.get(board.list_url)
    times = [r.at.timestamp() for r in board.requests]
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.28


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
