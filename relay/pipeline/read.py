"""Reading a board: its list pages into a `Listing`, and article pages into `Article`s.

Fetches, decodes and parses; it decides nothing itself: whether page 1 changed and whether to
read on are asked of relay.core.decide and relay.core.diff.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from relay.adapters.fetch import Fetcher, Page
from relay.core.config import Board
from relay.core.decide import Listing, page_unchanged, request_validators
from relay.core.diff import Walk, next_page
from relay.core.engines import page_url
from relay.core.errors import FetchError, LayoutError
from relay.core.models import Article, Post, StoredPost
from relay.core.parse import ListPage, ParsedList, parse_article, parse_list_page
from relay.core.sanitize import sanitize_page
from relay.core.state import BoardState, Posts, Validators
from relay.core.text import decode_html

log = logging.getLogger("relay.pipeline.read")

ARTICLE_BUDGET = 60.0  # seconds of article reading per poll, at most (plus the last request)


async def read_listing(
    board: Board,
    fetcher: Fetcher,
    state: Posts,
    stored: BoardState,
    now: Callable[[], datetime],
    page1: Page | None = None,
) -> Listing:
    """Page 1 (conditionally, unless this poll already read it: `page1`), and when it
    changed, the pages a burst spread over: parsed, with what the state knows of every
    listed post."""
    asked = request_validators(stored)
    page = page1 or await fetcher.get(board.url, etag=asked.etag, last_modified=asked.last_modified)
    answer = Validators(page.etag, page.last_modified, hashlib.sha256(page.body).hexdigest())
    if page_unchanged(stored, answer, not_modified=page.not_modified):
        return Listing(answer, unchanged=True)
    pages = [parse_page(page.body, page.content_type, page.url, board, now())]
    known = await asyncio.to_thread(state.known, board.id, _ids(pages[-1]))
    first_poll = stored.first_poll is None
    while (
        walk := next_page(pages, known, first_poll=first_poll, max_pages=board.max_pages)
    ) is Walk.NEXT:
        more = await fetcher.get(page_url(board.url, len(pages) + 1, board.selectors))
        pages.append(parse_page(more.body, more.content_type, more.url, board, now()))
        known |= await asyncio.to_thread(state.known, board.id, _ids(pages[-1]))
    newest = await asyncio.to_thread(state.newest_number, board.id)
    return Listing(
        answer, pages=tuple(map(tuple, pages)), known=known, walk=walk, newest_known_number=newest
    )


def parse_page(
    body: bytes, content_type: str | None, url: str, board: Board, now: datetime
) -> list[Post]:
    """The posts of one list page. A page without rows names the board in its error; what the
    parser refused (rows past `max_rows`, links that are not http(s)) is logged with the board."""
    return list(parse_page_read(body, content_type, url, board, now).posts)


def parse_page_read(
    body: bytes, content_type: str | None, url: str, board: Board, now: datetime
) -> ParsedList:
    """`parse_page`, with which of the preset's layouts matched (for `relay check`)."""
    decoded = decode_html(body, content_type)
    try:
        parsed = parse_list_page(
            ListPage(decoded.text, url, now, board.timezone),
            board.selectors,
            max_rows=board.max_rows,
        )
    except LayoutError as e:
        raise LayoutError(f"board {board.id}: {e}", url=e.url, selector=e.selector) from None
    for warning in parsed.warnings:
        log.warning("board=%s %s", board.id, warning)
    return parsed


async def read_articles(
    board: Board, fetcher: Fetcher, posts: Iterable[Post | StoredPost]
) -> dict[str, Article]:
    """The article pages that could be read, by post id (the others are retried later)."""
    articles, _tried = await read_articles_tried(board, fetcher, posts)
    return articles


async def read_articles_tried(
    board: Board, fetcher: Fetcher, posts: Iterable[Post | StoredPost]
) -> tuple[dict[str, Article], list[str]]:
    """The articles read, and the ids of every post whose page was asked for.

    Bounded in time: pages that trickle in just under the timeout would otherwise hold the
    poll's one transaction back for a timeout *per article*; after ARTICLE_BUDGET seconds the
    rest are left for later polls' retries (not counted as tries), and the poll records what
    it has."""
    articles: dict[str, Article] = {}
    tried: list[str] = []
    deadline = time.monotonic() + ARTICLE_BUDGET
    for post in posts:
        if time.monotonic() > deadline:
            log.info("board=%s articles: time budget spent, the rest are read later", board.id)
            break
        tried.append(post.id)
        article = await read_article(board, fetcher, post)
        if article is not None:
            articles[post.id] = article
    return articles, tried


async def read_article(board: Board, fetcher: Fetcher, post: Post | StoredPost) -> Article | None:
    """The article's excerpt and image; None when it could not be fetched (retried later)."""
    try:
        page = await fetcher.get(post.url)
    except FetchError as e:
        log.warning("board=%s article id=%s not fetched: %s", board.id, post.id, e)
        return None
    decoded = decode_html(page.body, page.content_type)
    article = parse_article(
        decoded.text, url=page.url, selectors=board.selectors, excerpt_chars=board.excerpt_chars
    )
    if board.feed_content != "full" or not board.selectors.body:
        return article  # no body selector: parse_article found no body either
    body = sanitize_page(decoded.text, url=page.url, body_selectors=board.selectors.body)
    if body.truncated:
        log.info("board=%s article id=%s body cut to fit the feed", board.id, post.id)
    return replace(article, body_html=body.html)


def _ids(posts: Iterable[Post]) -> list[str]:
    return [p.id for p in posts]
