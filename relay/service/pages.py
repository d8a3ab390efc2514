"""The listener's pages made from the service: the status page at `/`, `/boards/<id>`, and the
OPML of every feed. It gathers the records relay.core.statuspage renders.

Cost is bounded whatever the number of boards or of visitors: a page is built from a handful
of grouped queries (board states with counts, pending per chat, the last 48 hours' arrivals of
every board at once, counted per hour in SQL), never one query per board, in a worker thread.
The index is kept for `refresh` seconds and rebuilt behind the visitors, who get the last page
at once: a reload storm or a monitoring probe costs at most one build per period, and no
visitor but the first waits for one (1,000 boards of 200 posts each: ~0.3 s a build). The live
facts (health, backoff, last outcome, quiet) come from the service's memory, read on the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from itertools import chain, repeat

from relay.core.config import Board, Config
from relay.core.sparkline import SPARK_HOURS
from relay.core.state import BoardState, ChatCounts, DeliveryStatus
from relay.core.statuspage import (
    BoardRow,
    DeliveryRow,
    PostRow,
    RoutePending,
    render_board,
    render_index,
)
from relay.pipeline.feed import opml_document
from relay.service.daemon import BoardLive, Service

log = logging.getLogger("relay.service.pages")

REFRESH = 3.0  # seconds an index page is served again before it is rebuilt
BOARD_POSTS = 50  # posts on a board's page
ROUTE = "telegram"  # how a board's chat is named on the page (chat ids only with show_chats)


class StatusPages:
    """What `relay.service.web.Pages` asks, answered from one running Service."""

    def __init__(self, service: Service, *, refresh: float = REFRESH) -> None:
        self._service = service
        self._refresh = refresh
        self._index: tuple[float, str] | None = None  # (monotonic time built, page)
        self._building = asyncio.Lock()
        self._rebuilding: asyncio.Task[str] | None = None

    def opml(self, base_url: str) -> bytes:
        return opml_document(self._service.config.boards, base_url, self._service.clock.wall())

    async def index(self) -> str:
        """The index as last built. Once one exists, no visitor waits for a build: a page
        older than `refresh` is still answered, and a rebuild starts behind it."""
        cached = self._index
        if cached is None:
            return await self._rebuild()
        stale = self._service.clock.monotonic() - cached[0] >= self._refresh
        if stale and (self._rebuilding is None or self._rebuilding.done()):
            self._rebuilding = asyncio.create_task(self._rebuild())
            self._rebuilding.add_done_callback(_log_failure)
        return cached[1]

    async def _rebuild(self) -> str:
        async with self._building:  # visitors arriving during a build share its page
            cached = self._index
            monotonic = self._service.clock.monotonic
            if cached is not None and monotonic() - cached[0] < self._refresh:
                return cached[1]
            config, live = self._service.config, self._service.board_live()
            page = await asyncio.to_thread(self._build_index, config, live)
            self._index = (monotonic(), page)
            return page

    async def board(self, board_id: str) -> str | None:
        config = self._service.config
        board = next((b for b in config.boards if b.id == board_id), None)
        if board is None:
            return None
        live = self._service.board_live()
        return await asyncio.to_thread(self._build_board, config, board, live)

    # --- in a worker thread ---------------------------------------------------------------

    def _build_index(self, config: Config, live: Mapping[str, BoardLive]) -> str:
        now = self._service.clock.wall()
        state = self._service.parts.state
        states = state.board_states(b.id for b in config.boards)
        pending = _by_board(state.chat_counts())
        arrivals = state.arrivals_per_hour(_spark_start(now))
        rows = [
            board_row(b, s, live.get(b.id), pending.get(b.id, ()), _times(arrivals.get(b.id)))
            for b, s in zip(config.boards, states, strict=True)
        ]
        leases = self._service.leases
        instances = leases.coordination.instances(config.lease) if leases.shared else []
        return render_index(
            rows,
            now=now,
            tz=config.timezone,
            lang=config.lang,
            show_chats=config.show_chats,
            instances=instances,
        )

    def _build_board(self, config: Config, board: Board, live: Mapping[str, BoardLive]) -> str:
        now = self._service.clock.wall()
        state = self._service.parts.state
        (stored,) = state.board_states([board.id])
        pending = state.chat_counts(board.id)
        arrivals = state.first_seen_since(_spark_start(now), board.id).get(board.id, ())
        row = board_row(board, stored, live.get(board.id), pending, arrivals)
        posts = state.feed_posts(board.id, BOARD_POSTS)
        deliveries: dict[str, list[DeliveryRow]] = {}
        for delivery in state.post_deliveries(board.id, [p.id for p in posts]):
            deliveries.setdefault(delivery.post_id, []).append(delivery_row(delivery))
        post_rows = [
            PostRow(p.id, p.title, p.url, p.first_seen, tuple(deliveries.get(p.id, ())))
            for p in posts
        ]
        return render_board(
            row,
            post_rows,
            now=now,
            tz=config.timezone,
            lang=config.lang,
            show_chats=config.show_chats,
        )


def board_row(
    board: Board,
    stored: BoardState,
    live: BoardLive | None,
    pending: Sequence[ChatCounts],
    first_seen: Sequence[datetime],
) -> BoardRow:
    """One board's card: the config, the stored state and counts, and the service's memory
    (absent for a board added by a reload and not polled yet)."""
    return BoardRow(
        id=board.id,
        title=board.title,
        url=board.url,
        feed_name=board.feed_path.name,
        json_feed_name=board.json_path.name if board.json_feed else "",
        ok=live.ok if live is not None else True,
        problem=live.problem if live is not None else "",
        backing_off_until=live.backing_off_until if live is not None else None,
        quiet_since=live.quiet_since if live is not None else None,
        last_poll=stored.last_poll,
        last_success=stored.last_success,
        last_new=stored.last_new,
        failures=stored.failures,
        posts_known=stored.posts,
        pending=tuple(RoutePending(ROUTE, c.chat, c.pending, c.failed) for c in pending),
        source=board.url,
        first_seen=tuple(first_seen),
        last_outcome=live.last_outcome if live is not None else "",
    )


def delivery_row(delivery: DeliveryStatus) -> DeliveryRow:
    if delivery.status == "sent":
        return DeliveryRow(ROUTE, delivery.chat, "sent", at=delivery.sent_at)
    if delivery.status == "failed":
        return DeliveryRow(ROUTE, delivery.chat, "failed", reason=delivery.error)
    return DeliveryRow(
        ROUTE, delivery.chat, "pending", reason=delivery.error, at=delivery.not_before
    )


def _by_board(counts: Sequence[ChatCounts]) -> dict[str, list[ChatCounts]]:
    grouped: dict[str, list[ChatCounts]] = {}
    for count in counts:
        grouped.setdefault(count.board_id, []).append(count)
    return grouped


def _log_failure(task: asyncio.Task[str]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("status page not rebuilt: %s", task.exception())


def _times(hours: Sequence[tuple[datetime, int]] | None) -> tuple[datetime, ...]:
    """Per-hour counts as first-seen times (each hour's start, repeated): what the sparkline
    counts per hour, without a row per post."""
    if not hours:
        return ()
    return tuple(chain.from_iterable(repeat(start, count) for start, count in hours))


def _spark_start(now: datetime) -> datetime:
    # The first hour of the chart starts up to an hour before now - 47 h: one hour of margin.
    return now - timedelta(hours=SPARK_HOURS + 1)
