"""The durable state: SQLite (stdlib sqlite3, WAL), one file, numbered forward migrations.

Knows nothing of HTTP, HTML or Telegram. Every method is synchronous and short; async callers
run them in a worker thread (`asyncio.to_thread`), all through one connection guarded by a
lock. What one poll learns is recorded in ONE transaction — the posts, the deliveries they
cause, the board's validators and the "feed needs writing" mark — so a crash at any point
leaves either all of it or none of it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from relay.adapters.migrations import MIGRATIONS
from relay.core.diff import Known
from relay.core.errors import StateError
from relay.core.models import Article, Post, StoredPost

ARTICLE_TRIES = 3  # fetches of one article page before its excerpt is given up


@dataclass(frozen=True, slots=True)
class BoardState:
    board_id: str
    first_poll: datetime | None
    baseline: str | None
    last_poll: datetime | None
    last_success: datetime | None
    last_new: datetime | None
    failures: int
    last_reason: str
    last_error: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    feed_dirty: bool
    alarmed: bool
    posts: int = 0
    pending: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class NewPost:
    """A post to record, with what its article gave (None: the fetch failed, retry later)."""

    post: Post
    article: Article | None
    announce: bool


@dataclass(frozen=True, slots=True)
class Delivery:
    seq: int
    board_id: str
    post_id: str
    chat: str
    attempts: int
    not_before: datetime | None


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def sort_key_int(post_id: str) -> int:
    """Posts table order: numeric ids by value, others last (SQLite integers are 64-bit)."""
    return int(post_id) if post_id.isdigit() and len(post_id) < 18 else 1 << 62


class Store:
    """All reads and writes of the state file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # durable at COMMIT, before any send
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise StateError(f"{path}: cannot use the state file: {e}") from e
        self._lock = threading.Lock()
        # Poll state per board, read on every poll: cached, and dropped by every write that
        # touches the board (this process is the only writer of the boards table: StateLock).
        self._boards: dict[str, BoardState] = {}

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StateError(
                f"{self.path}: schema version {version} is newer than this relay knows "
                f"({len(MIGRATIONS)}): upgrade board-relay"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._db.execute(sql, args)
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()

    # --- boards ---------------------------------------------------------------------------

    def board_state(self, board_id: str) -> BoardState:
        """One board's poll state, without the counts (cheap: read on every poll)."""
        cached = self._boards.get(board_id)
        if cached is not None:
            return cached
        with self._lock:
            cursor = self._db.execute(
                "SELECT *, 0 AS n_posts, 0 AS n_pending, 0 AS n_failed FROM boards WHERE id = ?",
                (board_id,),
            )
            cursor.row_factory = sqlite3.Row
            row = cursor.fetchone()
            if row is None:
                return _empty_state(board_id)
            state = _board_state(row)
            self._boards[board_id] = state
        return state

    def cached_board_state(self, board_id: str) -> BoardState | None:
        """The cached poll state, if any: lets a caller skip a thread hop for a read."""
        return self._boards.get(board_id)

    def board_states(self, board_ids: Iterable[str]) -> list[BoardState]:
        """Poll state with post and delivery counts, for `relay status`."""
        ids = list(board_ids)
        rows = {
            row["id"]: row
            for row in self._query(
                f"""SELECT b.*,
                    (SELECT count(*) FROM posts p WHERE p.board_id = b.id) AS n_posts,
                    (SELECT count(*) FROM deliveries d WHERE d.board_id = b.id
                        AND d.status = 'pending') AS n_pending,
                    (SELECT count(*) FROM deliveries d WHERE d.board_id = b.id
                        AND d.status = 'failed') AS n_failed
                FROM boards b WHERE b.id IN ({",".join("?" * len(ids))})""",
                ids,
            )
        }
        return [_board_state(rows[i]) if i in rows else _empty_state(i) for i in ids]

    def known(self, board_id: str, post_ids: Iterable[str]) -> dict[str, Known]:
        ids = list(post_ids)
        if not ids:
            return {}
        rows = self._query(
            f"SELECT id, title, notice FROM posts WHERE board_id = ? AND id IN "
            f"({','.join('?' * len(ids))})",
            [board_id, *ids],
        )
        return {r["id"]: Known(title=r["title"], notice=bool(r["notice"])) for r in rows}

    def newest_number(self, board_id: str) -> int | None:
        rows = self._query(
            "SELECT number FROM posts WHERE board_id = ? AND number IS NOT NULL "
            "ORDER BY sort_key DESC LIMIT 1",
            (board_id,),
        )
        return rows[0]["number"] if rows else None

    def record_poll(
        self,
        board_id: str,
        *,
        now: datetime,
        new: Sequence[NewPost],
        retitled: Sequence[Post],
        baseline: str | None,
        chats: Sequence[str],
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
    ) -> None:
        """Record one successful poll, all or nothing."""
        stamp = _iso(now)
        with self._transaction() as db:
            self._boards.pop(board_id, None)  # under the lock: no stale re-read
            db.execute("INSERT OR IGNORE INTO boards (id) VALUES (?)", (board_id,))
            for item in new:
                post, article = item.post, item.article
                db.execute(
                    """INSERT INTO posts (board_id, id, sort_key, url, title, number, author,
                        published, first_seen, updated, notice, excerpt, text, image,
                        article_fetched, article_tries)
                        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)
                    ON CONFLICT (board_id, id) DO NOTHING""",
                    (
                        board_id,
                        post.id,
                        sort_key_int(post.id),
                        post.url,
                        post.title,
                        post.number,
                        post.author,
                        _iso(post.published),
                        stamp,
                        stamp,
                        int(post.notice),
                        article.excerpt if article else "",
                        article.text if article else "",
                        article.image if article else None,
                        int(article is not None),
                    ),
                )
                if item.announce:
                    for chat in chats:
                        db.execute(
                            "INSERT OR IGNORE INTO deliveries (board_id, post_id, chat, created) "
                            "VALUES (?,?,?,?)",
                            (board_id, post.id, chat, stamp),
                        )
            for post in retitled:
                db.execute(
                    "UPDATE posts SET title = ?, updated = ? WHERE board_id = ? AND id = ?",
                    (post.title, stamp, board_id, post.id),
                )
            changed = bool(new or retitled)
            db.execute(
                """UPDATE boards SET
                    first_poll = coalesce(first_poll, :now), baseline = :baseline,
                    last_poll = :now, last_success = :now,
                    last_new = CASE WHEN :has_new THEN :now ELSE last_new END,
                    failures = 0, last_reason = '', last_error = '',
                    etag = :etag, last_modified = :last_modified, body_hash = :hash,
                    feed_dirty = feed_dirty OR :changed
                WHERE id = :id""",
                {
                    "now": stamp,
                    "baseline": baseline,
                    "has_new": bool(new),
                    "etag": etag,
                    "last_modified": last_modified,
                    "hash": body_hash,
                    "changed": changed,
                    "id": board_id,
                },
            )

    def record_unchanged(self, board_id: str, now: datetime) -> None:
        """A 304 or an identical body: the poll succeeded and nothing else moves."""
        with self._transaction() as db:
            self._boards.pop(board_id, None)  # under the lock: no stale re-read
            db.execute(
                "UPDATE boards SET last_poll = ?, last_success = ?, failures = 0, "
                "last_reason = '', last_error = '' WHERE id = ?",
                (_iso(now), _iso(now), board_id),
            )

    def record_failure(self, board_id: str, now: datetime, reason: str, error: str) -> int:
        """Count a failed poll; nothing else of the board's state moves. Returns the count."""
        with self._transaction() as db:
            self._boards.pop(board_id, None)  # under the lock: no stale re-read
            db.execute("INSERT OR IGNORE INTO boards (id) VALUES (?)", (board_id,))
            db.execute(
                "UPDATE boards SET last_poll = ?, failures = failures + 1, last_reason = ?, "
                "last_error = ? WHERE id = ?",
                (_iso(now), reason, error, board_id),
            )
            row = db.execute("SELECT failures FROM boards WHERE id = ?", (board_id,)).fetchone()
        return int(row[0])

    def set_alarmed(self, board_id: str, alarmed: bool) -> None:
        with self._transaction() as db:
            self._boards.pop(board_id, None)  # under the lock: no stale re-read
            db.execute("UPDATE boards SET alarmed = ? WHERE id = ?", (int(alarmed), board_id))

    # --- posts and feeds ------------------------------------------------------------------

    def feed_posts(self, board_id: str, limit: int) -> list[StoredPost]:
        """The newest `limit` posts of a board, newest first (ids grow with time)."""
        rows = self._query(
            "SELECT * FROM posts WHERE board_id = ? ORDER BY sort_key DESC, id DESC LIMIT ?",
            (board_id, limit),
        )
        return [_stored_post(r) for r in rows]

    def posts(self, board_id: str, post_ids: Iterable[str]) -> dict[str, StoredPost]:
        ids = list(post_ids)
        if not ids:
            return {}
        rows = self._query(
            f"SELECT * FROM posts WHERE board_id = ? AND id IN ({','.join('?' * len(ids))})",
            [board_id, *ids],
        )
        return {r["id"]: _stored_post(r) for r in rows}

    def missing_articles(self, board_id: str, feed_entries: int) -> list[StoredPost]:
        """Posts still in the feed whose article could not be read yet (and may be retried)."""
        rows = self._query(
            "SELECT * FROM (SELECT * FROM posts WHERE board_id = ? "
            "ORDER BY sort_key DESC, id DESC LIMIT ?) "
            "WHERE article_fetched = 0 AND article_tries < ?",
            (board_id, feed_entries, ARTICLE_TRIES),
        )
        return [_stored_post(r) for r in rows]

    def article_failed(self, board_id: str, post_id: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE posts SET article_tries = article_tries + 1 WHERE board_id = ? AND id = ?",
                (board_id, post_id),
            )

    def set_article(self, board_id: str, post_id: str, article: Article) -> None:
        with self._transaction() as db:
            self._boards.pop(board_id, None)  # under the lock: no stale re-read
            db.execute(
                "UPDATE posts SET excerpt = ?, text = ?, image = ?, article_fetched = 1 "
                "WHERE board_id = ? AND id = ?",
                (article.excerpt, article.text, article.image, board_id, post_id),
            )
            db.execute("UPDATE boards SET feed_dirty = 1 WHERE id = ?", (board_id,))

    def mark_feed_written(self, board_id: str) -> None:
        with self._transaction() as db:
            self._boards.pop(board_id, None)  # under the lock: no stale re-read
            db.execute("UPDATE boards SET feed_dirty = 0 WHERE id = ?", (board_id,))

    # --- deliveries -----------------------------------------------------------------------

    def pending_deliveries(self, limit: int = 1000) -> list[Delivery]:
        rows = self._query(
            "SELECT seq, board_id, post_id, chat, attempts, not_before FROM deliveries "
            "WHERE status = 'pending' ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [
            Delivery(
                r["seq"],
                r["board_id"],
                r["post_id"],
                r["chat"],
                r["attempts"],
                _time(r["not_before"]),
            )
            for r in rows
        ]

    def mark_sent(self, seq: int, now: datetime, message_id: int | None) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET status = 'sent', sent_at = ?, message_id = ?, "
                "attempts = attempts + 1 WHERE seq = ?",
                (_iso(now), message_id, seq),
            )

    def mark_retry(self, seq: int, error: str, not_before: datetime, *, count: bool = True) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET attempts = attempts + ?, last_error = ?, not_before = ? "
                "WHERE seq = ?",
                (int(count), error, _iso(not_before), seq),
            )

    def mark_failed(self, seq: int, error: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, "
                "last_error = ? WHERE seq = ?",
                (error, seq),
            )

    def move_chat(self, old: str, new: str) -> int:
        """Follow a group that became a supergroup: its pending deliveries go to the new id."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE OR IGNORE deliveries SET chat = ?, not_before = NULL "
                "WHERE chat = ? AND status = 'pending'",
                (new, old),
            )
            return cursor.rowcount

    def requeue_failed(self, board_id: str | None = None) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE deliveries SET status = 'pending', not_before = NULL, attempts = 0 "
                "WHERE status = 'failed' AND (? IS NULL OR board_id = ?)",
                (board_id, board_id),
            )
            return cursor.rowcount

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        """(board_id, status) -> count, for metrics."""
        rows = self._query(
            "SELECT board_id, status, count(*) AS n FROM deliveries GROUP BY board_id, status"
        )
        return {(r["board_id"], r["status"]): r["n"] for r in rows}


def _stored_post(row: sqlite3.Row) -> StoredPost:
    return StoredPost(
        board_id=row["board_id"],
        id=row["id"],
        url=row["url"],
        title=row["title"],
        number=row["number"],
        author=row["author"],
        published=_time(row["published"]),
        first_seen=_time(row["first_seen"]) or datetime.now(UTC),
        updated=_time(row["updated"]) or datetime.now(UTC),
        notice=bool(row["notice"]),
        excerpt=row["excerpt"],
        text=row["text"],
        image=row["image"],
        article_fetched=bool(row["article_fetched"]),
    )


def _board_state(row: sqlite3.Row) -> BoardState:
    return BoardState(
        board_id=row["id"],
        first_poll=_time(row["first_poll"]),
        baseline=row["baseline"],
        last_poll=_time(row["last_poll"]),
        last_success=_time(row["last_success"]),
        last_new=_time(row["last_new"]),
        failures=row["failures"],
        last_reason=row["last_reason"],
        last_error=row["last_error"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        body_hash=row["body_hash"],
        feed_dirty=bool(row["feed_dirty"]),
        alarmed=bool(row["alarmed"]),
        posts=row["n_posts"],
        pending=row["n_pending"],
        failed=row["n_failed"],
    )


def _empty_state(board_id: str) -> BoardState:
    return BoardState(
        board_id, None, None, None, None, None, 0, "", "", None, None, None, True, False
    )
