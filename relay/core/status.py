"""Board health as facts: what `relay status` prints and `/healthz` answers. Pure.

A board is healthy when its last successful poll is at most three intervals old (a board
not yet polled is given three intervals from start-up) and it is not failing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from relay.core.compose import route_index
from relay.core.config import Config
from relay.core.pace import human_wait, pace_of, send_duration
from relay.core.report import table, when

if TYPE_CHECKING:
    from relay.core.state import BoardState, ChatCounts, Delivery

STALE_INTERVALS = 3
# An unchanged poll writes its time only once the stored one is this many intervals old
# (relay.core.decide): half the health limit, so the file still shows every healthy board
# as healthy while a quiet relay skips most of its writes and fsyncs.
STAMP_INTERVALS = STALE_INTERVALS / 2


@dataclass(frozen=True, slots=True)
class BoardHealth:
    board_id: str
    ok: bool
    reason: (
        str  # why not ok: "never polled", "no success for 7m (3 intervals: 6m)", "failing: layout"
    )


def board_health(
    config: Config,
    last_success: Mapping[str, datetime | None],
    now: datetime,
    *,
    started: datetime | None = None,
    failing: Mapping[str, str] | None = None,
) -> list[BoardHealth]:
    """Per board: healthy, or why not. `failing` maps a board to its last failure reason."""
    result = []
    for board in config.boards:
        limit = timedelta(seconds=board.interval * STALE_INTERVALS)
        since = last_success.get(board.id) or started
        reason = (failing or {}).get(board.id)
        if since is None:
            result.append(
                BoardHealth(
                    board.id,
                    False,
                    "never polled successfully" + (f"; failing: {reason}" if reason else ""),
                )
            )
        elif now - since > limit:
            age = int((now - since).total_seconds())
            why = f"no successful poll for {age}s (limit {int(limit.total_seconds())}s)"
            if reason:
                why += f"; failing: {reason}"
            result.append(BoardHealth(board.id, False, why))
        else:
            result.append(BoardHealth(board.id, True, ""))
    return result


def board_report(config: Config, states: list[BoardState], now: datetime) -> tuple[str, bool]:
    """The per-board table of `relay status`, and whether every board is healthy."""
    health = board_health(
        config,
        {s.board_id: s.last_success for s in states},
        now,
        failing={s.board_id: s.last_reason for s in states if s.failures},
    )
    rows = []
    for board, state, fit in zip(config.boards, states, health, strict=True):
        tz = board.timezone
        rows.append(
            [
                board.id,
                "ok" if fit.ok else "FAIL",
                when(state.last_poll, tz),
                when(state.last_success, tz),
                when(state.last_new, tz),
                str(state.failures) + (f" ({state.last_reason})" if state.failures else ""),
                str(state.posts),
                str(state.pending) + (f" +{state.failed} failed" if state.failed else ""),
            ]
        )
    text = table(
        [
            "board",
            "health",
            "last poll",
            "last success",
            "last new post",
            "failures",
            "posts",
            "pending",
        ],
        rows,
    )
    problems = [f"{h.board_id}: {h.reason}" for h in health if not h.ok]
    if problems:
        text += "\n\n" + "\n".join(problems)
    return text, all(h.ok for h in health)


def queue_report(pending: Sequence[Delivery], config: Config, now: datetime) -> str:
    """Per chat: how many messages wait and how long Telegram's pace needs to send them
    (from now, or from the end of a wait Telegram asked for). Empty when nothing waits."""
    per_chat: dict[str, list[Delivery]] = {}
    for delivery in pending:
        per_chat.setdefault(delivery.chat, []).append(delivery)
    if not per_chat:
        return ""
    pace = pace_of(config)
    rows = []
    for chat, queue in sorted(per_chat.items()):
        first = queue[0].not_before
        wait = max(0.0, (first - now).total_seconds()) if first is not None else 0.0
        needs = wait + send_duration(len(queue), chat, pace)
        rows.append([chat, str(len(queue)), human_wait(needs) if needs else "now"])
    return table(["chat", "pending", "the pace needs"], rows)


def route_report(config: Config, counts: Sequence[ChatCounts]) -> str:
    """Per route of every board that has several: the deliveries pending and failed (a chat
    table cannot tell two routes of one board to one chat apart, two forum topics, say).
    Rows stored under a key from before routes count for the route it carried over to; a
    route no longer in the config is shown as such. Empty when no board has several."""
    rows = []
    for board in config.boards:
        if len(board.routes) < 2:
            continue
        index = route_index(board.routes)
        totals = {route.key: [0, 0] for route in board.routes}
        for count in counts:
            if count.board_id != board.id:
                continue
            stored = count.route or count.chat
            route = index.get(stored)
            key = route.key if route is not None else f"{stored} (not in the config)"
            total = totals.setdefault(key, [0, 0])
            total[0] += count.pending
            total[1] += count.failed
        rows += [[board.id, key, str(p), str(f)] for key, (p, f) in totals.items()]
    return table(["board", "route", "pending", "failed"], rows) if rows else ""
