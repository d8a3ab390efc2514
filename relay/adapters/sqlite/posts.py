"""The posts table: what decides "new" (known ids), and what feeds and messages are made of.

`sort_key` orders a board's posts by age: ids on these engines grow with time, so numeric ids
sort by value (47209 after 9999) and any other id after them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime

from relay.adapters.sqlite.boards import BoardTable
from relay.adapters.sqlite.db import Database, iso, parse_time, select_ids
from relay.core.models import Article, Post, StoredPost
from relay.core.state import ARTICLE_TRIES, Known, NewPost

_BY_ID = "SELECT * FROM posts WHERE board_id = ? AND id IN ({ids})"


def sort_key_int(post_id: str) -> int:
    """Posts table order: numeric ids by value, others last (SQLite integers are 64-bit)."""
    return int(post_id) if post_id.isdigit() and len(post_id) < 18 else 1 << 62


def insert_new(
    db: sqlite3.Connection, board_id: str, new: Sequence[NewPost], stamp: str | None
) -> None:
    """Record new posts; `article_tries` counts the one fetch this poll made, if any."""
    db.executemany(
        """INSERT INTO posts (board_id, id, sort_key, url, title, number, author,
            published, first_seen, updated, notice, excerpt, text, image,
            article_fetched, article_tries, category, comments, views, votes)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
        ON CONFLICT (board_id, id) DO NOTHING""",
        [_row(board_id, item, stamp) for item in new],
    )


def _row(board_id: str, item: NewPost, stamp: str | None) -> tuple[object, ...]:
    post, article = item.post, item.article
    return (
        board_id,
        post.id,
        sort_key_int(post.id),
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
        rows = self._db.query_ids(
            "SELECT id, title, notice, comments, views, votes FROM posts "
            "WHERE board_id = ? AND id IN ({ids})",
            (board_id,),
            list(post_ids),
        )
        return {
            r["id"]: Known(
                title=r["title"],
                notice=bool(r["notice"]),
                comments=r["comments"],
                views=r["views"],
                votes=r["votes"],
            )
            for r in rows
        }

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
                "UPDATE posts SET excerpt = ?, text = ?, image = ?, article_fetched = 1 "
                "WHERE board_id = ? AND id = ?",
                (article.excerpt, article.text, article.image, board_id, post_id),
            )
            db.execute("UPDATE boards SET feed_dirty = 1 WHERE id = ?", (board_id,))

    def article_failed(self, board_id: str, post_id: str) -> None:
        self._db.write(
            "UPDATE posts SET article_tries = article_tries + 1 WHERE board_id = ? AND id = ?",
            (board_id, post_id),
        )


def _stored_post(row: sqlite3.Row) -> StoredPost:
    return StoredPost(
        board_id=row["board_id"],
        id=row["id"],
        url=row["url"],
        title=row["title"],
        number=row["number"],
        author=row["author"],
        published=parse_time(row["published"]),
        first_seen=datetime.fromisoformat(row["first_seen"]),  # NOT NULL columns
        updated=datetime.fromisoformat(row["updated"]),
        notice=bool(row["notice"]),
        excerpt=row["excerpt"],
        text=row["text"],
        image=row["image"],
        article_fetched=bool(row["article_fetched"]),
        category=row["category"],
        comments=row["comments"],
        views=row["views"],
        votes=row["votes"],
    )
