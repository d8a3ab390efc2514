"""Telling the operator when a board breaks and when it recovers: one message per change.

A board "breaks" after `alarm_after` consecutive failures, or at once when its page parsed
to zero rows (the layout changed: waiting will not fix it). The alarm state is stored, and
set only after the alarm was sent, so a restart neither repeats an alarm nor loses one.
Without `[relay] admin_chat` the same facts go to the log only.

A board can also die quietly: it answers every poll, but no new post comes for much longer
than usual (`quiet_after`, relay.core.quiet). That is one alarm when the silence passes the
limit and one message when posts come again. That the operator was told is stored (the told
silence's start, `BoardState.quiet_alarmed`), set only after the message went, so a restart
neither repeats the alarm for a board still quiet nor forgets to say that posts came again.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from relay.core.config import Board, Config
from relay.core.errors import DeliveryError
from relay.core.models import OutgoingMessage, PollOutcome
from relay.core.quiet import WINDOW, QuietVerdict, quiet_state
from relay.core.state import State
from relay.pipeline.deliver import Sender

log = logging.getLogger("relay.service.alarms")


def alarm_text(board: Board, outcome: PollOutcome, failures: int) -> str:
    what = (
        "its list page has no rows: the layout changed or a block page is served; "
        "fix the selectors (relay preview helps)"
        if outcome.reason == "layout"
        else f"{failures} polls in a row failed"
    )
    return (
        f"⚠️ <b>board-relay: {html.escape(board.id)} is failing</b> "
        f"({html.escape(outcome.reason)})\n{html.escape(what)}\n"
        f"<code>{html.escape(outcome.error[:500])}</code>"
    )


def recovery_text(board: Board) -> str:
    return f"✅ <b>board-relay: {html.escape(board.id)} recovered</b>: polls succeed again."


def quiet_text(board: Board, verdict: QuietVerdict) -> str:
    silent = verdict.silent_for.total_seconds() / 3600 if verdict.silent_for else 0.0
    limit = verdict.limit.total_seconds() / 3600 if verdict.limit else 0.0
    how = "its usual gap, learned" if verdict.basis == "auto" else "quiet_after"
    return (
        f"🤫 <b>board-relay: {html.escape(board.id)} is quiet</b>: no new post for "
        f"{silent:.0f} h (limit {limit:.0f} h, {how}), although its page answers. "
        "The board may have moved, hidden its list behind a login, or stopped updating."
    )


def unquiet_text(board: Board) -> str:
    return f"✅ <b>board-relay: {html.escape(board.id)} has new posts again</b>."


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Alarms:
    """Tells the admin chat of breaks and recoveries. `config` is read at each use, so a
    reload is seen without patching this object."""

    def __init__(
        self,
        config: Callable[[], Config],
        store: State,
        sender: Sender,
        *,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._config = config
        self._store = store
        self._sender = sender
        self._now = now
        self._alarmed: dict[str, bool] = {}
        self._quiet: dict[str, datetime] = {}  # board -> quiet since (aware UTC)
        self._history: dict[str, tuple[datetime | None, list[datetime]]] = {}

    def quiet_since(self, board_id: str) -> datetime | None:
        """Since when the board is quiet (no new post for longer than allowed), or None."""
        return self._quiet.get(board_id)

    def quiet_boards(self) -> list[str]:
        return sorted(self._quiet)

    def forget(self, board_id: str) -> None:
        """A board removed by a reload: nothing of it stays."""
        for table in (self._alarmed, self._quiet, self._history):
            table.pop(board_id, None)

    async def after_poll(self, board: Board, outcome: PollOutcome, failures: int) -> None:
        if board.id not in self._alarmed:
            state = await asyncio.to_thread(self._store.board_state, board.id)
            self._alarmed[board.id] = state.alarmed
        alarmed = self._alarmed[board.id]
        breaking = not outcome.ok and (
            failures >= self._config().alarm_after or outcome.reason == "layout"
        )
        if breaking and not alarmed:
            log.error(
                "board=%s alarm: failing (%s) after %d failures: %s",
                board.id,
                outcome.reason,
                failures,
                outcome.error,
            )
            if await self._tell(alarm_text(board, outcome, failures)):
                await self._set(board.id, True)
        elif outcome.ok and alarmed:
            log.warning("board=%s recovered", board.id)
            if await self._tell(recovery_text(board)):
                await self._set(board.id, False)
        if outcome.ok:
            await self.check_quiet(board)

    async def check_quiet(self, board: Board) -> QuietVerdict:
        """Judge the silence of a board whose page answers; alarm once, tell once it ends.
        A told silence has ended when a post came after it began (a post before would have
        kept the board from being quiet): a new silence is a new alarm."""
        stored = self._store.board_state(board.id)
        last_new, told = stored.last_new, stored.quiet_alarmed
        history = await self._arrivals(board, last_new)
        verdict = quiet_state(last_new, self._now(), board.quiet_after, history=history)
        if verdict.quiet and verdict.since is not None:
            self._quiet[board.id] = verdict.since
            if told is None or (last_new is not None and last_new > told):
                log.error("board=%s alarm: quiet since %s", board.id, verdict.since.isoformat())
                if await self._tell(quiet_text(board, verdict)):
                    await self._set_quiet(board.id, verdict.since)
            return verdict
        self._quiet.pop(board.id, None)
        if told is not None:  # told it was quiet: tell it is not (until sent)
            if verdict.basis == "off":  # switched off by a reload: nothing came back
                await self._set_quiet(board.id, None)
                return verdict
            log.warning("board=%s has new posts again", board.id)
            if await self._tell(unquiet_text(board)):
                await self._set_quiet(board.id, None)
        return verdict

    async def _arrivals(self, board: Board, last_new: datetime | None) -> Sequence[datetime]:
        """The board's first-seen times over the learning window, read again only when a new
        post came (most polls bring none: no query for them)."""
        if board.quiet_after != "auto" or last_new is None:
            return ()
        cached = self._history.get(board.id)
        if cached is not None and cached[0] == last_new:
            return cached[1]
        found = await asyncio.to_thread(self._store.first_seen_since, last_new - WINDOW, board.id)
        times = found.get(board.id, [])
        self._history[board.id] = (last_new, times)
        return times

    async def _tell(self, text: str) -> bool:
        """Send to the admin chat; True when the operator has been told (or there is no chat)."""
        chat = self._config().admin_chat
        if not chat:
            return True
        try:
            await self._sender.send(OutgoingMessage(chat=chat, text=text))
        except DeliveryError as e:
            log.error("admin_chat=%s alarm not sent (tried again next poll): %s", chat, e)
            return False
        return True

    async def _set_quiet(self, board_id: str, since: datetime | None) -> None:
        await asyncio.to_thread(self._store.set_quiet_alarmed, board_id, since)

    async def _set(self, board_id: str, alarmed: bool) -> None:
        self._alarmed[board_id] = alarmed
        await asyncio.to_thread(self._store.set_alarmed, board_id, alarmed)
