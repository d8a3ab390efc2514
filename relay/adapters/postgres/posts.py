"""The posts table of the PostgreSQL state: the shared statements (`relay.adapters.sql.posts`;
id lists of any length are one array parameter, no chunks), with the hourly arrivals counted
by date_trunc on timestamptz.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relay.adapters.sql.posts import SqlPosts


class PostgresPosts(SqlPosts):
    """The `Posts` part of the PostgreSQL state."""

    _ARRIVALS = (
        "SELECT board_id, date_trunc('hour', first_seen, 'UTC') AS hour, count(*) AS n "
        "FROM posts WHERE first_seen >= ? GROUP BY 1, 2 ORDER BY 1, 2"
    )

    def _hour(self, value: Any) -> datetime:
        return value  # type: ignore[no-any-return]  # timestamptz: aware already
