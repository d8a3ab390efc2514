"""Writing a board's Atom file (and its JSON Feed, with `json_feed`) from the state, when the
state says it changed.

The "feed needs writing" mark is set in the transaction that records posts and cleared only
after the file is durably in place: a crash in between makes the next run write it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

from relay.adapters.files import write_atomically
from relay.core.atom import render_feed
from relay.core.config import Board
from relay.core.jsonfeed import render_json_feed
from relay.core.models import FeedInfo, StoredPost
from relay.core.opml import OpmlFeed, render_opml
from relay.core.records import projected
from relay.core.state import BoardState, State


def feed_info(board: Board) -> FeedInfo:
    return projected(
        FeedInfo,
        board,
        board_id=board.id,
        site_url=board.url,
        author=board.title,
        tag_authority=urlsplit(board.url).hostname or "localhost",
    )


@dataclass(frozen=True, slots=True)
class RenderedFeeds:
    """A board's feed documents as bytes: Atom, and the JSON Feed when the board has one."""

    atom: bytes
    json: bytes | None  # None: the board has no `json_feed`


def render_feeds(board: Board, posts: Sequence[StoredPost]) -> RenderedFeeds:
    """The bytes of the board's feed files, from its newest posts (`State.feed_posts`). The
    one rendering of a feed: the files written here and the feeds a listener serves from a
    shared state (relay.service.statefeeds) are these bytes, so a reader gets the same feed
    from any instance and from the file."""
    info = feed_info(board)
    atom = render_feed(info, posts, max_entries=board.feed_entries, tz=board.timezone)
    if not board.json_feed:
        return RenderedFeeds(atom, None)
    json_data = render_json_feed(  # from the same posts: both formats show one post alike
        info,
        posts,
        max_entries=board.feed_entries,
        tz=board.timezone,
        feed_url=json_url(board.feed_url),
        bodies={p.id: p.body_html for p in posts if p.body_html},
    )
    return RenderedFeeds(atom, json_data)


class WrittenFeeds:
    """Which change of each board's feed this process last wrote to its own file.

    With a shared state the "feed needs writing" mark is every instance's, and whichever
    writes its own file clears it. A board that comes back to an instance (a lease taken
    over, a restart) would then keep the file this instance wrote long before, with nothing
    marked; compared with the board's change count (`BoardState.feed_changes`), the first
    poll here writes it. A state this process alone writes needs none (the mark is exact).
    """

    def __init__(self) -> None:
        self._changes: dict[str, int] = {}

    def behind(self, stored: BoardState) -> bool:
        return self._changes.get(stored.board_id) != stored.feed_changes

    def wrote(self, stored: BoardState) -> None:
        self._changes[stored.board_id] = stored.feed_changes


async def write_feed(
    board: Board, state: State, *, force: bool = False, written: WrittenFeeds | None = None
) -> bool:
    """Write the board's Atom file when the state changed (or the file is gone, or it is
    behind `written`: a shared state). Returns whether the bytes on disk changed. Raises
    FeedWriteError; the old file is then intact."""
    stored = state.board_state(board.id)
    missing = not board.feed_path.exists() or (board.json_feed and not board.json_path.exists())
    behind = written is not None and written.behind(stored)
    if not (force or stored.feed_dirty or missing or behind):
        return False
    if stored.first_poll is None:
        return False  # nothing known yet: no feed rather than an empty one
    posts = await asyncio.to_thread(state.feed_posts, board.id, board.feed_entries)
    rendered = render_feeds(board, posts)
    changed = await asyncio.to_thread(write_atomically, board.feed_path, rendered.atom)
    if rendered.json is not None:
        json_changed = await asyncio.to_thread(write_atomically, board.json_path, rendered.json)
        changed = json_changed or changed
    if stored.feed_dirty:  # else already clear (a missing file, or one behind): no write
        await asyncio.to_thread(state.mark_feed_written, board.id)
    if written is not None:  # the count read before the posts: a change since is written next
        written.wrote(stored)
    return changed


def feed_names(boards: Iterable[Board]) -> dict[str, tuple[Board, bool]]:
    """Each served feed name -> its board, and whether it is the JSON Feed: every board's Atom
    file under its bare name, and its JSON Feed beside it when the board writes one."""
    names = {board.feed_path.name: (board, False) for board in boards}
    names |= {b.json_path.name: (b, True) for b in boards if b.json_feed}
    return names


def opml_document(boards: Sequence[Board], base_url: str, now: datetime) -> bytes:
    """Every board's feed in one OPML file. A board's `feed_url` is its feed's address; the
    others are served under `base_url` (the listener's public root) at /feeds/<name>."""
    feeds = []
    for board in boards:
        atom = board.feed_url or f"{base_url.rstrip('/')}/feeds/{quote(board.feed_path.name)}"
        feeds.append(OpmlFeed(board.title, atom, board.url, board.id, board.language))
    return render_opml(feeds, title="board-relay", now=now)


def json_url(atom_url: str | None) -> str | None:
    """Where the JSON Feed is served, when the Atom feed's public URL is known: beside it."""
    if not atom_url:
        return None
    head, dot, tail = atom_url.rpartition(".")
    return f"{head}.json" if dot and "/" not in tail else None
