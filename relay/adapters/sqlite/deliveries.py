"""The deliveries table of the SQLite state: the shared queue (`relay.adapters.sql.deliveries`)
as it is. One process takes the whole queue, so a mark has no claim to release.
"""

from __future__ import annotations

from relay.adapters.sql.deliveries import SqlDeliveries


class SqliteDeliveries(SqlDeliveries):
    """The `DeliveryQueue` part of the SQLite state."""
