"""The posts table of the SQLite state: the shared statements (`relay.adapters.sql.posts`),
with the hourly arrivals counted on the ISO text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relay.adapters.sql.posts import SqlPosts


class SqlitePosts(SqlPosts):
    """The `Posts` part of the SQLite state."""

    # substr(.., 1, 13) is "2025-02-05T06" of a UTC ISO string: the hour it falls in.
    # INDEXED BY: without statistics SQLite would scan every post through the
    # (board_id, first_seen) index for its GROUP BY order; only the last hours count.
    _ARRIVALS = (
        "SELECT board_id, substr(first_seen, 1, 13) AS hour, count(*) AS n "
        "FROM posts INDEXED BY posts_by_first_seen "
        "WHERE first_seen >= ? GROUP BY board_id, hour ORDER BY board_id, hour"
    )

    def _hour(self, value: Any) -> datetime:
        return datetime.fromisoformat(f"{value}:00:00+00:00")
