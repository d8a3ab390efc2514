"""The parts a running relay is made of, as one record the composition root hands down.

Built only by `relay.entry.wiring`; the service and the commands receive it and build
nothing themselves, so one place decides which state, fetcher, sender and clocks are used.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from relay.adapters.fetch import Fetcher
from relay.core.claims import DeliveryClaims
from relay.core.clock import Clock
from relay.core.config import Config
from relay.core.coordination import Coordination, InstanceId
from relay.core.source import FeedSources
from relay.core.state import State
from relay.pipeline.deliver import Sender
from relay.pipeline.feed import WrittenFeeds


@dataclass(frozen=True, slots=True)
class Parts:
    """Everything `relay once` and `relay run` work with. `dry_run`: messages are printed."""

    config: Config
    state: State
    fetcher: Fetcher
    sender: Sender
    clock: Clock
    rng: random.Random
    dry_run: bool
    check_state: Callable[[], None] = lambda: None  # raises StateError if the state was swapped
    sources: FeedSources = field(default_factory=FeedSources)  # the boards' feeds, as found
    # Other instances write the state too (PostgreSQL): the listener serves every board's feed
    # rendered from the state, not the feed files, which this instance writes only for the
    # boards it polls.
    shared_state: bool = False
    # With a shared state: which change of each board's feed this process wrote to its file.
    written_feeds: WrittenFeeds = field(default_factory=WrittenFeeds)

    @property
    def feeds_written(self) -> WrittenFeeds | None:
        """What `write_feed` compares with: only a shared state needs it."""
        return self.written_feeds if self.shared_state else None

    # Who shares the state: None is a state this process owns (relay.core.solo.Solo).
    coordination: Coordination | None = None
    instance: InstanceId = InstanceId("solo", "localhost", 0)  # this process, for leases
    # Which deliveries are this instance's: on a shared state, the chats it claimed; None,
    # the whole queue of a state this process owns (relay.core.claims).
    claims: DeliveryClaims | None = None
