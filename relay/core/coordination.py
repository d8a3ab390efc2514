"""What several instances sharing one state need from it: board leases, delivery claims, a
per-chat pace, and who is alive. Protocols and records only (pure, no storage library).

A state that one process owns alone (SQLite, under its file lock) has nothing to coordinate:
`relay.core.solo.Solo` answers these calls for it (every board is this instance's, every
lease is held, the pace lives in memory). A shared state (PostgreSQL) implements them with
rows, so that

- a board is polled only by the instance holding its lease, and a poll's result is applied
  only while that lease is still held: the lease's `token` grows every time the board changes
  hands, and `apply_poll(..., fence=lease)` refuses (`LeaseLost`) once it is not current —
  a paused-then-resumed instance cannot record a stale poll;
- a delivery is sent by one instance at a time: it is claimed, with an expiry of its own, in
  the transaction that reads it; a crash mid-send leaves the claim to expire, and the next
  claimant sends it again (at most one duplicate per crash);
- expiry is judged by the state's clock (the database's `now()`), never by an instance's,
  so a clock step on one machine cannot steal or keep a lease.

Times are aware UTC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from relay.core.errors import StateError


@dataclass(frozen=True, slots=True)
class InstanceId:
    """Who this process is, for leases, claims and the status page. `name` is unique per
    process start (host, pid and a random suffix): a restarted instance is a new owner."""

    name: str
    host: str
    pid: int


@dataclass(frozen=True, slots=True)
class Lease:
    """A board held by an instance until `expires` (by the state's clock)."""

    board_id: str
    owner: str  # InstanceId.name
    token: int  # the fencing token: grows each time the board changes hands
    expires: datetime
    taken: datetime  # when this owner took it (the status page's lease age)


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """A live (or lately seen) instance, for `relay status` and the status page."""

    name: str
    host: str
    pid: int
    started: datetime
    seen: datetime  # its last heartbeat
    leases: tuple[Lease, ...]  # the leases it holds (unexpired), by board id
    alive: bool  # seen within one lease time
    as_of: datetime  # the state's clock when this was read: ages count from it, not from ours

    @property
    def boards(self) -> tuple[str, ...]:
        """The boards whose lease it holds."""
        return tuple(lease.board_id for lease in self.leases)


# The held boards a lease round may give back, preferred first (not being polled, their last
# poll recorded); None: any of them.
Spare = Sequence[str] | None


class LeaseLost(StateError):
    """The board's lease is no longer this instance's: the poll's result is dropped, nothing
    is recorded (another instance polls the board now)."""

    reason = "lease"


class Coordination(Protocol):
    """Leases and liveness. Every call is one short transaction (run in a worker thread).

    `shared` is False for a state one process owns (`Solo`): its leases never lapse, so the
    service neither reschedules boards on taking them nor shows instances anywhere."""

    @property
    def shared(self) -> bool: ...

    def heartbeat(self, me: InstanceId, lease_seconds: float) -> None:
        """Record that `me` is alive (and when it started, the first time)."""
        ...

    def take_leases(
        self, me: InstanceId, boards: Sequence[str], lease: float, spare: Spare = None
    ) -> dict[str, Lease]:
        """Renew the leases `me` holds among `boards`, take free or expired ones up to a
        fair share of the live instances, give back a few above that share, and return every
        lease `me` holds now. `spare`: the held boards the caller can give away right now,
        preferred first (not being polled, their last poll recorded); None: any."""
        ...

    def release_leases(self, me: InstanceId) -> None:
        """A clean stop: hand every lease back at once, so others need not wait for expiry."""
        ...

    def instances(self, lease_seconds: float) -> list[InstanceInfo]:
        """Instances seen lately, with the boards each holds (alive: seen within a lease)."""
        ...


def fair_share(boards: int, live: int) -> int:
    """How many boards one of `live` instances holds: ceil(boards / live). An instance counts
    itself, so `live` is at least 1."""
    return math.ceil(boards / max(1, live))


def to_release(held: Sequence[str], share: int, spare: Sequence[str] | None) -> list[str]:
    """Which held boards to give back this round: above the fair share, half the excess at a
    time (at least one), so that boards change hands a few at a time when an instance joins
    rather than all in one round; only among `spare` (in its order) when given."""
    excess = len(held) - share
    if excess <= 0:
        return []
    step = max(1, excess // 2)
    candidates = list(spare) if spare is not None else sorted(held)
    mine = set(held)
    return [b for b in candidates if b in mine][:step]
