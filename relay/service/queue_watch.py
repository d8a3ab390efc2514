"""Is the delivery queue moving? The fact `/healthz` needs besides "every board polls".

Polling can be healthy while nothing reaches the channel (a bot removed from the chat keeps
failing, a network path to Telegram is down). A delivery is *stuck* when it has been pending,
by the monotonic clock, longer than the pace needs to send its chat's queue plus
`stuck_after`, while its chat is not in a wait Telegram asked for (a 429's retry_after, or the
pace itself). Ages are counted from when this process first saw the delivery pending: after a
restart the queue gets a fresh allowance rather than an alarm for time the process was down.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from relay.core.state import Delivery


class QueueWatch:
    """Remembers since when each pending delivery has been seen pending."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._seen: dict[int, float] = {}

    def stuck(
        self,
        pending: Sequence[Delivery],
        *,
        limit: float,
        waiting: Callable[[str], bool],
        pace_needs: Callable[[list[Delivery]], float],
    ) -> tuple[str, ...]:
        """One reason per stuck chat (oldest pending first), for `/healthz`."""
        now = self._monotonic()
        seen = {d.seq: self._seen.get(d.seq, now) for d in pending}
        self._seen = seen  # sent or failed deliveries are forgotten
        by_chat: dict[str, list[Delivery]] = {}
        for delivery in pending:
            by_chat.setdefault(delivery.chat, []).append(delivery)
        reasons = []
        for chat, queue in by_chat.items():
            age = now - min(seen[d.seq] for d in queue)
            allowed = limit + pace_needs(queue)
            if age > allowed and not waiting(chat):
                reasons.append(
                    f"deliveries to {chat} stuck: {len(queue)} pending, the oldest for "
                    f"{age:.0f}s (allowed {allowed:.0f}s)"
                )
        return tuple(reasons)
