"""The Coordination of a state that one process owns alone (SQLite, under its file lock).

There is nobody to share boards with: every board asked for is this instance's, its lease
never lapses and never changes hands (token 0), and no other instance exists to be shown.
It lets the service run one code path — poll only what is held, fence every apply — for a
SQLite state and a shared one alike, without a branch per state kind at each call site.
Pure: the only time it knows is the `now` it is given (when a board was first held).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from relay.core.coordination import InstanceId, InstanceInfo, Lease, Spare

NEVER = datetime.max.replace(tzinfo=UTC)  # a Solo lease's expiry: it does not lapse


class Solo:
    """Every board held, never lost."""

    shared = False

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._taken: dict[str, datetime] = {}  # board id -> when it was first held

    def heartbeat(self, me: InstanceId, lease_seconds: float) -> None:
        """Nothing to record: the file lock already says this process is alive."""

    def take_leases(
        self, me: InstanceId, boards: Sequence[str], lease: float, spare: Spare = None
    ) -> dict[str, Lease]:
        now = self._now()
        for board_id in boards:
            self._taken.setdefault(board_id, now)
        # A board removed from the config is forgotten: added back later, it is held anew.
        self._taken = {b: self._taken[b] for b in boards}
        return {b: Lease(b, me.name, 0, NEVER, taken) for b, taken in self._taken.items()}

    def release_leases(self, me: InstanceId) -> None:
        self._taken.clear()

    def instances(self, lease_seconds: float) -> list[InstanceInfo]:
        """None to show: the status of a single relay is its boards' (output unchanged)."""
        return []
