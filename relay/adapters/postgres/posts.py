"""The posts table: what decides "new" (known ids), and what feeds and messages are made of.

`sort_key` orders a board's posts by age (`relay.core.models.id_sort_int`): numeric ids by
value (47209 after 9999), any other id after them, ties by the id's bytes. Id lists of any
length are one array parameter (`= ANY(%s)`): no chunks, no limit on a 100,000-row page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from relay.adapters.postgres.boards import BoardTable
from relay.adapters.postgres.db import Connection, Database, Row
from relay.adapters.rows import by_board, known_from_rows, record_from_row
from relay.core.models import Article, Post, StoredPost, id_sort_int
from relay.core.state import ARTICLE_TRIES, Known, NewPost

_BY_ID = "SELECT * FROM posts WHERE board_id = %s AND id = ANY(%s)"
_NEWEST = "SELECT * FROM posts WHERE board_id = %s ORDER BY sort_key DESC, id DESC LIMIT %s"


def insert_new(tx: Connection, board_id: str, new: Sequence[NewPost], at: datetime) -> None:
    """Record new posts; `article_tries` counts the one fetch this poll made, if any."""
    with tx.cursor() as cursor:
        cursor.executemany(
            """INSERT INTO posts (board_id, id, sort_key, url, title, number, author,
                published, first_seen, updated, notice, excerpt, text, image,
                article_fetched, article_tries, category, comments, views, votes, body_html)
                VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)
            ON CONFLICT (board_id, id) DO NOTHING""",
            [_row(board_id, item, at) for item in new],
        )


def _row(board_id: str, item: NewPost, at: datetime) -> tuple[object, ...]:
    post, article = item.post, item.article
    return (
        board_id,
        post.id,
        id_sort_int(post.id),
        post.url,
        post.title,
        post.number,
        post.author,
        post.published,
        at,
        at,
        post.notice,
        article.excerpt if article else "",
        article.text if article else "",
        article.image if article else None,
        article is not None,
        int(item.fetch_article),
        post.category,
        post.comments,
        post.views,
        post.votes,
        article.body_html if article else "",
    )


def retitle(tx: Connection, board_id: str, posts: Sequence[Post], at: datetime) -> None:
    with tx.cursor() as cursor:
        cursor.executemany(
            "UPDATE posts SET title = %s, updated = %s WHERE board_id = %s AND id = %s",
            [(post.title, at, board_id, post.id) for post in posts],
        )


def recount(tx: Connection, board_id: str, posts: Sequence[Post]) -> None:
    """The counts a later poll of the same page showed: one batch, none when none changed.
    A count the page no longer prints keeps the recorded one."""
    if not posts:
        return
    with tx.cursor() as cursor:
        cursor.executemany(
            "UPDATE posts SET comments = %s, views = coalesce(%s, views), "
            "votes = coalesce(%s, votes) WHERE board_id = %s AND id = %s",
            [(post.comments, post.views, post.votes, board_id, post.id) for post in posts],
        )


def read_posts(tx: Connection, board_id: str, post_ids: Sequence[str]) -> dict[str, StoredPost]:
    rows = tx.execute(_BY_ID, (board_id, list(post_ids))).fetchall()
    return {r["id"]: _stored_post(r) for r in rows}


class PostgresPosts:
    """The `Posts` part of the PostgreSQL state."""

    _db: Database
    _boards: BoardTable

    def known(self, board_id: str, post_ids: Iterable[str]) -> dict[str, Known]:
        ids = list(post_ids)
        rows = self._db.query(
            "SELECT id, title, notice, comments, views, votes FROM posts "
            "WHERE board_id = %s AND id = ANY(%s)",
            (board_id, ids),
        )
        held = self._db.query(
            "SELECT post_id, route FROM held WHERE board_id = %s AND post_id = ANY(%s)",
            (board_id, ids),
        )
        return known_from_rows(rows, held)

    def newest_number(self, board_id: str) -> int | None:
        rows = self._db.query(
            "SELECT number FROM posts WHERE board_id = %s AND number IS NOT NULL "
            "ORDER BY sort_key DESC, id DESC LIMIT 1",
            (board_id,),
        )
        return rows[0]["number"] if rows else None

    def posts(self, board_id: str, post_ids: Iterable[str]) -> dict[str, StoredPost]:
        rows = self._db.query(_BY_ID, (board_id, list(post_ids)))
        return {r["id"]: _stored_post(r) for r in rows}

    def feed_posts(self, board_id: str, limit: int) -> list[StoredPost]:
        return [_stored_post(r) for r in self._db.query(_NEWEST, (board_id, limit))]

    def missing_articles(self, board_id: str, feed_entries: int, limit: int) -> list[StoredPost]:
        rows = self._db.query(
            f"SELECT * FROM ({_NEWEST}) newest "
            "WHERE NOT article_fetched AND article_tries < %s "
            "ORDER BY sort_key DESC, id DESC LIMIT %s",
            (board_id, feed_entries, ARTICLE_TRIES, limit),
        )
        return [_stored_post(r) for r in rows]

    def set_article(self, board_id: str, post_id: str, article: Article) -> None:
        with self._boards.write(board_id) as tx:
            tx.execute(
                "UPDATE posts SET excerpt = %s, text = %s, image = %s, body_html = %s, "
                "article_fetched = true WHERE board_id = %s AND id = %s",
                (article.excerpt, article.text, article.image, article.body_html)
                + (board_id, post_id),
            )
            tx.execute(
                "UPDATE boards SET feed_dirty = true, feed_changes = feed_changes + 1 "
                "WHERE id = %s",
                (board_id,),
            )

    def first_seen_since(
        self, since: datetime, board_id: str | None = None
    ) -> dict[str, list[datetime]]:
        # Two statements, not one with "%s IS NULL OR": each picks its own index.
        args: tuple[object, ...]
        if board_id is None:
            where, args = "first_seen >= %s", (since,)
        else:
            where, args = "board_id = %s AND first_seen >= %s", (board_id, since)
        rows = self._db.query(
            f"SELECT board_id, first_seen FROM posts WHERE {where} ORDER BY first_seen", args
        )
        return by_board((r["board_id"], r["first_seen"]) for r in rows)

    def arrivals_per_hour(self, since: datetime) -> dict[str, list[tuple[datetime, int]]]:
        hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        rows = self._db.query(
            "SELECT board_id, date_trunc('hour', first_seen, 'UTC') AS hour, count(*) AS n "
            "FROM posts WHERE first_seen >= %s GROUP BY 1, 2 ORDER BY 1, 2",
            (hour,),
        )
        return by_board((r["board_id"], (r["hour"], r["n"])) for r in rows)

    def article_failed(self, board_id: str, post_id: str) -> None:
        self._db.write(
            "UPDATE posts SET article_tries = article_tries + 1 WHERE board_id = %s AND id = %s",
            (board_id, post_id),
        )


def _stored_post(row: Row) -> StoredPost:
    return record_from_row(StoredPost, row)
