"""One poll of one board, top to bottom, and one round over every board.

    read the list pages -> decide -> read the wanted articles -> apply the intent (one
    transaction) -> retry a few missing articles -> write the feed

Every rule (what is new, what to announce, when an unchanged poll writes its time, which
articles to read) is in relay.core.decide; this module only does things in order. Sending
happens elsewhere (the delivery worker drains the deliveries the intent queued), so a crash
after the apply loses nothing: the next run writes the feed and sends what is pending.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime

from relay.adapters.fetch import Fetcher
from relay.core.config import Board
from relay.core.coordination import Lease, LeaseLost
from relay.core.decide import (
    PollSettings,
    decide_poll,
    failed_outcome,
    poll_outcome,
    with_excerpts,
)
from relay.core.errors import BoardFailure, FetchError, LayoutError, StateError
from relay.core.models import PollOutcome, StoredPost
from relay.core.records import projected
from relay.core.source import FeedSources
from relay.core.state import PollIntent, State
from relay.pipeline.feed import WrittenFeeds, write_feed
from relay.pipeline.feedread import read_board
from relay.pipeline.gate import PollGate
from relay.pipeline.read import read_articles, read_articles_tried

log = logging.getLogger("relay.pipeline.poll")

Clock = Callable[[], datetime]
ARTICLE_RETRIES_PER_POLL = 5  # missing articles of the feed read again per poll
# The memory of the boards' own feeds for callers that keep none themselves (the service's
# and the commands' parts hold their own): without one, every poll would look for the feed.
PROCESS_SOURCES = FeedSources()


async def poll_board(
    board: Board,
    fetcher: Fetcher,
    state: State,
    now: Clock,
    sources: FeedSources | None = None,
    *,
    fence: Lease | None = None,
    stamp_always: bool = False,
    written: WrittenFeeds | None = None,
) -> PollOutcome:
    """Poll one board. Never raises for a board's own failure (a page, its layout, the state,
    the feed file): the outcome says what failed. `sources` is the process's memory of the
    boards' own feeds (found once, a failure warned once); without it, a process-wide one.

    With a `fence` (the board's lease), the result is applied only while that lease is
    current; else `LeaseLost` is raised — not a board failure: the board is another
    instance's now, nothing is recorded, counted or written. `stamp_always`: see
    `PollSettings` (a shared state); `written`: see `write_feed` (a shared state)."""
    sources = sources if sources is not None else PROCESS_SOURCES
    started = time.monotonic()
    try:
        stored = state.board_state(board.id)
        listing = await read_board(board, fetcher, state, stored, now, sources)
        settings = replace(poll_settings(board), stamp_always=stamp_always)
        intent = decide_poll(stored, listing, now(), settings)
        intent = intent.with_articles(listing.articles)  # the feed's: no request
        wanted = [p for p in intent.articles_wanted if p.id not in listing.articles]
        intent = intent.with_articles(await read_articles(board, fetcher, wanted))
        intent = with_excerpts(intent, board.routes)
        recorded: tuple[StoredPost, ...] = ()
        if intent.stamp:  # else nothing to record (an unchanged page, stamped recently)
            recorded = await asyncio.to_thread(state.apply_poll, board.id, intent, fence=fence)
        await retry_articles(board, fetcher, state)
        await write_feed(board, state, written=written)
    except LeaseLost:
        raise
    except BoardFailure as e:
        return await _failed(board, state, e, now(), _ms(started), fence)
    outcome = poll_outcome(board.id, intent, recorded, _ms(started))
    _log_poll(board, intent, outcome)
    return outcome


async def poll_boards(
    boards: Sequence[Board], poll: Callable[[Board], Awaitable[PollOutcome]], *, concurrency: int
) -> list[PollOutcome]:
    """`poll` each board, at most `concurrency` at once and one per host at a time
    (`PollGate`; `relay once`: `poll` is `poll_board` with the run's parts); one board's
    failure never stops the others."""
    gate = PollGate(concurrency)

    async def one(board: Board) -> PollOutcome:
        async with gate.admit(board.url):
            return await poll(board)

    return list(await asyncio.gather(*(one(b) for b in boards)))


def poll_settings(board: Board) -> PollSettings:
    return projected(PollSettings, board, chats=tuple(route.key for route in board.routes))


async def retry_articles(board: Board, fetcher: Fetcher, state: State) -> None:
    """Read again a few articles of the feed that could not be read before (no state call
    when the state's memory says none is missing: each thread hop costs ~0.1 ms of CPU)."""
    if state.articles_complete(board.id, board.feed_entries):
        return
    missing = await asyncio.to_thread(
        state.missing_articles, board.id, board.feed_entries, ARTICLE_RETRIES_PER_POLL
    )
    articles, tried = await read_articles_tried(board, fetcher, missing)
    for post_id in tried:
        if post_id in articles:
            await asyncio.to_thread(state.set_article, board.id, post_id, articles[post_id])
        else:
            await asyncio.to_thread(state.article_failed, board.id, post_id)


async def _failed(
    board: Board,
    state: State,
    error: BoardFailure,
    at: datetime,
    elapsed_ms: int,
    fence: Lease | None = None,
) -> PollOutcome:
    """Count the failure in the state (if the state itself works) and say what failed.
    Raises LeaseLost when the board is no longer ours: its failure is not ours to count."""
    try:
        failures = await asyncio.to_thread(
            state.record_failure, board.id, at, error.reason, str(error), fence=fence
        )
    except LeaseLost:
        raise
    except StateError as e:
        log.error("board=%s failure not recorded: %s", board.id, e)
        failures = state.board_state(board.id).failures + 1
    # The board's own trouble is a warning; the relay's own disk or state is an error.
    level = logging.WARNING if isinstance(error, FetchError | LayoutError) else logging.ERROR
    log.log(
        level,
        "board=%s failed reason=%s failures=%d: %s",
        board.id,
        error.reason,
        failures,
        error,
    )
    return failed_outcome(board.id, error, elapsed_ms)


def _log_poll(board: Board, intent: PollIntent, outcome: PollOutcome) -> None:
    for warning in intent.warnings:
        log.warning("board=%s %s", board.id, warning)
    for post in intent.retitled:
        log.info(
            "board=%s edited id=%s title=%r category=%r",
            board.id,
            post.id,
            post.title,
            post.category,
        )
    # A poll with nothing for a reader is not worth a journal line at 10,000 boards a minute.
    log.log(
        logging.DEBUG if outcome.quiet else logging.INFO,
        "board=%s new=%d announced=%d pages=%d ms=%d%s",
        board.id,
        len(outcome.new),
        outcome.announced,
        outcome.pages,
        outcome.elapsed_ms,
        " unchanged" if outcome.unchanged else "",
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
