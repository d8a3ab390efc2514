"""Digests instead of floods: more than a route's `digest_over` pending for one chat become one
message (or as few as Telegram's limits allow), titles with links, newest last.

Each digest message marks the deliveries it carries sent in ONE transaction after Telegram
answered, so a crash repeats at most the one message in flight, like any other send. A mixin
of `relay.pipeline.deliver.Deliverer`; answers are recorded by `relay.pipeline.outcomes`, as
for single messages. It holds the send primitives both share (a send cut off at the
deadline, a photo with its text fallback).
"""

from __future__ import annotations

import asyncio
import functools
import logging

from relay.core.compose import Composed, compose_digest, digest_header
from relay.core.config import Config
from relay.core.errors import PermanentDeliveryError
from relay.core.models import OutgoingMessage
from relay.core.routes import Route
from relay.core.state import Delivery, State
from relay.pipeline.outcomes import Outcomes
from relay.pipeline.senders import CutOff, DrainReport, Sender

log = logging.getLogger("relay.pipeline.deliver")


class DigestSending:
    """The digest half of the Deliverer (see the module docstring)."""

    config: Config
    _board_ids: frozenset[str]
    _dry_run: bool
    _printed: set[int]
    _sender: Sender
    _store: State
    _outcomes: Outcomes

    def _digest_group(
        self, first: Delivery, route: Route, pending: list[Delivery]
    ) -> list[Delivery]:
        """The pending deliveries of `first`'s route key (across boards: a global route),
        oldest first, when they are more than the route's `digest_over`; else []."""
        if route.digest_over <= 0:
            return []
        group = [
            d
            for d in pending
            if d.route_key == first.route_key
            and d.chat == first.chat
            and d.board_id in self._board_ids
        ]
        return group if len(group) > route.digest_over else []

    async def _send_digest(
        self, group: list[Delivery], route: Route, report: DrainReport, deadline: float | None
    ) -> bool:
        """One digest for `group`: each of its messages marks the posts it carries sent in one
        transaction, so a crash repeats at most the message in flight."""
        first = group[0]
        where = f"chat={first.chat} digest of {len(group)}"
        posts = []
        for board_id in dict.fromkeys(d.board_id for d in group):
            mine = [d for d in group if d.board_id == board_id]
            found = await self._outcomes.state(
                f"read posts {where}", self._store.posts, board_id, [d.post_id for d in mine]
            )
            for delivery in mine:
                if delivery.post_id in found:
                    posts.append((delivery, found[delivery.post_id]))
                else:
                    await self._outcomes.fail(
                        delivery, "the post is missing from the state", report
                    )
        posts.sort(key=lambda pair: pair[0].seq)
        if not posts:
            return False
        titles = {self.config.board(d.board_id).title for d, _ in posts}
        header = digest_header(titles, len(posts))
        parts = compose_digest([p for _, p in posts], chat=first.chat, header=header, route=route)
        start = 0
        for message, count in parts:
            carried = [d for d, _ in posts[start : start + count]]
            if self._dry_run:
                await self._sender.send(message)
                self._printed.update(d.seq for d in carried)
                start += count
                continue
            answer = await self._outcomes.send_and_record(
                functools.partial(self._send_as, message, deadline, where, "digest"),
                carried,
                report,
                where,
                failure="digest: ",
            )
            if answer != "sent":
                return answer == "moved"
            start += count
        return False

    async def _send_as(
        self, message: OutgoingMessage, deadline: float | None, where: str, sent_as: str
    ) -> tuple[int, str]:
        return await self._send(message, deadline, where), sent_as

    async def _send(self, message: OutgoingMessage, deadline: float | None, where: str) -> int:
        """One send, cut off at the drain's deadline (then `CutOff`: it stays pending)."""
        cutoff = asyncio.timeout_at(deadline)
        try:
            async with cutoff:
                return await self._sender.send(message)
        except TimeoutError:
            if not cutoff.expired():
                raise
            log.warning(
                "%s send cut off by the drain's deadline (it may have been delivered): "
                "it stays pending",
                where,
            )
            raise CutOff from None

    async def _send_composed(
        self, composed: Composed, deadline: float | None, where: str
    ) -> tuple[int, str]:
        """Send one post's message: the photo when there is one and Telegram takes it, else
        the text (a refused photo is no failure of the delivery); (message id, sent as)."""
        if composed.photo is not None:
            try:
                return await self._send(composed.photo, deadline, where), "photo"
            except PermanentDeliveryError as e:
                if e.migrate_to_chat_id is not None:
                    raise
                log.info("%s photo refused (%s): the text message instead", where, e)
        return await self._send(composed.text, deadline, where), "text"
