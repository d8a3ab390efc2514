"""The boards table of the SQLite state: the shared table (`relay.adapters.sql.boards`) as it
is. This process is the table's only writer (StateLock), so the copy in memory needs no
refresh from outside, and a write needs no lock of its own beyond the connection's, nor a
fence: no other instance can have taken a board over.
"""

from __future__ import annotations

from relay.adapters.sql.boards import BoardTable, SqlBoards


class SqliteBoards(SqlBoards):
    """The `BoardStates` part of the SQLite state (apply_poll is in `relay.adapters.sql.poll`)."""


__all__ = ["BoardTable", "SqliteBoards"]
