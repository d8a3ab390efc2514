"""relay.service.web: a real listener on 127.0.0.1 (port 0), asked by httpx as a feed reader would.

The feeds folder sits inside tmp_path next to a `secret.atom` that no request may ever return:
every traversal test checks both the 404 and that the secret bytes never came back.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from relay.adapters.files import write_atomically
from relay.core.models import PollOutcome
from relay.service.metrics import Metrics
from relay.service.web import Health, WebServer, start_web

FEED = b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"/>\n'
SECRET = b"SECRET-OUTSIDE-FEEDS-DIR"


class FakeHealth:
    """What the service would report; set `.answer` to a Health or an exception to raise."""

    def __init__(self) -> None:
        self.answer: Health | Exception = Health(ok=True, detail={"boards": 2})

    def __call__(self) -> Health:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def feeds(tmp_path: Path) -> Path:
    folder = tmp_path / "feeds"
    folder.mkdir()
    (tmp_path / "secret.atom").write_bytes(SECRET)
    write_atomically(folder / "ranknews.atom", FEED)
    return folder


@pytest.fixture
def health() -> FakeHealth:
    return FakeHealth()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def server(feeds: Path, health: FakeHealth, metrics: Metrics) -> AsyncIterator[WebServer]:
    web = await start_web("127.0.0.1", 0, feeds_dir=feeds, health=health, metrics=metrics)
    yield web
    await web.close()


@pytest.fixture
async def client(server: WebServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as c:
        yield c


def http_date(seconds: float) -> str:
    return formatdate(seconds, usegmt=True)


# --- the listener itself ---


async def test_url_names_the_real_port_when_port_0_was_asked(server: WebServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert int(server.url.rsplit(":", 1)[1]) > 0


async def test_close_stops_listening(feeds: Path, health: FakeHealth, metrics: Metrics) -> None:
    web = await start_web("127.0.0.1", 0, feeds_dir=feeds, health=health, metrics=metrics)
    async with httpx.AsyncClient(base_url=web.url) as c:
        assert (await c.get("/healthz")).status_code == 200
    await web.close()
    await web.close()  # twice is harmless
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=web.url) as c:
            await c.get("/healthz")


async def test_a_taken_port_raises_oserror(
    server: WebServer, feeds: Path, health: FakeHealth, metrics: Metrics
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        await start_web("127.0.0.1", port, feeds_dir=feeds, health=health, metrics=metrics)


async def test_no_access_log_line_per_request(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="aiohttp"):
        assert (await client.get("/feeds/ranknews.atom")).status_code == 200
    assert [r for r in caplog.records if r.name.startswith("aiohttp")] == []


# --- feeds ---


async def test_feed_is_served_with_type_validators_and_cache_lifetime(
    client: httpx.AsyncClient, feeds: Path
) -> None:
    r = await client.get("/feeds/ranknews.atom")
    assert r.status_code == 200
    assert r.content == FEED
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert r.headers["cache-control"] == "max-age=60"
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    mtime = (feeds / "ranknews.atom").stat().st_mtime
    assert r.headers["last-modified"] == http_date(int(mtime))


async def test_head_gives_the_headers_without_the_body(client: httpx.AsyncClient) -> None:
    got = await client.get("/feeds/ranknews.atom")
    r = await client.head("/feeds/ranknews.atom")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["etag"] == got.headers["etag"]
    assert r.headers["content-length"] == str(len(FEED))


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', '"other",W/{etag}', "*"],
    ids=["exact", "weak", "list", "list-weak", "any"],
)
async def test_matching_if_none_match_answers_304(
    client: httpx.AsyncClient, if_none_match: str
) -> None:
    etag = (await client.get("/feeds/ranknews.atom")).headers["etag"]
    r = await client.get(
        "/feeds/ranknews.atom", headers={"If-None-Match": if_none_match.format(etag=etag)}
    )
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == etag
    assert r.headers["cache-control"] == "max-age=60"


async def test_if_modified_since_not_older_than_the_file_answers_304(
    client: httpx.AsyncClient, feeds: Path
) -> None:
    mtime = (feeds / "ranknews.atom").stat().st_mtime
    last_modified = (await client.get("/feeds/ranknews.atom")).headers["last-modified"]
    same = await client.get("/feeds/ranknews.atom", headers={"If-Modified-Since": last_modified})
    later = await client.get(
        "/feeds/ranknews.atom", headers={"If-Modified-Since": http_date(mtime + 3600)}
    )
    older = await client.get(
        "/feeds/ranknews.atom", headers={"If-Modified-Since": http_date(mtime - 3600)}
    )
    garbage = await client.get("/feeds/ranknews.atom", headers={"If-Modified-Since": "yesterday"})
    assert (same.status_code, later.status_code) == (304, 304)
    assert (older.status_code, older.content) == (200, FEED)
    assert garbage.status_code == 200


async def test_a_stale_etag_wins_over_a_fresh_if_modified_since(
    client: httpx.AsyncClient, feeds: Path
) -> None:
    mtime = (feeds / "ranknews.atom").stat().st_mtime
    r = await client.get(
        "/feeds/ranknews.atom",
        headers={"If-None-Match": '"stale"', "If-Modified-Since": http_date(mtime + 3600)},
    )
    assert (r.status_code, r.content) == (200, FEED)


async def test_an_atomic_replace_with_same_size_in_the_same_second_changes_the_etag(
    client: httpx.AsyncClient, feeds: Path
) -> None:
    path = feeds / "ranknews.atom"
    first = await client.get("/feeds/ranknews.atom")
    old = path.stat()
    new = FEED.replace(b"utf-8", b"UTF-8")
    assert len(new) == len(FEED)
    write_atomically(path, new)
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))  # same size, same mtime: only bytes
    second = await client.get("/feeds/ranknews.atom")
    assert second.content == new
    assert second.headers["etag"] != first.headers["etag"]
    r = await client.get("/feeds/ranknews.atom", headers={"If-None-Match": first.headers["etag"]})
    assert (r.status_code, r.content) == (200, new)


async def test_the_etag_is_the_bytes_hash_so_a_touch_does_not_change_it(
    client: httpx.AsyncClient, feeds: Path
) -> None:
    path = feeds / "ranknews.atom"
    first = await client.get("/feeds/ranknews.atom")
    mtime = path.stat().st_mtime
    os.utime(path, (mtime + 7200, mtime + 7200))
    second = await client.get("/feeds/ranknews.atom")
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["last-modified"] == http_date(int(mtime + 7200))


async def test_a_feed_deleted_since_the_last_request_is_404(
    client: httpx.AsyncClient, feeds: Path
) -> None:
    assert (await client.get("/feeds/ranknews.atom")).status_code == 200
    (feeds / "ranknews.atom").unlink()
    assert (await client.get("/feeds/ranknews.atom")).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/..%2fsecret.atom",
        "/feeds/..%2Fsecret.atom",
        "/feeds/%2e%2e%2fsecret.atom",
        "/feeds/%2e%2e/secret.atom",
        "/feeds/%2e%2e",
        "/feeds/.hidden.atom",
        "/feeds/.ranknews.atom.x1y2.tmp",
        "/feeds/sub/dir.atom",
        "/feeds/sub%2fdir.atom",
        "/feeds/link.atom",
        "/feeds/notes.txt",
        "/feeds/missing.atom",
        "/feeds/folder.atom",
        "/feeds/",
        "/feeds/%00.atom",
    ],
)
async def test_anything_but_a_plain_feed_name_is_404_and_never_leaks(
    client: httpx.AsyncClient, feeds: Path, path: str
) -> None:
    (feeds / ".hidden.atom").write_bytes(SECRET)
    (feeds / ".ranknews.atom.x1y2.tmp").write_bytes(SECRET)
    (feeds / "sub").mkdir()
    (feeds / "sub" / "dir.atom").write_bytes(SECRET)
    (feeds / "link.atom").symlink_to(feeds.parent / "secret.atom")
    (feeds / "notes.txt").write_bytes(SECRET)
    (feeds / "folder.atom").mkdir()
    r = await client.get(path)
    assert SECRET not in r.content
    assert r.status_code == 404


async def test_a_literal_dot_dot_sent_raw_does_not_escape(server: WebServer) -> None:
    """httpx folds `..` before sending; a raw socket sends it as an attacker would."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /feeds/../secret.atom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 404")
    assert SECRET not in answer


async def test_index_lists_the_feeds_present_and_the_endpoints(
    client: httpx.AsyncClient, feeds: Path
) -> None:
    write_atomically(feeds / "free.atom", FEED)
    (feeds / ".free.atom.abc.tmp").write_bytes(b"")
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "/feeds/free.atom" in r.text and "/feeds/ranknews.atom" in r.text
    assert r.text.index("free.atom") < r.text.index("ranknews.atom")
    assert ".tmp" not in r.text
    assert "/healthz" in r.text and "/metrics" in r.text


# --- health and metrics ---


async def test_healthz_is_200_with_detail_when_ok(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "reasons": [], "detail": {"boards": 2}}


async def test_healthz_is_503_with_the_reasons_when_not_ok(
    client: httpx.AsyncClient, health: FakeHealth
) -> None:
    health.answer = Health(
        ok=False, reasons=("state store locked", "ranknews: 5 polls failed"), detail={"x": 1}
    )
    r = await client.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["ok"] is False
    assert body["reasons"] == ["state store locked", "ranknews: 5 polls failed"]
    assert body["detail"] == {"x": 1}


async def test_healthz_is_503_naming_the_error_when_the_check_raises(
    client: httpx.AsyncClient, health: FakeHealth
) -> None:
    health.answer = RuntimeError("scheduler gone")
    r = await client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["ok"] is False
    assert "scheduler gone" in r.json()["reasons"][0]
    health.answer = Health(ok=True)
    assert (await client.get("/healthz")).status_code == 200  # the server survived


async def test_metrics_endpoint_serves_the_registry(
    client: httpx.AsyncClient, metrics: Metrics
) -> None:
    metrics.observe_poll(PollOutcome(board_id="ranknews", ok=True, elapsed_ms=120), _now())
    metrics.observe_poll(PollOutcome(board_id="ranknews", ok=False, reason="blocked"), _now())
    metrics.delivery_sent("ranknews")
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }
    assert found[("relay_polls_total", (("board", "ranknews"), ("result", "ok")))] == 1
    assert found[("relay_polls_total", (("board", "ranknews"), ("result", "failed")))] == 1
    assert found[("relay_deliveries_total", (("board", "ranknews"), ("result", "sent")))] == 1


def _now() -> datetime:
    return datetime.now(UTC)
