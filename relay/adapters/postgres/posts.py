"""The posts table of the PostgreSQL state: the shared statements (`relay.adapters.sql.posts`;
id lists of any length are one array parameter, no chunks), and the hourly arrivals, which
PostgreSQL counts with date_trunc on timestamptz.
"""

from __future__ import annotations

from datetime import UTC, datetime

from relay.adapters.postgres.db import Database
from relay.adapters.rows import by_board
from relay.adapters.sql.posts import SqlPosts


class PostgresPosts(SqlPosts):
    """The `Posts` part of the PostgreSQL state."""

    _db: Database

    def arrivals_per_hour(self, since: datetime) -> dict[str, list[tuple[datetime, int]]]:
        hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        rows = self._db.query(
            "SELECT board_id, date_trunc('hour', first_seen, 'UTC') AS hour, count(*) AS n "
            "FROM posts WHERE first_seen >= %s GROUP BY 1, 2 ORDER BY 1, 2",
            (hour,),
        )
        return by_board((r["board_id"], (r["hour"], r["n"])) for r in rows)
