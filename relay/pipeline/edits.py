"""Edits of sent messages: a post retitled (or moved to another category) on the board is
brought up to date in every chat it went to.

The poll that sees the new title queues the edits (in its transaction: `edit_pending` on each
sent delivery of the post); the delivery worker calls `apply_edits` at the start of a drain.
Each edit is tried once per drain: done, or refused for good (the message is too old, was
deleted, or already reads so) and recorded with Telegram's words, or — for a flood wait or a
network failure — tried again by a later drain, a few times at most (the state counts; a
flood wait counts no try). Edits run after the drain's new messages: news goes first.

A dry run (`shown` given) prints each queued edit once per process through the dry-run
printer and records nothing: switched off later, the relay makes the same edits for real.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from relay.core.compose import compose_edit, find_route
from relay.core.config import Config
from relay.core.errors import DeliveryError, PermanentDeliveryError
from relay.core.models import OutgoingMessage
from relay.core.state import Edit, State

log = logging.getLogger("relay.pipeline.edits")


class Editor(Protocol):
    async def edit(self, msg: OutgoingMessage, message_id: int, *, caption: bool) -> None: ...


StateCall = Callable[..., Awaitable[Any]]


async def apply_edits(
    config: Config,
    store: State,
    editor: Editor,
    state: StateCall,
    deadline: float | None,
    queued: Callable[[], list[Edit]] | None = None,
    *,
    shown: set[int] | None = None,
) -> int:
    """Try every queued edit once; returns how many were done (in a dry run: printed).
    `state(what, call, *args)` runs a state call (the deliverer's, which turns failures into
    StateError); `queued` reads the edits that are this instance's (relay.core.claims: on a
    shared state, those it claimed, so that each edit is made by one instance), by default
    every queued edit. `shown`: a dry run, and the edits (by seq) this process printed
    already."""
    loop = asyncio.get_running_loop()
    done = 0
    board_ids = {board.id for board in config.boards}
    for edit in await state("read the queued edits", queued or store.pending_edits):
        if deadline is not None and loop.time() >= deadline:
            break
        where = f"board={edit.board_id} chat={edit.chat} post={edit.post_id}"
        if edit.board_id not in board_ids or (shown is not None and edit.seq in shown):
            continue
        board = config.board(edit.board_id)
        route = find_route(board.routes, edit.route)
        posts = await state(f"read post {where}", store.posts, board.id, [edit.post_id])
        post = posts.get(edit.post_id)
        if route is None or post is None:
            if shown is None:
                await state(f"record the edit of {where}", store.mark_edited, edit.seq, "gone")
            continue
        try:
            message = compose_edit(
                post, chat=edit.chat, board=board.message, route=route, caption=edit.caption
            )
            if shown is not None:
                await editor.edit(message, edit.message_id, caption=edit.caption)
                shown.add(edit.seq)
                done += 1
                continue
            async with asyncio.timeout_at(deadline):
                await editor.edit(message, edit.message_id, caption=edit.caption)
        except (ValueError, PermanentDeliveryError) as e:
            log.warning("%s edit of message=%s refused: %s", where, edit.message_id, e)
            if shown is None:
                await state(f"record the edit of {where}", store.mark_edited, edit.seq, str(e))
            continue
        except DeliveryError as e:
            if e.retry_after:  # a flood wait is Telegram's pace, not the edit's failure
                continue
            log.warning("%s edit of message=%s not done (%s): later", where, edit.message_id, e)
            await state(
                f"record the edit of {where}", store.mark_edited, edit.seq, str(e), retry=True
            )
            continue
        except TimeoutError:  # the drain's deadline (the courier's own timeouts are classified)
            break
        await state(f"record the edit of {where}", store.mark_edited, edit.seq)
        log.info("%s edited message=%s", where, edit.message_id)
        done += 1
    return done
