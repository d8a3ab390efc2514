"""Board leases and instance heartbeats in PostgreSQL: the Coordination of a shared state.

Tables (created by the state's migrations): `instances(name, host, pid, started, seen)` and
`leases(board_id, owner, token, expires, taken)`; a NULL `owner` is a free board.

- Expiry is judged by the database's `now()` only, never by an instance's clock: a machine
  whose clock steps can neither steal a lease early nor keep one late.
- One `take_leases` is one transaction: renew what `me` holds, count the live instances
  (seen within a lease), give back part of the excess over the fair share
  (`coordination.to_release`), then take free or expired boards up to that share with
  `FOR UPDATE SKIP LOCKED`, so that instances taking at the same moment never wait for
  each other nor take one board twice.
- `token` grows by one every time a board is taken by a new owner; `apply_poll(fence=...)`
  compares it (and the owner) in its own transaction.

Knows nothing of boards, HTTP or the schedule. Errors become StateErrors naming the state
(the pool's classification, `Database.transaction`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from psycopg import Cursor

from relay.adapters.postgres.db import Database, Row
from relay.core.coordination import InstanceId, InstanceInfo, Lease, Spare, fair_share, to_release

FORGET_AFTER = 86400.0  # seconds: an instance unseen this long leaves the table

_LEASE_COLUMNS = "board_id, owner, token, expires, taken"


class PostgresLeases:
    """Leases and heartbeats on the state's pool: each call is one transaction."""

    shared = True

    def __init__(self, db: Database) -> None:
        self._db = db
        self._orphans: set[str] = set()  # held boards taken because no other instance would

    def heartbeat(self, me: InstanceId, lease_seconds: float) -> None:
        with self._db.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO instances (name, host, pid, started, seen) "
                "VALUES (%s, %s, %s, now(), now()) "
                "ON CONFLICT (name) DO UPDATE SET seen = now()",
                (me.name, me.host, me.pid),
            )
            cur.execute(
                "DELETE FROM instances WHERE seen < now() - make_interval(secs => %s)",
                (max(FORGET_AFTER, lease_seconds * 10),),
            )

    def take_leases(
        self, me: InstanceId, boards: Sequence[str], lease: float, spare: Spare = None
    ) -> dict[str, Lease]:
        ids = sorted(set(boards))
        with self._db.transaction() as conn, conn.cursor() as cur:
            _bounded(cur, lease)
            cur.execute(
                "INSERT INTO leases (board_id, owner, token, expires, taken) "
                "SELECT b, NULL, 0, now(), NULL FROM unnest(%s::text[]) AS b "
                "ON CONFLICT (board_id) DO NOTHING",
                (ids,),
            )
            # Renew: only rows still ours. One that lapsed but was taken by nobody is
            # renewed too: its token did not move, so no other owner polled in between.
            cur.execute(
                "UPDATE leases SET expires = now() + make_interval(secs => %s) "
                "WHERE owner = %s AND board_id = ANY(%s) RETURNING board_id",
                (lease, me.name, ids),
            )
            held = sorted(row["board_id"] for row in cur.fetchall())
            row = cur.execute(
                "SELECT count(*) AS others FROM instances "
                "WHERE name <> %s AND seen > now() - make_interval(secs => %s)",
                (me.name, lease),
            ).fetchone()
            share = fair_share(len(ids), 1 + (int(row["others"]) if row else 0))
            # Boards taken because nobody else would (see below) count outside the share and
            # are never given back: only this instance is known to poll them.
            self._orphans &= set(held)
            counted = [b for b in held if b not in self._orphans]
            offered = None if spare is None else [b for b in spare if b not in self._orphans]
            give = to_release(counted, share, offered)
            if give:
                cur.execute(
                    "UPDATE leases SET owner = NULL, expires = now() "
                    "WHERE owner = %s AND board_id = ANY(%s)",
                    (me.name, give),
                )
            want = share - len(counted)
            if want > 0:
                # Free or lapsed, not ours, not being taken by another right now (SKIP
                # LOCKED). Random order: instances starting together spread over the boards.
                cur.execute(
                    "SELECT board_id FROM leases WHERE board_id = ANY(%s) "
                    "AND owner IS DISTINCT FROM %s "
                    "AND (owner IS NULL OR expires IS NULL OR expires <= now()) "
                    "ORDER BY random() LIMIT %s FOR UPDATE SKIP LOCKED",
                    (ids, me.name, want),
                )
                _take(cur, me, lease, [r["board_id"] for r in cur.fetchall()])
            # A board left free for a whole lease is one no other live instance takes: all
            # are at their share, or none has it in its config (instances with different
            # board lists, a reload on one of them). It is taken whatever the share says, or
            # it would never be polled.
            cur.execute(
                "SELECT board_id FROM leases WHERE board_id = ANY(%s) "
                "AND owner IS DISTINCT FROM %s AND (owner IS NULL OR expires <= now()) "
                "AND expires <= now() - make_interval(secs => %s) FOR UPDATE SKIP LOCKED",
                (ids, me.name, lease),
            )
            orphans = [r["board_id"] for r in cur.fetchall()]
            _take(cur, me, lease, orphans)
            self._orphans.update(orphans)
            cur.execute(
                f"SELECT {_LEASE_COLUMNS} FROM leases WHERE owner = %s AND board_id = ANY(%s)",
                (me.name, ids),
            )
            return {r["board_id"]: _lease(r) for r in cur.fetchall()}

    def release_leases(self, me: InstanceId) -> None:
        """Hand every board back and leave the live set, so the others take them at once."""
        with self._db.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE leases SET owner = NULL, expires = now() WHERE owner = %s", (me.name,)
            )
            cur.execute("DELETE FROM instances WHERE name = %s", (me.name,))

    def instances(self, lease_seconds: float) -> list[InstanceInfo]:
        with self._db.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT name, host, pid, started, seen, "
                "seen > now() - make_interval(secs => %s) AS alive, now() AS as_of FROM instances "
                "ORDER BY started, name",
                (lease_seconds,),
            )
            rows = cur.fetchall()
            cur.execute(
                f"SELECT {_LEASE_COLUMNS} FROM leases WHERE owner IS NOT NULL AND expires > now() "
                "ORDER BY board_id"
            )
            leases = [_lease(r) for r in cur.fetchall()]
        return [
            InstanceInfo(
                name=r["name"],
                host=r["host"],
                pid=int(r["pid"]),
                started=_aware(r["started"]),
                seen=_aware(r["seen"]),
                leases=tuple(lease for lease in leases if lease.owner == r["name"]),
                alive=bool(r["alive"]),
                as_of=_aware(r["as_of"]),
            )
            for r in rows
        ]


def _take(cur: Cursor[Row], me: InstanceId, lease: float, boards: list[str]) -> None:
    """`me` becomes the owner of `boards` (locked by the caller): a new token each."""
    if boards:
        cur.execute(
            "UPDATE leases SET owner = %s, token = token + 1, taken = now(), "
            "expires = now() + make_interval(secs => %s) WHERE board_id = ANY(%s)",
            (me.name, lease, boards),
        )


def _bounded(cur: Cursor[Row], lease_seconds: float) -> None:
    """A round that stalls mid-transaction (a paused process, a frozen VM) is ended by the
    server after half a lease: else the rows it locked could not be taken by the others,
    SKIP LOCKED passing over them, for as long as the stall lasts."""
    limit = max(1000, int(lease_seconds * 500))  # milliseconds
    cur.execute(f"SET LOCAL idle_in_transaction_session_timeout = {limit}")


def _lease(row: Row) -> Lease:
    return Lease(
        str(row["board_id"]),
        str(row["owner"]),
        int(row["token"]),
        _aware(row["expires"]),
        _aware(row["taken"]),
    )


def _aware(value: datetime) -> datetime:
    """timestamptz comes back aware (in the session's zone); normalized to UTC."""
    return value.astimezone(UTC)
