"""Feeds from the shared state: two instances' listeners on one state, over loopback.

Instance A polls the board (the simulator, the real fetcher) and writes its feed files; instance
B does not poll it, has its own empty feeds folder, and still serves the board's feed — the very
bytes of A's file — with a strong ETag, Last-Modified and 304s, because its listener renders
from the state (relay.service.statefeeds). Each instance is its own State object, as two
processes would have. A load balancer may then send a reader to either.
"""

from __future__ import annotations

import email.utils
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from atomcheck import assert_valid_atom
from conftest import make_config, write_config

from relay.adapters.fetch import Fetcher
from relay.adapters.sqlite import SqliteState
from relay.core.clock import Clock
from relay.core.config import Config
from relay.core.errors import StateError
from relay.core.state import State
from relay.pipeline.feed import WrittenFeeds
from relay.pipeline.poll import poll_board
from relay.service.metrics import Metrics
from relay.service.statefeeds import StateFeeds
from relay.service.web import Health, WebServer, start_web
from relay.sim import BoardSimulator, SimBoard


def healthy() -> Health:
    return Health(ok=True)


class WallClock:
    """A wall clock the test moves: Last-Modified must not follow it for an unchanged feed."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Instance:
    """One relay's view: its config (its own feeds folder), its own State object, a listener."""

    config: Config
    state: State
    feeds: StateFeeds
    web: WebServer
    written: WrittenFeeds = field(default_factory=WrittenFeeds)  # this process's feed files

    async def get(self, name: str, **headers: str) -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.get(f"{self.web.url}/feeds/{name}", headers=headers)

    async def poll(self) -> None:
        async with Fetcher(user_agent="test", host_delay=0, timeout=5) as fetcher:
            outcome = await poll_board(
                self.config.board("news"),
                fetcher,
                self.state,
                lambda: datetime.now(UTC),
                written=self.written,
            )
        assert outcome.ok, outcome.error


@pytest.fixture(params=["postgres", "sqlite"])
def shared_state(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Any]:
    """(the `state` setting, a function opening one more State object on it). PostgreSQL is
    the state instances really share; SQLite (one file, two connections) shows that the
    listener needs nothing but the State Protocol."""
    if request.param == "sqlite":
        path = tmp_path / "shared.db"
        return str(path), lambda: SqliteState(path)
    from relay.adapters.postgres import PostgresState
    from relay.core.state_url import parse_postgres_url

    url = request.getfixturevalue("pg_url")
    return url, lambda: PostgresState(parse_postgres_url(url))


@pytest.fixture
def board(sim: BoardSimulator) -> SimBoard:
    b = sim.add_board("news", "rhymix", page_size=10)
    for i in range(12):
        b.add_post(f"글 {i}", "작성자", f"<p>글 {i} 본문</p>")
    return b


@pytest.fixture
async def instances(
    tmp_path: Path, board: SimBoard, shared_state: tuple[str, Any]
) -> AsyncIterator[tuple[Instance, Instance, WallClock]]:
    setting, open_state = shared_state
    wall = WallClock()
    made: list[Instance] = []
    try:
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            entry = {"id": "news", "url": board.list_url, "title": "뉴스", "json_feed": True}
            config = make_config(folder, [entry], state=setting)
            state = open_state()
            feeds = StateFeeds(lambda c=config: c.boards, state, Clock(wall=wall))
            web = await start_web("127.0.0.1", 0, feeds=feeds, health=healthy, metrics=Metrics())
            made.append(Instance(config, state, feeds, web))
        yield made[0], made[1], wall
    finally:
        for instance in made:
            await instance.web.close()
            instance.state.close()


async def test_a_board_polled_by_the_other_instance_is_served_from_the_state(
    instances: tuple[Instance, Instance, WallClock], board: SimBoard
) -> None:
    a, b, wall = instances
    assert (await b.get("news.atom")).status_code == 404  # no poll yet: no feed, not an empty one

    await a.poll()
    a_file = a.config.board("news").feed_path
    served = await b.get("news.atom")
    assert served.status_code == 200
    assert served.content == a_file.read_bytes()  # the bytes of the polling instance's file
    assert served.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert len(assert_valid_atom(served.content).entries) == 10
    assert not b.config.board("news").feed_path.exists()  # B wrote nothing: it did not poll
    json_feed = await b.get("news.json")
    assert json_feed.content == a.config.board("news").json_path.read_bytes()
    assert json_feed.headers["content-type"] == "application/feed+json; charset=utf-8"

    etag, modified = served.headers["etag"], served.headers["last-modified"]
    assert (await a.get("news.atom")).headers["etag"] == etag  # the same tag on every instance
    wall.now += timedelta(minutes=5)
    assert (await b.get("news.atom", **{"If-None-Match": etag})).status_code == 304
    repeat = await b.get("news.atom", **{"If-Modified-Since": modified})
    assert repeat.status_code == 304 and repeat.headers["last-modified"] == modified

    board.add_post("새 글", "작성자", "<p>새 글 본문</p>")
    await a.poll()
    changed = await b.get("news.atom", **{"If-None-Match": etag, "If-Modified-Since": modified})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.content == a_file.read_bytes()
    assert assert_valid_atom(changed.content).entries[0].title == "새 글"
    later = email.utils.parsedate_to_datetime(changed.headers["last-modified"])
    assert later > email.utils.parsedate_to_datetime(modified)


@pytest.mark.parametrize("shared_state", ["postgres"], indirect=True)
async def test_a_board_that_comes_back_gets_its_file_rewritten_on_its_first_poll(
    instances: tuple[Instance, Instance, WallClock], board: SimBoard
) -> None:
    a, b, _ = instances
    await a.poll()  # A holds the board and writes its file
    board.add_post("B가 읽은 글", "작성자", "<p>본문</p>")
    b.state.refresh_boards(["news"])  # B takes the board over (as the lease task does)
    await b.poll()  # B records the post and writes its own file; the mark is cleared
    a_file, b_file = (i.config.board("news").feed_path for i in (a, b))
    assert a_file.read_bytes() != b_file.read_bytes()
    a.state.refresh_boards(["news"])  # the board comes back to A; page 1 is unchanged
    await a.poll()
    assert a_file.read_bytes() == b_file.read_bytes()
    assert (await a.get("news.atom")).content == a_file.read_bytes()


async def test_only_the_configured_feeds_are_served(
    instances: tuple[Instance, Instance, WallClock],
) -> None:
    a, b, _ = instances
    await a.poll()
    for name in ("config.toml", "shared.db", "other.atom", "..%2Fconfig.toml", "news.rss"):
        assert (await b.get(name)).status_code == 404, name
    assert b.feeds.names() == ["news.atom", "news.json"]


# --- the cache: re-rendered when the board's feed changed, and bounded -------------------------


class CountingState:
    """The State, counting how often the posts of a feed are read (each read is a render)."""

    def __init__(self, state: State) -> None:
        self._state = state
        self.renders = 0

    def feed_posts(self, board_id: str, limit: int) -> Any:
        self.renders += 1
        return self._state.feed_posts(board_id, limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)


def intent(*post_ids: int, at: datetime) -> Any:
    from relay.core.models import Article, Post
    from relay.core.state import NewPost, PageChanges, PollIntent, Validators

    new = tuple(
        NewPost(
            Post(str(i), f"http://b.example/{i}", f"글 {i}"), True, True, Article("요약", "본문")
        )
        for i in post_ids
    )
    return PollIntent(at, True, PageChanges(Validators(body_hash=str(post_ids)), "1", new))


def config_of(folder: Path, count: int = 5, **board: Any) -> Config:
    entries = [{"id": f"b{i}", "url": f"http://b.example/{i}", **board} for i in range(count)]
    return make_config(folder, entries)


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[tuple[Config, SqliteState, CountingState]]:
    """Five boards' config, their state, and the same state counting renders."""
    config = config_of(tmp_path)
    state = SqliteState(config.state)
    try:
        yield config, state, CountingState(state)
    finally:
        state.close()


def test_a_feed_is_rendered_again_only_when_the_board_or_its_config_changed(
    tmp_path: Path, counted: tuple[Config, SqliteState, CountingState]
) -> None:
    config, state, counting = counted
    wall = WallClock()
    current = [config]
    feeds = StateFeeds(lambda: current[0].boards, counting, Clock(wall=wall))  # type: ignore[arg-type]
    state.apply_poll("b0", intent(1, 2, at=wall.now))
    first = feeds.load("b0.atom")
    assert first is not None and feeds.load("b0.atom") == first and counting.renders == 1
    assert feeds.load("b1.atom") is None  # b1 has no poll yet: nothing to render
    wall.now += timedelta(hours=1)
    state.apply_poll("b1", intent(7, at=wall.now))  # another board's news
    assert feeds.load("b0.atom") == first and counting.renders == 1

    state.apply_poll("b0", intent(3, at=wall.now))
    second = feeds.load("b0.atom")
    assert second is not None and counting.renders == 2
    assert second.etag != first.etag and second.mtime == first.mtime + 3600

    current[0] = config_of(tmp_path, title="새 제목")  # a reload that changes the feed
    third = feeds.load("b0.atom")
    assert third is not None and counting.renders == 3 and "새 제목".encode() in third.data
    current[0] = config_of(tmp_path, title="새 제목")  # an equal config: no render
    assert feeds.load("b0.atom") == third and counting.renders == 3


def test_the_cache_keeps_at_most_its_budget_least_recently_asked_out_first(
    counted: tuple[Config, SqliteState, CountingState],
) -> None:
    config, state, counting = counted
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for i in range(5):
        state.apply_poll(f"b{i}", intent(1, 2, 3, at=now))
    size = len(StateFeeds(lambda: config.boards, state, Clock()).load("b0.atom").data)  # type: ignore[union-attr]
    feeds = StateFeeds(lambda: config.boards, counting, Clock(), max_bytes=int(size * 2.5))  # type: ignore[arg-type]
    for i in range(5):
        assert feeds.load(f"b{i}.atom") is not None
    assert counting.renders == 5 and feeds.cached_bytes <= size * 2.5
    feeds.load("b4.atom")  # the most recent two are kept
    feeds.load("b3.atom")
    assert counting.renders == 5
    feeds.load("b0.atom")  # long out: rendered again
    assert counting.renders == 6
    tiny = StateFeeds(lambda: config.boards, counting, Clock(), max_bytes=10)  # type: ignore[arg-type]
    tiny.load("b0.atom")
    tiny.load("b0.atom")  # larger than the whole budget: served, never kept
    assert counting.renders == 8 and tiny.cached_bytes == 0


# --- `relay run` on a PostgreSQL state: the composition root picks the state's feeds -----------


@pytest.mark.slow
def test_relay_run_on_a_shared_state_serves_what_another_instance_polled(
    tmp_path: Path, board: SimBoard, pg_url: str
) -> None:
    from test_daemon import Running, free_port, wait_for

    def start(name: str, interval: str) -> tuple[Running, str, Path]:
        folder = tmp_path / name
        folder.mkdir()
        port = free_port()
        entry = {"id": "news", "url": board.list_url, "interval": interval}
        config = write_config(folder, [entry], state=pg_url, http={"listen": f"127.0.0.1:{port}"})
        return Running(config), f"http://127.0.0.1:{port}/feeds/news.atom", folder / "feeds"

    def fetch(url: str) -> httpx.Response | None:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            return None

    # A starts first and takes the lease of the one board; B, started next, holds nothing.
    a, a_url, a_feeds = start("a", "1s")
    b: Running | None = None
    try:
        wait_for(lambda: (a_feeds / "news.atom").exists(), what="A's first poll")
        b, b_url, b_feeds = start("b", "1s")
        wait_for(lambda: (r := fetch(b_url)) and r.status_code == 200, what="B's listener")
        board.add_post("A가 읽은 글", "작성자", "<p>본문</p>")
        title = "A가 읽은 글".encode()
        wait_for(lambda: title in (a_feeds / "news.atom").read_bytes(), what="A's poll")
        served = fetch(b_url)
        assert served is not None and served.content == (a_feeds / "news.atom").read_bytes()
        assert not (b_feeds / "news.atom").exists()  # B polled nothing, so wrote no file
        again = fetch(a_url)
        assert again is not None and again.headers["etag"] == served.headers["etag"]
        assert a.stop() < 10 and b.stop() < 10
    finally:
        a.kill()
        if b is not None:
            b.kill()


class DownState(CountingState):
    """A shared state whose server is down: every read fails as the adapter reports it."""

    def feed_version(self, board_id: str) -> str | None:
        raise StateError("postgresql://relay@127.0.0.1:1/relay: cannot read: connection refused")


async def test_a_state_that_cannot_be_read_is_a_503_with_one_warning(
    counted: tuple[Config, SqliteState, CountingState], caplog: pytest.LogCaptureFixture
) -> None:
    config, state, _ = counted
    feeds = StateFeeds(lambda: config.boards, DownState(state), Clock())  # type: ignore[arg-type]
    web = await start_web("127.0.0.1", 0, feeds=feeds, health=healthy, metrics=Metrics())
    try:
        async with httpx.AsyncClient() as client:
            answers = [await client.get(f"{web.url}/feeds/b0.atom") for _ in range(3)]
    finally:
        await web.close()
    assert [a.status_code for a in answers] == [503] * 3
    assert answers[0].headers["retry-after"] == "30"
    warned = [r.getMessage() for r in caplog.records if "not served" in r.getMessage()]
    assert len(warned) == 1 and "b0.atom" in warned[0] and "127.0.0.1:1" in warned[0]
