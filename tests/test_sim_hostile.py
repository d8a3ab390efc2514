"""The simulator's hostile answers and pages, over loopback with a plain httpx client: what
each knob puts on the wire (so that the relay's tests know what they defend against), and that
the simulator itself never builds what it claims to send."""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from relay.sim import HOSTILE_KINDS, BoardSimulator
from relay.sim.faults import LYING_EXTRA, LYING_LENGTH

RLO = "\u202e"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def raw_get(client: httpx.Client, url: str) -> tuple[httpx.Response, bytes]:
    with client.stream("GET", url) as response:
        return response, b"".join(response.iter_raw())


def test_hostile_kinds_are_fault_kinds(sim: BoardSimulator) -> None:
    board = sim.add_board("news")
    for kind in HOSTILE_KINDS:
        board.fault_next(kind)
    assert HOSTILE_KINDS == {"gzip_bomb", "deflate_bomb", "endless", "lying_length"}


def test_gzip_bomb_is_stacked_gzip_of_a_few_kb(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news", bomb_bytes=64 * 1024 * 1024)
    board.fault_next("gzip_bomb")
    response, raw = raw_get(client, board.list_url)
    assert response.headers["content-encoding"] == "gzip, gzip"
    assert int(response.headers["content-length"]) == len(raw) < 2048
    inner = zlib.decompress(raw, zlib.MAX_WBITS | 16)
    page = zlib.decompressobj(zlib.MAX_WBITS | 16)
    head = page.decompress(inner, 200)
    assert head.startswith(b"<!DOCTYPE html>") and len(inner) > 60_000
    assert [r.fault for r in board.requests] == ["gzip_bomb"]
    assert client.get(board.list_url).status_code == 200  # one answer, then the board again


def test_deflate_bomb_inflates_a_thousandfold(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news", bomb_bytes=16 * 1024 * 1024)
    board.fault_next("deflate_bomb")
    response, raw = raw_get(client, board.list_url)
    assert response.headers["content-encoding"] == "deflate"
    assert len(zlib.decompress(raw)) == 16 * 1024 * 1024 > 1000 * len(raw)


def test_endless_body_goes_on_past_any_size(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news")
    board.fault_next("endless")
    received = 0
    with client.stream("GET", board.list_url) as response:
        assert "content-length" not in response.headers
        for chunk in response.iter_raw():
            received += len(chunk)
            if received > 30 * 1024 * 1024:
                break
    assert received > 30 * 1024 * 1024
    assert client.get(board.list_url).status_code == 200  # the server let go of it


def test_endless_trickle_sends_slowly(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news", endless_pause=0.05)
    board.fault_next("endless")
    received, started = 0, time.monotonic()
    with client.stream("GET", board.list_url) as response:
        for chunk in response.iter_raw():
            received += len(chunk)
            if time.monotonic() - started > 0.5:
                break
    assert 0 < received < 64 * 1024


def test_lying_length_sends_more_than_it_declares(sim: BoardSimulator) -> None:
    board = sim.add_board("news")
    board.fault_next("lying_length")
    with httpx.Client(timeout=5) as client:
        response = client.get(board.list_url)
        assert response.headers["content-length"] == str(LYING_LENGTH)
        assert len(response.content) == LYING_LENGTH  # HTTP framing: the rest is not the body
    with httpx.Client(timeout=5) as client:  # (the first's connection then holds the rest)
        assert client.get(board.list_url).status_code == 200
    board.fault_next("lying_length")
    with socket.create_connection(("127.0.0.1", sim.port)) as raw:
        raw.sendall(b"GET /news HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while chunk := raw.recv(1 << 20):
            got += chunk
    assert len(got) > LYING_EXTRA  # on the wire: the 4 MiB after the declared KiB


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "gzip, gzip"])
def test_pages_can_be_served_compressed(
    sim: BoardSimulator, client: httpx.Client, encoding: str
) -> None:
    board = sim.add_board("news", content_encoding=encoding)
    board.add_post("압축")
    response, raw = raw_get(client, board.list_url)
    assert response.headers["content-encoding"] == encoding
    body = raw
    for coding in reversed(encoding.split(", ")):
        body = gzip.decompress(body) if coding == "gzip" else zlib.decompress(body)
    assert "압축".encode() in body and body.rstrip().endswith(b"</html>")


def test_rows_can_link_anywhere(sim: BoardSimulator, client: httpx.Client) -> None:
    for engine in ("rhymix", "gnuboard"):
        board = sim.add_board(f"b_{engine}", engine)
        board.add_post("평범한 글")
        board.add_post("위험한 글", link="JavaScript:alert(1)//102")
        board.add_post("탭 글", link="java\tscript:alert(2)//103")
        page = LexborHTMLParser(client.get(board.list_url).text)
        hrefs = [a.attributes.get("href") for a in page.css("a[href]")]
        assert "JavaScript:alert(1)//102" in hrefs and "java\tscript:alert(2)//103" in hrefs
        assert any(h and h.endswith(str(board.posts[-1].id)) for h in hrefs)


def test_bidi_titles_are_served_as_given(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("news")
    board.add_post(f"사진 {RLO}gpj.exe", author=f"관리{RLO}자")
    text = client.get(board.list_url).text
    assert f"사진 {RLO}gpj.exe" in text and f"관리{RLO}자" in text


def test_a_hundred_thousand_rows_are_cheap(sim: BoardSimulator, client: httpx.Client) -> None:
    board = sim.add_board("big", page_size=100_000, article_list_size=20)
    started = time.monotonic()
    board.add_posts(100_000, published=datetime(2025, 2, 5, tzinfo=UTC))
    assert time.monotonic() - started < 5
    posts = board.posts
    assert len(posts) == 100_000 and posts[0].title == "글 99999" and posts[-1].title == "글 0"
    assert posts[0].published == datetime(2025, 2, 5, tzinfo=UTC)
    assert len({p.id for p in posts}) == 100_000
    page = client.get(board.list_url).text
    assert page.count('<td class="title">') == 100_000
    started = time.monotonic()
    article = client.get(board.article_url(posts[50_000].id)).text
    assert time.monotonic() - started < 2  # the list under an article shows 20 rows, not 100,000
    assert article.count('<td class="title">') == 20 and "글 49999" in article
