"""Reading a board from its own feed (`source = "auto" | "feed"`), the list page otherwise.

    list page 1 -> find the feed (remembered) -> read it -> merge -> walk on through the
    list pages while a burst needs them

A feed that cannot be used (off, broken, gone, no ids) costs this poll nothing: the board is
read from its list as before, with one warning per failure (see relay.core.source). The list
page's own failures stay the board's failures, as on a list-only board.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from relay.adapters.fetch import Fetcher, Page
from relay.core.boardfeed import (
    BoardFeedError,
    FeedEntry,
    entry_article,
    feed_candidates,
    parse_board_feed,
)
from relay.core.config import Board
from relay.core.decide import Listing, page_unchanged
from relay.core.diff import Walk, next_page
from relay.core.engines import page_url
from relay.core.errors import FetchError
from relay.core.models import Article, Post
from relay.core.source import FeedSources, entry_post, merge_feed
from relay.core.state import BoardState, Posts, Validators
from relay.core.text import decode_html
from relay.pipeline.read import parse_page, read_listing

log = logging.getLogger("relay.pipeline.feedread")


async def read_board(
    board: Board,
    fetcher: Fetcher,
    state: Posts,
    stored: BoardState,
    now: Callable[[], datetime],
    sources: FeedSources,
) -> Listing:
    """The board's listing from its feed when it has a usable one, else from its list."""
    page1 = None
    if sources.worth_trying(board.id, board.url, board.source, now()):
        listing = await _read_from_feed(_Reading(board, fetcher, state, stored, now), sources)
        if isinstance(listing, Listing):
            return listing
        page1 = listing  # the list page this poll read already, if it did
    return await read_listing(board, fetcher, state, stored, now, page1)


async def find_feed(
    board: Board, fetcher: Fetcher, list_page: Page | None, remembered: str | None
) -> tuple[str, Page, list[FeedEntry]]:
    """The first feed URL that answers with entries: the remembered one, else the candidates
    the list page and the engine suggest. Raises BoardFeedError (or FetchError) with the last
    candidate's trouble."""
    if remembered is not None:
        candidates = [remembered]
    else:
        html = decode_html(list_page.body, list_page.content_type).text if list_page else ""
        candidates = feed_candidates(board.url, html, board.engine)
    error: BoardFeedError | FetchError = BoardFeedError(
        f"{board.url}: no feed URL known for this board", url=board.url, reason="no feed"
    )
    for url in candidates:
        try:
            page = await fetcher.get(url)
            return url, page, _entries(board, page, url)
        except (BoardFeedError, FetchError) as e:
            error = e
    raise error


def _entries(board: Board, page: Page, url: str) -> list[FeedEntry]:
    return parse_board_feed(
        page.body,
        engine=board.engine,
        board_url=board.url,
        id_pattern=board.selectors.id_pattern,
        content_type=page.content_type,
        feed_url=url,
    )


@dataclass(frozen=True, slots=True)
class _Reading:
    """What every step of reading one board from its feed works with."""

    board: Board
    fetcher: Fetcher
    state: Posts
    stored: BoardState
    now: Callable[[], datetime]


async def _read_from_feed(reading: _Reading, sources: FeedSources) -> Listing | Page:
    """The listing; or, when the feed cannot be used, the list page read meanwhile."""
    board, fetcher, now = reading.board, reading.fetcher, reading.now
    memory = sources.memory(board.id, board.url)
    # The list page too: a feed lists a pinned notice like any post, only the list marks it
    # (and the feed is found through it the first time).
    list_page = await fetcher.get(board.url)
    try:
        feed_url, feed_page, entries = await find_feed(board, fetcher, list_page, memory.url)
    except (BoardFeedError, FetchError) as e:
        memory.url = None  # found afresh next time
        if sources.failed(board.id, board.url, board.source, now()):
            log.warning("board=%s its feed cannot be used, reading the list: %s", board.id, e)
        else:
            log.info("board=%s no usable feed (%s): reading the list", board.id, e)
        return list_page
    if sources.worked(board.id, board.url, feed_url):
        log.info("board=%s its feed %s answers again: reading it", board.id, feed_url)
    digest = hashlib.sha256(feed_page.body)
    digest.update(b"\0" + list_page.body)
    answer = Validators(body_hash=digest.hexdigest())  # of both: no HTTP validator covers them
    if page_unchanged(reading.stored, answer, not_modified=False):
        return Listing(answer, unchanged=True, source="feed")
    return await _walk(reading, answer, entries, list_page)


async def _walk(
    reading: _Reading, answer: Validators, entries: list[FeedEntry], list_page: Page
) -> Listing:
    """Page 1 from the feed merged with the list's (which marks notices and goes on where a
    short feed ends), then the list pages a burst needs."""
    board, fetcher, state, now = reading.board, reading.fetcher, reading.state, reading.now
    feed_posts = [entry_post(e, board.timezone) for e in entries]
    pages = [merge_feed(feed_posts, _parse(board, list_page, now))]
    known = await asyncio.to_thread(state.known, board.id, [p.id for p in pages[0]])
    first_poll = reading.stored.first_poll is None
    while (
        walk := next_page(pages, known, first_poll=first_poll, max_pages=board.max_pages)
    ) is Walk.NEXT:
        more = await fetcher.get(page_url(board.url, len(pages) + 1, board.selectors))
        pages.append(_parse(board, more, now))
        known |= await asyncio.to_thread(state.known, board.id, [p.id for p in pages[-1]])
    newest = await asyncio.to_thread(state.newest_number, board.id)
    articles = {
        e.id: _article(board, e) for e in entries if e.id not in known and e.body_html.strip()
    }
    return Listing(
        answer,
        pages=tuple(map(tuple, pages)),
        known=known,
        walk=walk,
        newest_known_number=newest,
        source="feed",
        articles=articles,
    )


def _parse(board: Board, page: Page, now: Callable[[], datetime]) -> list[Post]:
    return parse_page(page.body, page.content_type, page.url, board, now())


def _article(board: Board, entry: FeedEntry) -> Article:
    return entry_article(entry, excerpt_chars=board.excerpt_chars)
