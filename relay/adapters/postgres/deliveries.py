"""The deliveries table of the PostgreSQL state: the shared queue
(`relay.adapters.sql.deliveries`), whose marks also release the delivery's claim.

With several instances, a seq is taken at INSERT, not at COMMIT: two boards' polls committing
in the other order than they inserted may interleave their seqs, which orders nothing that
matters (a board's own deliveries are written by the one instance holding its lease, in
order). The claim columns are the delivery claims' (`claims`): a mark (sent, retry, failed)
releases the delivery's claim in the transaction that records it.
"""

from __future__ import annotations

from relay.adapters.sql.deliveries import SqlDeliveries


class PostgresDeliveries(SqlDeliveries):
    """The `DeliveryQueue` part of the PostgreSQL state."""

    _RELEASE = ", claimed_by = NULL, claim_until = NULL"
