"""relay.service.web: a real listener on 127.0.0.1 (port 0), asked by httpx as a feed reader would.

The feeds folder sits inside tmp_path next to a `secret.atom` that no request may ever return:
every traversal test checks both the 404 and that the secret bytes never came back. Only the
names in the `served` mapping (the configured boards' feeds) are ever served; tests add to it
as a reload would.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest
from conftest import make_config
from prometheus_client.parser import text_string_to_metric_families

from relay.adapters.files import write_atomically
from relay.core.models import PollOutcome
from relay.service.metrics import Metrics
from relay.service.web import Health, WebServer, feeds_of, start_web

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
def served(feeds: Path) -> dict[str, Path]:
    """The configured feeds, name -> file; the server reads it on every request."""
    return {"ranknews.atom": feeds / "ranknews.atom"}


@pytest.fixture
async def server(
    served: dict[str, Path], health: FakeHealth, metrics: Metrics
) -> AsyncIterator[WebServer]:
    web = await start_web("127.0.0.1", 0, feeds=lambda: served, health=health, metrics=metrics)
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


async def test_close_stops_listening(
    served: dict[str, Path], health: FakeHealth, metrics: Metrics
) -> None:
    web = await start_web("127.0.0.1", 0, feeds=lambda: served, health=health, metrics=metrics)
    async with httpx.AsyncClient(base_url=web.url) as c:
        assert (await c.get("/healthz")).status_code == 200
    await web.close()
    await web.close()  # twice is harmless
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=web.url) as c:
            await c.get("/healthz")


async def test_a_taken_port_raises_oserror_naming_the_address(
    server: WebServer, served: dict[str, Path], health: FakeHealth, metrics: Metrics
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with pytest.raises(OSError, match=f"127.0.0.1:{port}") as raised:
        await start_web("127.0.0.1", port, feeds=lambda: served, health=health, metrics=metrics)
    assert raised.value.errno == errno.EADDRINUSE


async def test_an_unresolvable_host_raises_oserror_naming_it(
    served: dict[str, Path], health: FakeHealth, metrics: Metrics
) -> None:
    with pytest.raises(OSError, match="no-such-host.invalid:8080"):
        await start_web(
            "no-such-host.invalid", 8080, feeds=lambda: served, health=health, metrics=metrics
        )


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
    client: httpx.AsyncClient, feeds: Path, served: dict[str, Path], path: str
) -> None:
    served["link.atom"] = feeds / "link.atom"  # configured, but planted as a symlink
    served["folder.atom"] = feeds / "folder.atom"  # configured, but a directory
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


def _plant(kind: str, path: Path, outside: Path) -> None:
    """Put something that is not a feed's own file where a configured feed would be."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "hard link":
        os.link(outside, path)  # the same inode as the secret: two names, st_nlink == 2
    elif kind == "symlink":
        path.symlink_to(outside)
    elif kind == "directory":
        path.mkdir()


@pytest.mark.parametrize("kind", ["fifo", "hard link", "symlink", "directory", "missing"])
async def test_a_configured_name_that_is_not_a_regular_file_of_its_own_is_404(
    client: httpx.AsyncClient, feeds: Path, served: dict[str, Path], kind: str
) -> None:
    """A FIFO used to block a worker thread in open() for good; a hard link to config.toml was
    served as a feed. Neither may block or leak, and the listener goes on serving."""
    outside = feeds.parent / "config.toml"
    outside.write_bytes(SECRET)
    served["planted.atom"] = feeds / "planted.atom"
    _plant(kind, feeds / "planted.atom", outside)
    answers = await asyncio.wait_for(
        asyncio.gather(*(client.get("/feeds/planted.atom") for _ in range(4))), timeout=3
    )
    assert [r.status_code for r in answers] == [404] * 4
    assert all(SECRET not in r.content for r in answers)
    assert (await client.get("/feeds/ranknews.atom")).content == FEED
    assert "planted.atom" not in (await client.get("/")).text


async def test_a_file_in_feeds_dir_that_no_board_serves_is_404(
    client: httpx.AsyncClient, feeds: Path
) -> None:
    write_atomically(feeds / "state.atom", SECRET)  # a regular file, a plain feed name
    r = await client.get("/feeds/state.atom")
    assert (r.status_code, SECRET in r.content) == (404, False)


async def test_the_served_feeds_follow_the_mapping_as_a_reload_changes_it(
    client: httpx.AsyncClient, feeds: Path, tmp_path: Path, served: dict[str, Path]
) -> None:
    elsewhere = tmp_path / "new-feeds"
    elsewhere.mkdir()
    write_atomically(elsewhere / "free.atom", FEED)
    assert (await client.get("/feeds/free.atom")).status_code == 404
    served.clear()
    served["free.atom"] = elsewhere / "free.atom"  # a reload: a new board, a new feeds_dir
    assert (await client.get("/feeds/free.atom")).content == FEED
    assert (await client.get("/feeds/ranknews.atom")).status_code == 404


def test_feeds_of_maps_each_boards_file_name_to_its_path(tmp_path: Path) -> None:
    boards = [
        {"id": "a", "url": "http://127.0.0.1:1/a", "engine": "rhymix"},
        {"id": "b", "url": "http://127.0.0.1:1/b", "engine": "rhymix", "feed": "bee.xml"},
    ]
    config = make_config(tmp_path, boards, feeds_dir="out")
    assert feeds_of(config.boards) == {
        "a.atom": tmp_path / "out" / "a.atom",
        "bee.xml": tmp_path / "out" / "bee.xml",
    }


async def test_index_lists_the_feeds_present_and_the_endpoints(
    client: httpx.AsyncClient, feeds: Path, served: dict[str, Path]
) -> None:
    served["free.atom"] = feeds / "free.atom"
    served["not-yet.atom"] = feeds / "not-yet.atom"  # configured, never written: not listed
    write_atomically(feeds / "free.atom", FEED)
    write_atomically(feeds / "unconfigured.atom", FEED)
    (feeds / ".free.atom.abc.tmp").write_bytes(b"")
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "/feeds/free.atom" in r.text and "/feeds/ranknews.atom" in r.text
    assert r.text.index("free.atom") < r.text.index("ranknews.atom")
    assert ".tmp" not in r.text
    assert "not-yet" not in r.text and "unconfigured" not in r.text
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
