"""Fencing a poll's write with the board's lease (issue 13).

A poll's result is applied only while the lease it was polled under is still this
instance's and current: the lease row is locked (FOR UPDATE) in the transaction that writes
the result, so a lease cannot change hands between the check and the COMMIT, and expiry is
judged by the database's clock (`now()`), never by this machine's. The lease-taking code is
in `leases`; this is the one check every fenced write makes.
"""

from __future__ import annotations

from relay.adapters.postgres.db import Connection
from relay.core.coordination import Lease, LeaseLost


def check_fence(tx: Connection, board_id: str, fence: Lease, location: str) -> None:
    """Raise LeaseLost (the caller's transaction then rolls back) unless `fence` holds."""
    row = tx.execute(
        "SELECT 1 FROM leases WHERE board_id = %s AND owner = %s AND token = %s "
        "AND expires > now() FOR UPDATE",
        (board_id, fence.owner, fence.token),
    ).fetchone()
    if row is None:
        raise LeaseLost(
            f"{location}: board {board_id}: the lease of {fence.owner} (token {fence.token}) "
            "is no longer held: the poll's result is dropped"
        )
