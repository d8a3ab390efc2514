"""Delivery claims and the shared per-chat pace in PostgreSQL: `PostgresClaims` implements
`relay.core.claims.DeliveryClaims` and `ChatPace` for one instance.

Rows: `deliveries.claimed_by` / `claim_until` (whose claim a pending delivery or a queued
edit is, and until when by the database's clock) and `chat_pace(chat, next_at)`, one row
per chat plus one for the bot (`BOT_ROW`).

Claiming is per chat. The chat's `chat_pace` row is its lock: a claimer takes the rows of
the candidate chats `FOR UPDATE SKIP LOCKED` (two claimers never wait on each other and
never both take one chat), then, under that lock, claims the chat's pending deliveries
(`FOR UPDATE SKIP LOCKED` too) unless a live claim of another instance holds one of them.
Both statements check that again (READ COMMITTED: each sees the claims committed before it
began). A pass renews a claim only past half its time and claims only rows not yet its own,
so that a pass per message reads its queue without rewriting it.

Expiry and pace use `now()` / `clock_timestamp()` of the database only, and pace times come
back as seconds from now, so the instances' clocks never meet.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from datetime import timedelta

from relay.adapters.postgres.db import Connection, Database
from relay.adapters.rows import record_from_row
from relay.core.claims import Boards, Slot
from relay.core.coordination import InstanceId
from relay.core.state import Delivery, Edit

BOT_ROW = "*bot"  # chat_pace's row of the bot-wide spacing: no chat is spelled so
CLAIM_LIMIT = 1000  # pending deliveries read per pass, as the single-owner queue reads
EDIT_LIMIT = 100


def _live_other(chat: str) -> str:
    """A pending delivery of `chat` (a column) under a live claim of another instance."""
    return (
        f"SELECT 1 FROM deliveries o WHERE o.chat = {chat} AND o.status = 'pending' "
        "AND o.claimed_by IS NOT NULL AND o.claimed_by <> %(me)s AND o.claim_until > now()"
    )


_LIVE_OTHER = _live_other("d.chat")
# Only the boards this instance has (NULL: all): it cannot build another board's messages.
_OF_MY_BOARDS = "AND (%(boards)s::text[] IS NULL OR d.board_id = ANY(%(boards)s))"
_CANDIDATES = (  # the chats no other instance holds, oldest first, and which are mine
    "SELECT d.chat, bool_or(d.claimed_by IS NOT DISTINCT FROM %(me)s) AS mine "
    f"FROM deliveries d WHERE d.status = 'pending' AND NOT EXISTS ({_LIVE_OTHER}) "
    f"{_OF_MY_BOARDS} GROUP BY d.chat ORDER BY min(d.seq)"
)
_LOCK = (  # chats still free in this statement's snapshot, in the order given
    "SELECT p.chat FROM chat_pace p WHERE p.chat = ANY(%(chats)s) "
    f"AND NOT EXISTS ({_live_other('p.chat')}) ORDER BY array_position(%(chats)s, p.chat) "
    "LIMIT %(limit)s FOR UPDATE OF p SKIP LOCKED"
)
_SHARE = (  # chats with pending deliveries, and the other instances alive (pg2a's heartbeats)
    "SELECT (SELECT count(DISTINCT chat) FROM deliveries WHERE status = 'pending') AS chats, "
    "(SELECT count(*) FROM instances WHERE name <> %(me)s AND seen > now() - %(ttl)s) AS others"
)
_CLAIM = (
    "UPDATE deliveries SET claimed_by = %(me)s, claim_until = now() + %(ttl)s "
    "WHERE seq IN (SELECT d.seq FROM deliveries d WHERE d.status = 'pending' "
    "AND d.chat = ANY(%(chats)s) AND NOT EXISTS (" + _LIVE_OTHER + ") "
    "AND (d.claimed_by IS DISTINCT FROM %(me)s OR d.claim_until <= now()) "
    f"{_OF_MY_BOARDS} ORDER BY d.seq LIMIT %(limit)s FOR UPDATE OF d SKIP LOCKED)"
)
_MINE = (
    "SELECT seq, board_id, post_id, route, chat, attempts, not_before FROM deliveries d "
    "WHERE claimed_by = %(me)s AND status = 'pending' AND claim_until > now() "
    f"{_OF_MY_BOARDS} ORDER BY seq LIMIT %(limit)s"
)
_CLAIM_EDITS = (
    "UPDATE deliveries SET claimed_by = %(me)s, claim_until = now() + %(ttl)s "
    "WHERE seq IN (SELECT d.seq FROM deliveries d WHERE d.edit_pending "
    "AND (d.claimed_by IS NULL OR d.claimed_by = %(me)s OR d.claim_until <= now()) "
    f"{_OF_MY_BOARDS} ORDER BY d.seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
)
_MY_EDITS = (
    "SELECT seq, board_id, post_id, route, chat, message_id, "
    "sent_as = 'photo' AS caption, edit_tries AS tries "
    "FROM deliveries WHERE edit_pending AND claimed_by = %(me)s ORDER BY seq LIMIT %(limit)s"
)
_WAITS = (
    "SELECT chat, extract(epoch FROM next_at - clock_timestamp())::float8 AS wait "
    "FROM chat_pace WHERE chat = ANY(%s)"
)


class PostgresClaims:
    """This instance's claims and its view of the shared pace, on the state's pool `db`
    (which classifies errors into StateError naming the state); `claim_seconds` is how
    long a claim lives unrenewed; `bot_spacing` the seconds between two messages of the bot
    (0: off); `monotonic` times the pace remembered between two reads."""

    def __init__(
        self,
        db: Database,
        me: InstanceId,
        *,
        claim_seconds: float,
        bot_spacing: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._me = me.name
        self._ttl = _seconds(claim_seconds)
        self._bot_spacing = bot_spacing
        self._monotonic = monotonic
        self._free_at: dict[str, float] = {}  # chat -> monotonic time it is free

    # --- DeliveryClaims ---------------------------------------------------------------

    def claim(self, boards: Boards = None) -> list[Delivery]:
        args = {"me": self._me, "ttl": self._ttl, "limit": CLAIM_LIMIT, "boards": _ids(boards)}
        with self._transaction() as db:
            # Only live claims are renewed, and only past half their time (a pass per send
            # must not rewrite every claimed row): one that lapsed (a long pause) is claimed
            # again under the chat's lock like any free chat, as another may take it now.
            db.execute(
                "UPDATE deliveries d SET claim_until = now() + %(ttl)s "
                "WHERE claimed_by = %(me)s AND status = 'pending' AND claim_until > now() "
                f"AND claim_until < now() + %(ttl)s / 2 {_OF_MY_BOARDS}",
                args,
            )
            mine = self._lock_share(db, args)
            if mine:
                db.execute(_CLAIM, args | {"chats": mine})
            rows = db.execute(_MINE, args).fetchall()
            held = sorted({r["chat"] for r in rows})
            waits = db.execute(_WAITS, (held,)).fetchall() if held else []
        self._remember({r["chat"]: r["wait"] for r in waits})
        return [record_from_row(Delivery, r) for r in rows]

    @staticmethod
    def _lock_share(db: Connection, args: dict[str, object]) -> list[str]:
        """Lock the chats to claim (their chat_pace rows, SKIP LOCKED: another claimer's are
        passed over): those this instance holds, and free ones, oldest first, up to its share
        of all chats with pending deliveries among the instances alive (a lone instance takes
        them all), and one free chat at least. A chat held is kept until it has nothing
        pending; only free ones are left to the others."""
        candidates = db.execute(_CANDIDATES, args).fetchall()
        if not candidates:
            return []
        share = db.execute(_SHARE, args).fetchone()
        assert share is not None
        target = math.ceil(share["chats"] / (share["others"] + 1))
        held = [r["chat"] for r in candidates if r["mine"]]
        free = [r["chat"] for r in candidates if not r["mine"]]
        db.execute(
            "INSERT INTO chat_pace (chat, next_at) SELECT c, now() FROM unnest(%s::text[]) AS c "
            "ON CONFLICT (chat) DO NOTHING",
            (held + free,),
        )
        # At least one free chat per pass, whatever the share says: an instance alive but
        # not claiming (or this one, counted twice under another name) must not leave a chat
        # to wait for nobody.
        locked = []
        for chats, limit in ((held, None), (free, max(1, target - len(held)))):
            if chats and limit != 0:
                rows = db.execute(_LOCK, args | {"chats": chats, "limit": limit})
                locked += [r["chat"] for r in rows]
        return locked

    def claim_edits(self, boards: Boards = None) -> list[Edit]:
        args = {"me": self._me, "ttl": self._ttl, "limit": EDIT_LIMIT, "boards": _ids(boards)}
        with self._transaction() as db:
            db.execute(_CLAIM_EDITS, args)
            rows = db.execute(_MY_EDITS, args).fetchall()
        return [record_from_row(Edit, r) for r in rows]

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
            if wait <= 0:
                wait = self._taken_over(db, chat)
            if wait > 0:
                self._remember({chat: wait})
                return Slot(booked=False, wait=wait)
            db.execute(
                "UPDATE chat_pace SET next_at = clock_timestamp() + %s WHERE chat = %s",
                (_seconds(hold), chat),
            )
            # The request about to go renews this instance's live claim on the chat, so that
            # a claim outlives the request it covers whatever the last pass renewed.
            db.execute(
                "UPDATE deliveries SET claim_until = now() + %(ttl)s WHERE claimed_by = %(me)s "
                "AND chat = %(chat)s AND status = 'pending' AND claim_until > now()",
                {"me": self._me, "ttl": self._ttl, "chat": chat},
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

    def _taken_over(self, db: Connection, chat: str) -> float:
        """Seconds another instance's live claim on `chat` still runs (0: none). An instance
        whose claims lapsed (starved or paused longer than a claim) may still hold the
        chat's deliveries in memory; once another claimed the chat, it must not send them
        (the other does): the booking, under the chat's row lock, is the fence."""
        row = db.execute(
            "SELECT extract(epoch FROM max(claim_until) - now())::float8 AS left "
            "FROM deliveries WHERE chat = %(chat)s AND status = 'pending' "
            "AND claimed_by IS NOT NULL AND claimed_by <> %(me)s AND claim_until > now()",
            {"chat": chat, "me": self._me},
        ).fetchone()
        return float(row["left"]) if row is not None and row["left"] is not None else 0.0

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
    def _locked_wait(db: Connection, chat: str) -> float:
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

    def _transaction(self) -> contextlib.AbstractContextManager[Connection]:
        return self._db.transaction()


def _seconds(value: float) -> timedelta:
    """Seconds as an interval parameter (psycopg sends a timedelta as one)."""
    return timedelta(seconds=max(0.0, value))


__all__ = ["BOT_ROW", "PostgresClaims"]


def _ids(boards: Boards) -> list[str] | None:
    return None if boards is None else sorted(boards)
