"""The posts table: what decides "new" (known ids), and what feeds and messages are made of.

`sort_key` orders a board's posts by age: ids on these engines grow with time, so numeric ids
sort by value (47209 after 9999) and any other id after them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from relay.adapters.rows import by_board, known_from_rows
from relay.adapters.sqlite.boards import BoardTable
from relay.adapters.sqlite.db import Database, from_row, iso, select_ids
from relay.core.models import Article, Post, StoredPost, id_sort_int
from relay.core.state import ARTICLE_TRIES, Known, NewPost

_BY_ID = "SELECT * FROM posts WHERE board_id = ? AND id IN ({ids})"


def insert_new(
    db: sqlite3.Connection, board_id: str, new: Sequence[NewPost], stamp: str | None
) -> None:
    """Record new posts; `article_tries` counts the one fetch this poll made, if any."""
    db.executemany(
        """INSERT INTO posts (board_id, id, sort_key, url, title, number, author,
            published, first_seen, updated, notice, excerpt, text, image,
            article_fetched, article_tries, category, comments, views, votes, body_html)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
        ON CONFLICT (board_id, id) DO NOTHING""",
        [_row(board_id, item, stamp) for item in new],
    )


def _row(board_id: str, item: NewPost, stamp: str | None) -> tuple[object, ...]:
    post, article = item.post, item.article
    return (
        board_id,
        post.id,
        id_sort_int(post.id),
        post.url,
        post.title,
        post.number,
        post.author,
        iso(post.published),
        stamp,
        stamp,
        int(post.notice),
        article.excerpt if article else "",
        article.text if article else "",
        article.image if article else None,
        int(article is not None),
        int(item.fetch_article),
        post.category,
        post.comments,
        post.views,
        post.votes,
        article.body_html if article else "",
    )


def retitle(
    db: sqlite3.Connection, board_id: str, posts: Sequence[Post], stamp: str | None
) -> None:
    db.executemany(
        "UPDATE posts SET title = ?, updated = ? WHERE board_id = ? AND id = ?",
        [(post.title, stamp, board_id, post.id) for post in posts],
    )


def recount(db: sqlite3.Connection, board_id: str, posts: Sequence[Post]) -> None:
    """The counts a later poll of the same page showed: one batch, none when none changed.
    A count the page no longer prints keeps the recorded one."""
    if not posts:
        return
    db.executemany(
        "UPDATE posts SET comments = ?, views = coalesce(?, views), votes = coalesce(?, votes) "
        "WHERE board_id = ? AND id = ?",
        [(post.comments, post.views, post.votes, board_id, post.id) for post in posts],
    )


def read_posts(
    db: sqlite3.Connection, board_id: str, post_ids: Sequence[str]
) -> dict[str, StoredPost]:
    rows = select_ids(db, _BY_ID, (board_id,), post_ids)
    return {r["id"]: _stored_post(r) for r in rows}


class SqlitePosts:
    """The `Posts` part of the SQLite state."""

    _db: Database
    _boards: BoardTable

    def known(self, board_id: str, post_ids: Iterable[str]) -> dict[str, Known]:
        ids = list(post_ids)
        rows = self._db.query_ids(
            "SELECT id, title, notice, comments, views, votes FROM posts "
            "WHERE board_id = ? AND id IN ({ids})",
            (board_id,),
            ids,
        )
        held = self._db.query_ids(
            "SELECT post_id, route FROM held WHERE board_id = ? AND post_id IN ({ids})",
            (board_id,),
            ids,
        )
        return known_from_rows(rows, held)

    def newest_number(self, board_id: str) -> int | None:
        rows = self._db.query(
            "SELECT number FROM posts WHERE board_id = ? AND number IS NOT NULL "
            "ORDER BY sort_key DESC LIMIT 1",
            (board_id,),
        )
        return rows[0]["number"] if rows else None

    def posts(self, board_id: str, post_ids: Iterable[str]) -> dict[str, StoredPost]:
        rows = self._db.query_ids(_BY_ID, (board_id,), list(post_ids))
        return {r["id"]: _stored_post(r) for r in rows}

    def feed_posts(self, board_id: str, limit: int) -> list[StoredPost]:
        rows = self._db.query(
            "SELECT * FROM posts WHERE board_id = ? ORDER BY sort_key DESC, id DESC LIMIT ?",
            (board_id, limit),
        )
        return [_stored_post(r) for r in rows]

    def missing_articles(self, board_id: str, feed_entries: int, limit: int) -> list[StoredPost]:
        rows = self._db.query(
            "SELECT * FROM (SELECT * FROM posts WHERE board_id = ? "
            "ORDER BY sort_key DESC, id DESC LIMIT ?) "
            "WHERE article_fetched = 0 AND article_tries < ? "
            "ORDER BY sort_key DESC, id DESC LIMIT ?",
            (board_id, feed_entries, ARTICLE_TRIES, limit),
        )
        return [_stored_post(r) for r in rows]

    def set_article(self, board_id: str, post_id: str, article: Article) -> None:
        with self._boards.write(board_id) as db:
            db.execute(
                "UPDATE posts SET excerpt = ?, text = ?, image = ?, body_html = ?, "
                "article_fetched = 1 WHERE board_id = ? AND id = ?",
                (article.excerpt, article.text, article.image, article.body_html)
                + (board_id, post_id),
            )
            db.execute(
                "UPDATE boards SET feed_dirty = 1, feed_changes = feed_changes + 1 WHERE id = ?",
                (board_id,),
            )

    def first_seen_since(
        self, since: datetime, board_id: str | None = None
    ) -> dict[str, list[datetime]]:
        # Stored as UTC ISO strings of one form, so text order is time order (and the index
        # on first_seen serves the range).
        # Two statements, not one with "? IS NULL OR": each must pick its own index (one board:
        # (board_id, first_seen); every board: first_seen).
        start = iso(since.astimezone(UTC))
        args: tuple[str | None, ...]
        if board_id is None:
            sql, args = "WHERE first_seen >= ?", (start,)
        else:
            sql, args = "WHERE board_id = ? AND first_seen >= ?", (board_id, start)
        rows = self._db.query(
            f"SELECT board_id, first_seen FROM posts {sql} ORDER BY first_seen", args
        )
        return by_board((r["board_id"], datetime.fromisoformat(r["first_seen"])) for r in rows)

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

    def article_failed(self, board_id: str, post_id: str) -> None:
        self._db.write(
            "UPDATE posts SET article_tries = article_tries + 1 WHERE board_id = ? AND id = ?",
            (board_id, post_id),
        )


def _stored_post(row: sqlite3.Row) -> StoredPost:
    return from_row(
        StoredPost,
        row,
        times=("published", "first_seen", "updated"),  # first_seen, updated: NOT NULL columns
        flags=("notice", "article_fetched"),
    )
