"""Delivery claims and the shared per-chat pace in PostgreSQL: `PostgresClaims` implements
`relay.core.claims.DeliveryClaims` and `ChatPace` for one instance.

Rows: `deliveries.claimed_by` / `claim_until` (whose claim a pending delivery or a queued
edit is, and until when by the database's clock) and `chat_pace(chat, next_at)`, one row
per chat plus one for the bot (`BOT_ROW`).

Claiming is per chat. The chat's `chat_pace` row is its lock: a claimer takes the rows of
the candidate chats `FOR UPDATE SKIP LOCKED` (two claimers never wait on each other and
never both take one chat), then, under that lock, claims the chat's pending deliveries
(`FOR UPDATE SKIP LOCKED` too) unless a live claim of another instance holds one of them.
The check is repeated after the lock, in a new statement (READ COMMITTED: it sees a claim
committed while this one waited for nothing).

Expiry and pace use `now()` / `clock_timestamp()` of the database only, and pace times come
back as seconds from now, so the instances' clocks never meet.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from relay.core.claims import Slot
from relay.core.coordination import InstanceId
from relay.core.errors import StateError
from relay.core.state import Delivery, Edit, edit_of

BOT_ROW = "*bot"  # chat_pace's row of the bot-wide spacing: no chat is spelled so
CLAIM_LIMIT = 1000  # pending deliveries read per pass, as the single-owner queue reads
EDIT_LIMIT = 100

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]

_LIVE_OTHER = (
    "SELECT 1 FROM deliveries o WHERE o.chat = d.chat AND o.status = 'pending' "
    "AND o.claimed_by IS NOT NULL AND o.claimed_by <> %(me)s AND o.claim_until > now()"
)
_CANDIDATES = (
    f"SELECT DISTINCT d.chat FROM deliveries d WHERE d.status = 'pending' "
    f"AND NOT EXISTS ({_LIVE_OTHER})"
)
_CLAIM = (
    "UPDATE deliveries SET claimed_by = %(me)s, claim_until = now() + %(ttl)s "
    "WHERE seq IN (SELECT d.seq FROM deliveries d WHERE d.status = 'pending' "
    f"AND d.chat = ANY(%(chats)s) AND NOT EXISTS ({_LIVE_OTHER}) "
    "ORDER BY d.seq LIMIT %(limit)s FOR UPDATE OF d SKIP LOCKED)"
)
_MINE = (
    "SELECT seq, board_id, post_id, route, chat, attempts, not_before FROM deliveries "
    "WHERE claimed_by = %(me)s AND status = 'pending' ORDER BY seq LIMIT %(limit)s"
)
_CLAIM_EDITS = (
    "UPDATE deliveries SET claimed_by = %(me)s, claim_until = now() + %(ttl)s "
    "WHERE seq IN (SELECT seq FROM deliveries WHERE edit_pending "
    "AND (claimed_by IS NULL OR claimed_by = %(me)s OR claim_until <= now()) "
    "ORDER BY seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
)
_MY_EDITS = (
    "SELECT seq, board_id, post_id, route, chat, message_id, sent_as, edit_tries "
    "FROM deliveries WHERE edit_pending AND claimed_by = %(me)s ORDER BY seq LIMIT %(limit)s"
)
_WAITS = (
    "SELECT chat, extract(epoch FROM next_at - clock_timestamp())::float8 AS wait "
    "FROM chat_pace WHERE chat = ANY(%s)"
)


class PostgresClaims:
    """This instance's claims and its view of the shared pace. `connect()` gives a pooled
    connection (psycopg_pool's `pool.connection`); `claim_seconds` is how long a claim lives
    unrenewed; `bot_spacing` the seconds between two messages of the bot (0: off);
    `monotonic` times the pace remembered between two reads. Errors become StateError
    naming `where` (the state's location, without its password)."""

    def __init__(
        self,
        connect: Connect,
        me: InstanceId,
        *,
        claim_seconds: float,
        bot_spacing: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        where: str = "postgresql",
    ) -> None:
        self._connect = connect
        self._where = where  # the state's location, for error messages (no password)
        self._me = me.name
        self._ttl = _seconds(claim_seconds)
        self._bot_spacing = bot_spacing
        self._monotonic = monotonic
        self._free_at: dict[str, float] = {}  # chat -> monotonic time it is free

    # --- DeliveryClaims ---------------------------------------------------------------

    def claim(self) -> list[Delivery]:
        args = {"me": self._me, "ttl": self._ttl, "limit": CLAIM_LIMIT}
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET claim_until = now() + %(ttl)s "
                "WHERE claimed_by = %(me)s AND status = 'pending'",
                args,
            )
            chats = [r["chat"] for r in db.execute(_CANDIDATES, args)]
            if chats:
                db.execute(
                    "INSERT INTO chat_pace (chat, next_at) SELECT c, now() FROM unnest(%s::text[]) "
                    "AS c ON CONFLICT (chat) DO NOTHING",
                    (chats,),
                )
                locked = db.execute(
                    "SELECT chat FROM chat_pace WHERE chat = ANY(%s) ORDER BY chat "
                    "FOR UPDATE SKIP LOCKED",
                    (chats,),
                )
                mine = [r["chat"] for r in locked]
                if mine:
                    db.execute(_CLAIM, args | {"chats": mine})
            rows = db.execute(_MINE, args).fetchall()
            held = sorted({r["chat"] for r in rows})
            waits = db.execute(_WAITS, (held,)).fetchall() if held else []
        self._remember({r["chat"]: r["wait"] for r in waits})
        return [Delivery(**r) for r in rows]

    def claim_edits(self) -> list[Edit]:
        args = {"me": self._me, "ttl": self._ttl, "limit": EDIT_LIMIT}
        with self._transaction() as db:
            db.execute(_CLAIM_EDITS, args)
            rows = db.execute(_MY_EDITS, args).fetchall()
        return [edit_of(r) for r in rows]

    def release(self) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET claimed_by = NULL, claim_until = NULL WHERE claimed_by = %s",
                (self._me,),
            )

    # --- ChatPace ---------------------------------------------------------------------

    def book(self, chat: str, hold: float) -> Slot:
        with self._transaction() as db:
            wait = self._locked_wait(db, chat)
            if wait > 0:
                self._remember({chat: wait})
                return Slot(booked=False, wait=wait)
            db.execute(
                "UPDATE chat_pace SET next_at = clock_timestamp() + %s WHERE chat = %s",
                (_seconds(hold), chat),
            )
            bot_wait = 0.0
            if self._bot_spacing > 0:
                self._locked_wait(db, BOT_ROW)
                row = db.execute(
                    "UPDATE chat_pace SET next_at = greatest(next_at, clock_timestamp()) + %s "
                    "WHERE chat = %s "
                    "RETURNING extract(epoch FROM next_at - clock_timestamp())::float8 AS wait",
                    (_seconds(self._bot_spacing), BOT_ROW),
                ).fetchone()
                assert row is not None  # the row exists: _locked_wait inserted it
                bot_wait = max(0.0, row["wait"] - self._bot_spacing)
        self._remember({chat: hold})
        return Slot(booked=True, wait=bot_wait)

    def answered(self, chat: str, spacing: float) -> None:
        self._set(chat, spacing)

    def hold(self, chat: str, seconds: float) -> None:
        self._set(chat, seconds)

    def waiting(self, chat: str) -> float:
        return max(0.0, self._free_at.get(chat, 0.0) - self._monotonic())

    # --- helpers ----------------------------------------------------------------------

    def _set(self, chat: str, seconds: float) -> None:
        """The chat's next message goes `seconds` from now. It overwrites the booking's
        in-flight hold: only the instance that booked the chat has sent to it since."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO chat_pace (chat, next_at) VALUES (%(chat)s, clock_timestamp() + "
                "%(wait)s) ON CONFLICT (chat) DO UPDATE SET next_at = excluded.next_at",
                {"chat": chat, "wait": _seconds(seconds)},
            )
        self._remember({chat: seconds})

    @staticmethod
    def _locked_wait(db: psycopg.Cursor[dict[str, Any]], chat: str) -> float:
        """Seconds before `chat`'s row is free, its row locked (made when missing)."""
        db.execute(
            "INSERT INTO chat_pace (chat, next_at) VALUES (%s, now()) ON CONFLICT DO NOTHING",
            (chat,),
        )
        row = db.execute(
            "SELECT extract(epoch FROM next_at - clock_timestamp())::float8 AS wait "
            "FROM chat_pace WHERE chat = %s FOR UPDATE",
            (chat,),
        ).fetchone()
        assert row is not None
        return float(row["wait"])

    def _remember(self, waits: dict[str, float]) -> None:
        now = self._monotonic()
        for chat, wait in waits.items():
            self._free_at[chat] = now + max(0.0, float(wait))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        """One transaction on a pooled connection, through a dict-row cursor."""
        try:
            with self._connect() as conn, conn.transaction():
                with conn.cursor(row_factory=dict_row) as cursor:
                    yield cursor
        except psycopg.Error as e:
            raise StateError(
                f"state {self._where}: claims of instance {self._me}: {type(e).__name__}: {e}"
            ) from e


def _seconds(value: float) -> timedelta:
    """Seconds as an interval parameter (psycopg sends a timedelta as one)."""
    return timedelta(seconds=max(0.0, value))


__all__ = ["BOT_ROW", "PostgresClaims"]
