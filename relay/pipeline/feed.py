"""Writing a board's Atom file (and its JSON Feed, with `json_feed`) from the state, when the
state says it changed.

The "feed needs writing" mark is set in the transaction that records posts and cleared only
after the file is durably in place: a crash in between makes the next run write it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote, urlsplit

from relay.adapters.files import write_atomically
from relay.core.atom import render_feed
from relay.core.config import Board
from relay.core.jsonfeed import render_json_feed
from relay.core.models import FeedInfo
from relay.core.opml import OpmlFeed, render_opml
from relay.core.records import projected
from relay.core.state import State


def feed_info(board: Board) -> FeedInfo:
    return projected(
        FeedInfo,
        board,
        board_id=board.id,
        site_url=board.url,
        author=board.title,
        tag_authority=urlsplit(board.url).hostname or "localhost",
    )


async def write_feed(board: Board, state: State, *, force: bool = False) -> bool:
    """Write the board's Atom file when the state changed (or the file is gone). Returns
    whether the bytes on disk changed. Raises FeedWriteError; the old file is then intact."""
    stored = state.board_state(board.id)
    missing = not board.feed_path.exists() or (board.json_feed and not board.json_path.exists())
    if not (force or stored.feed_dirty or missing):
        return False
    if stored.first_poll is None:
        return False  # nothing known yet: no feed rather than an empty one
    posts = await asyncio.to_thread(state.feed_posts, board.id, board.feed_entries)
    info = feed_info(board)
    data = render_feed(info, posts, max_entries=board.feed_entries, tz=board.timezone)
    changed = await asyncio.to_thread(write_atomically, board.feed_path, data)
    if board.json_feed:  # from the same posts: both formats show one post alike
        json_data = render_json_feed(
            info,
            posts,
            max_entries=board.feed_entries,
            tz=board.timezone,
            feed_url=json_url(board.feed_url),
            bodies={p.id: p.body_html for p in posts if p.body_html},
        )
        changed = await asyncio.to_thread(write_atomically, board.json_path, json_data) or changed
    await asyncio.to_thread(state.mark_feed_written, board.id)
    return changed


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
