"""The posts table of the SQLite state: the shared statements (`relay.adapters.sql.posts`),
and the hourly arrivals, which SQLite counts on its ISO text.
"""

from __future__ import annotations

from datetime import UTC, datetime

from relay.adapters.rows import by_board
from relay.adapters.sql.posts import SqlPosts
from relay.adapters.sqlite.db import Database, iso


class SqlitePosts(SqlPosts):
    """The `Posts` part of the SQLite state."""

    _db: Database

    def arrivals_per_hour(self, since: datetime) -> dict[str, list[tuple[datetime, int]]]:
        hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        # substr(.., 1, 13) is "2025-02-05T06" of a UTC ISO string: the hour it falls in.
        rows = self._db.query(
            # INDEXED BY: without statistics SQLite would scan every post through the
            # (board_id, first_seen) index for its GROUP BY order; only the last hours count.
            "SELECT board_id, substr(first_seen, 1, 13) AS hour, count(*) AS n "
            "FROM posts INDEXED BY posts_by_first_seen "
            "WHERE first_seen >= ? GROUP BY board_id, hour ORDER BY board_id, hour",
            (iso(hour),),
        )
        return by_board(
            (r["board_id"], (datetime.fromisoformat(r["hour"] + ":00:00+00:00"), r["n"]))
            for r in rows
        )
