"""One poll of one board, top to bottom, and one cycle over every board.

fetch page 1 -> (unchanged? stop) -> parse -> follow pages while all is new -> decide (diff)
-> fetch articles of new posts -> record everything in one transaction -> write the feed.
Sending happens elsewhere (the courier drains the deliveries this records), so a crash after
recording loses nothing: the next run writes the feed and sends what is pending.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, tzinfo
from datetime import time as clock_time
from urllib.parse import urlsplit

from relay.adapters.fetch import Fetcher
from relay.adapters.files import write_atomically
from relay.adapters.store import BoardState, NewPost, Store
from relay.core.atom import render_feed
from relay.core.config import Board
from relay.core.diff import needs_next_page, plan_poll, wanted
from relay.core.engines import page_url
from relay.core.errors import FeedWriteError, FetchError, LayoutError
from relay.core.models import Article, FeedInfo, PollOutcome, Post, StoredPost
from relay.core.parse import parse_article, parse_list
from relay.core.text import decode_html

log = logging.getLogger("relay.pipeline.cycle")

Clock = Callable[[], datetime]
ARTICLE_RETRIES_PER_POLL = 5


async def poll_board(board: Board, fetcher: Fetcher, store: Store, now: Clock) -> PollOutcome:
    """Poll one board. Never raises for a board's own failure: the outcome says what failed."""
    started = time.monotonic()
    state = await _board_state(store, board.id)
    first_poll = state.first_poll is None
    pages: list[list[Post]] = []
    success = PollOutcome(board_id=board.id, ok=True)
    try:
        page = await fetcher.get(
            board.url,
            etag=None if first_poll else state.etag,
            last_modified=None if first_poll else state.last_modified,
        )
        body_hash = hashlib.sha256(page.body).hexdigest()
        if page.not_modified or (not first_poll and body_hash == state.body_hash):
            # Nothing to record but the time. A write (and its fsync) per unchanged poll is
            # most of a quiet relay's I/O, so the time is written only once it is 1.5
            # intervals old: `relay status` still sees every board within 3 intervals.
            stamp = now()
            last = state.last_success
            stale = last is None or (stamp - last).total_seconds() > board.interval * 1.5
            if state.failures or stale:
                await asyncio.to_thread(store.record_unchanged, board.id, stamp)
            success = replace(success, unchanged=True)
        else:
            pages.append(parse_page(page.body, page.content_type, page.url, board, now()))
            known = await asyncio.to_thread(store.known, board.id, [p.id for p in pages[0]])
            while len(pages) < board.max_pages and needs_next_page(
                wanted(pages[-1], notices=board.notices), known, first_poll=first_poll
            ):
                url = page_url(board.url, len(pages) + 1, board.selectors)
                more = await fetcher.get(url)
                pages.append(parse_page(more.body, more.content_type, more.url, board, now()))
                known |= await asyncio.to_thread(store.known, board.id, [p.id for p in pages[-1]])
            newest_number = await asyncio.to_thread(store.newest_number, board.id)
            plan = plan_poll(
                pages,
                known,
                first_poll=first_poll,
                baseline=state.baseline,
                backfill=board.backfill,
                notices=board.notices,
                max_pages=board.max_pages,
                newest_known_number=newest_number,
            )
            if plan.missing_warning:
                log.warning("board=%s %s", board.id, plan.missing_warning)
                success = replace(success, warnings=(plan.missing_warning,))
            # Newest first for the articles, so that a long first poll fills the top of
            # the feed first; then record oldest first.
            articles = {
                p.id: await _article(fetcher, board, p)
                for p in plan.new[::-1]
                if not p.notice or board.notices
            }
            seen_at = now()
            new = [
                NewPost(
                    p if first_poll else _timed(p, seen_at, board.timezone),
                    articles.get(p.id),
                    p.id in plan.announce,
                )
                for p in plan.new
            ]
            await asyncio.to_thread(
                store.record_poll,
                board.id,
                now=seen_at,
                new=new,
                retitled=plan.retitled,
                baseline=plan.baseline,
                chats=[board.chat] if board.chat else [],
                etag=page.etag,
                last_modified=page.last_modified,
                body_hash=body_hash,
            )
            for post in plan.retitled:
                log.info("board=%s retitled id=%s title=%r", board.id, post.id, post.title)
            stored = await asyncio.to_thread(store.posts, board.id, [p.id for p in plan.new])
            success = replace(
                success,
                new=tuple(stored[p.id] for p in plan.new if p.id in stored),
                announced=len(plan.announce) if board.chat else 0,
                updated=len(plan.retitled),
            )
    except (FetchError, LayoutError) as e:
        failures = await asyncio.to_thread(store.record_failure, board.id, now(), e.reason, str(e))
        log.warning("board=%s failed reason=%s failures=%d: %s", board.id, e.reason, failures, e)
        return PollOutcome(
            board_id=board.id,
            ok=False,
            reason=e.reason,
            error=str(e),
            pages=len(pages),
            retry_after=getattr(e, "retry_after", None),
            elapsed_ms=_ms(started),
        )
    await _retry_articles(board, fetcher, store)
    try:
        await write_feed(board, store)
    except FeedWriteError as e:
        log.error("board=%s feed not written: %s", board.id, e)
        return PollOutcome(
            board_id=board.id,
            ok=False,
            reason="feed",
            error=str(e),
            pages=len(pages),
            elapsed_ms=_ms(started),
        )
    outcome = replace(success, pages=len(pages), elapsed_ms=_ms(started))
    # An unchanged board is not an event worth a journal line at 10,000 boards a minute.
    log.log(
        logging.DEBUG if outcome.unchanged else logging.INFO,
        "board=%s new=%d announced=%d pages=%d ms=%d%s",
        board.id,
        len(outcome.new),
        outcome.announced,
        outcome.pages,
        outcome.elapsed_ms,
        " unchanged" if outcome.unchanged else "",
    )
    return outcome


def parse_page(
    body: bytes, content_type: str | None, url: str, board: Board, now: datetime
) -> list[Post]:
    """The posts of one list page. A page without rows names the board in its error."""
    decoded = decode_html(body, content_type)
    try:
        return parse_list(
            decoded.text, url=url, selectors=board.selectors, now=now, tz=board.timezone
        )
    except LayoutError as e:
        raise LayoutError(f"board {board.id}: {e}", url=e.url, selector=e.selector) from None


async def _board_state(store: Store, board_id: str) -> BoardState:
    """The board's poll state: from the store's cache without a thread hop, when it has it."""
    cached = store.cached_board_state(board_id)
    if cached is not None:
        return cached
    return await asyncio.to_thread(store.board_state, board_id)


def _timed(post: Post, seen_at: datetime, tz: tzinfo) -> Post:
    """Boards print only the date for many rows; that reads as midnight. A post that a later
    poll finds appeared within the last interval, so when it is today's, the moment it was
    first seen is the better time (the feed and the message then show a real time)."""
    published = post.published
    if published is None or published.timetz().replace(tzinfo=None) != clock_time(0):
        return post
    local_seen = seen_at.astimezone(tz)
    if published.astimezone(tz).date() != local_seen.date():
        return post
    return replace(post, published=local_seen)


async def _article(fetcher: Fetcher, board: Board, post: Post | StoredPost) -> Article | None:
    """The article's excerpt and image; None when it could not be fetched (retried later)."""
    try:
        page = await fetcher.get(post.url)
    except FetchError as e:
        log.warning("board=%s article id=%s not fetched: %s", board.id, post.id, e)
        return None
    decoded = decode_html(page.body, page.content_type)
    return parse_article(
        decoded.text, url=page.url, selectors=board.selectors, excerpt_chars=board.excerpt_chars
    )


async def _retry_articles(board: Board, fetcher: Fetcher, store: Store) -> None:
    missing = await asyncio.to_thread(store.missing_articles, board.id, board.feed_entries)
    for post in missing[:ARTICLE_RETRIES_PER_POLL]:
        article = await _article(fetcher, board, post)
        if article is not None:
            await asyncio.to_thread(store.set_article, board.id, post.id, article)
        else:
            await asyncio.to_thread(store.article_failed, board.id, post.id)


def feed_info(board: Board) -> FeedInfo:
    return FeedInfo(
        board_id=board.id,
        title=board.title,
        site_url=board.url,
        feed_url=board.feed_url,
        language=board.language,
        author=board.title,
        tag_authority=urlsplit(board.url).hostname or "localhost",
    )


async def write_feed(board: Board, store: Store, *, force: bool = False) -> bool:
    """Write the board's Atom file when the state changed (or the file is gone).

    The "dirty" mark is set in the same transaction that records posts and cleared only
    after the file is durably in place: a crash in between makes the next run write it.
    """
    state = await _board_state(store, board.id)
    if not (force or state.feed_dirty or not board.feed_path.exists()):
        return False
    if state.first_poll is None:
        return False  # nothing known yet: no feed rather than an empty one
    posts = await asyncio.to_thread(store.feed_posts, board.id, board.feed_entries)
    data = render_feed(feed_info(board), posts, max_entries=board.feed_entries, tz=board.timezone)
    changed = await asyncio.to_thread(write_atomically, board.feed_path, data)
    await asyncio.to_thread(store.mark_feed_written, board.id)
    return changed


async def poll_boards(
    boards: Sequence[Board], fetcher: Fetcher, store: Store, now: Clock, concurrency: int
) -> list[PollOutcome]:
    """Poll boards concurrently (bounded); one board's failure never stops the others."""
    gate = asyncio.Semaphore(concurrency)

    async def one(board: Board) -> PollOutcome:
        async with gate:
            return await poll_board(board, fetcher, store, now)

    return list(await asyncio.gather(*(one(b) for b in boards)))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
