"""Writing a board's Atom file from the state, when the state says it changed.

The "feed needs writing" mark is set in the transaction that records posts and cleared only
after the file is durably in place: a crash in between makes the next run write it.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from relay.adapters.files import write_atomically
from relay.core.atom import render_feed
from relay.core.config import Board
from relay.core.models import FeedInfo
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
    if not (force or stored.feed_dirty or not board.feed_path.exists()):
        return False
    if stored.first_poll is None:
        return False  # nothing known yet: no feed rather than an empty one
    posts = await asyncio.to_thread(state.feed_posts, board.id, board.feed_entries)
    data = render_feed(feed_info(board), posts, max_entries=board.feed_entries, tz=board.timezone)
    changed = await asyncio.to_thread(write_atomically, board.feed_path, data)
    await asyncio.to_thread(state.mark_feed_written, board.id)
    return changed
