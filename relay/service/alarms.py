"""Telling the operator when a board breaks and when it recovers: one message per change.

A board "breaks" after `alarm_after` consecutive failures, or at once when its page parsed
to zero rows (the layout changed: waiting will not fix it). The alarm state is stored, and
set only after the alarm was sent, so a restart neither repeats an alarm nor loses one.
Without `[relay] admin_chat` the same facts go to the log only.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable

from relay.core.config import Board, Config
from relay.core.errors import DeliveryError
from relay.core.models import OutgoingMessage, PollOutcome
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


class Alarms:
    """Tells the admin chat of breaks and recoveries. `config` is read at each use, so a
    reload is seen without patching this object."""

    def __init__(self, config: Callable[[], Config], store: State, sender: Sender) -> None:
        self._config = config
        self._store = store
        self._sender = sender
        self._alarmed: dict[str, bool] = {}

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

    async def _set(self, board_id: str, alarmed: bool) -> None:
        self._alarmed[board_id] = alarmed
        await asyncio.to_thread(self._store.set_alarmed, board_id, alarmed)
