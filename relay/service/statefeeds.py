"""Every configured board's feed, rendered from a shared state: what lets a load balancer send
a reader to any instance.

With a shared state (PostgreSQL), an instance polls only the boards whose lease it holds and
writes only their files; the other boards' files are written on other machines. So the
listener does not read files: for /feeds/<name> it asks the state for the board's feed version
(`State.feed_version`, one read of the board's row), and renders the feed from the state's
posts with `relay.pipeline.feed.render_feeds` — the function that writes the files — only when
that version (or the board's config, after a reload) differs from the one it rendered last.
The bytes a reader gets are therefore the bytes the board's file holds on the instance that
polls it, and the ETag (a hash of them) is the same on every instance.

Last-Modified is when this instance first rendered those bytes (a re-render giving the same
bytes keeps it, as an unchanged file keeps its mtime). It may differ between instances by the
seconds between their renders, but it is never earlier than the change it shows, so an
If-Modified-Since alone costs at worst one redundant 200, never a stale 304; If-None-Match,
which readers send along with it and which decides when both are sent, is exact everywhere.

The rendered bytes are kept per board, least recently asked first out once they pass a byte
budget (a full-content feed can be megabytes). Only configured feeds are served, exactly as
from files: a name that is no board's feed is None (404), and so is a board with no
successful poll yet (no feed rather than an empty one, as `write_feed` does). A state that
cannot be read (the server down) raises StateError, which the listener answers with a 503.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from relay.core.clock import Clock
from relay.core.config import Board
from relay.core.state import State
from relay.pipeline.feed import feed_names, render_feeds
from relay.service.served import ServedFeed, etag_of

CACHE_BYTES = 64 * 1024 * 1024  # rendered feeds kept: ~1,000 excerpt feeds of 50 entries


@dataclass(frozen=True, slots=True)
class _Rendered:
    """A board's feeds as rendered from one version of the state and one board config."""

    version: str
    board: Board
    atom: ServedFeed
    json: ServedFeed | None

    @property
    def size(self) -> int:
        return len(self.atom.data) + (len(self.json.data) if self.json else 0)


class StateFeeds:
    """The `FeedSource` of a shared state. `boards()` is the latest config's boards (a reload
    changes what is served); `state` calls run in the caller's thread (a worker thread)."""

    def __init__(
        self,
        boards: Callable[[], Sequence[Board]],
        state: State,
        clock: Clock,
        *,
        max_bytes: int = CACHE_BYTES,
    ) -> None:
        self._boards = boards
        self._state = state
        self._clock = clock
        self._max_bytes = max_bytes
        self._lock = threading.Lock()  # the cache and the name index, from several threads
        self._cache: OrderedDict[str, _Rendered] = OrderedDict()  # board id -> its feeds
        self._bytes = 0
        self._index_of: Sequence[Board] | None = None
        self._index: dict[str, tuple[Board, bool]] = {}  # served name -> (board, is JSON)

    def load(self, name: str) -> ServedFeed | None:
        found = self._served().get(name)
        if found is None:
            return None
        board, is_json = found
        rendered = self._rendered(board)
        if rendered is None:
            return None
        return rendered.json if is_json else rendered.atom

    def names(self) -> list[str]:
        return sorted(self._served())

    @property
    def cached_bytes(self) -> int:
        """The bytes of rendered feeds held now (at most `max_bytes`)."""
        return self._bytes

    def _rendered(self, board: Board) -> _Rendered | None:
        version = self._state.feed_version(board.id)
        if version is None:
            return None
        with self._lock:
            old = self._cache.get(board.id)
            if old is not None:
                self._cache.move_to_end(board.id)
        if old is not None and old.version == version and _same(old.board, board):
            return old
        posts = self._state.feed_posts(board.id, board.feed_entries)
        feeds = render_feeds(board, posts)
        now = int(self._clock.wall().timestamp())
        fresh = _Rendered(
            version,
            board,
            _served(feeds.atom, old.atom if old else None, now),
            None if feeds.json is None else _served(feeds.json, old.json if old else None, now),
        )
        self._keep(board.id, fresh)
        return fresh

    def _keep(self, board_id: str, fresh: _Rendered) -> None:
        with self._lock:
            old = self._cache.pop(board_id, None)
            if old is not None:
                self._bytes -= old.size
            if fresh.size > self._max_bytes:
                return  # larger than the whole budget: rendered for each request instead
            self._cache[board_id] = fresh
            self._bytes += fresh.size
            while self._bytes > self._max_bytes:
                _, evicted = self._cache.popitem(last=False)
                self._bytes -= evicted.size

    def _served(self) -> dict[str, tuple[Board, bool]]:
        """Served name -> (board, whether it is the JSON Feed), rebuilt after a reload."""
        boards = self._boards()
        with self._lock:
            if self._index_of is not boards:
                self._index, self._index_of = feed_names(boards), boards
            return self._index


def _served(data: bytes, before: ServedFeed | None, now: int) -> ServedFeed:
    """`data` as served: the same bytes as before keep their Last-Modified."""
    etag = etag_of(data)
    if before is not None and before.etag == etag:
        return before
    return ServedFeed(data, etag, now)


def _same(rendered_for: Board, board: Board) -> bool:
    """Whether a board's config renders as before: the same object (no reload since), or an
    equal one (a reload that left the board alone)."""
    return rendered_for is board or rendered_for == board
