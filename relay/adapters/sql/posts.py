"""The posts table: what decides "new" (known ids), and what feeds and messages are made of.

`sort_key` orders a board's posts by age (`relay.core.models.id_sort_int`): numeric ids by
value (47209 after 9999), any other id after them, ties by the id's bytes (the index
`posts_by_age` is (board_id, sort_key DESC, id DESC) in both databases).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from relay.adapters.rows import RowLike, by_board, known_from_rows
from relay.adapters.sql.boards import BoardTable
from relay.adapters.sql.driver import Driver, Tx, Values, from_row
from relay.core.models import Article, Post, StoredPost, id_sort_int
from relay.core.state import ARTICLE_TRIES, Known, NewPost

_BY_ID = "SELECT * FROM posts WHERE board_id = ? AND id IN ({ids})"
_NEWEST = "SELECT * FROM posts WHERE board_id = ? ORDER BY sort_key DESC, id DESC LIMIT ?"


def insert_new(tx: Tx, board_id: str, new: Sequence[NewPost], stamp: object) -> None:
    """Record new posts; `article_tries` counts the one fetch this poll made, if any."""
    tx.executemany(
        """INSERT INTO posts (board_id, id, sort_key, url, title, number, author,
            published, first_seen, updated, notice, excerpt, text, image,
            article_fetched, article_tries, category, comments, views, votes, body_html)
            VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
        ON CONFLICT (board_id, id) DO NOTHING""",
        [_row(tx, board_id, item, stamp) for item in new],
    )


def _row(values: Values, board_id: str, item: NewPost, stamp: object) -> tuple[object, ...]:
    post, article = item.post, item.article
    return (
        board_id,
        post.id,
        id_sort_int(post.id),
        post.url,
        post.title,
        post.number,
        post.author,
        values.stored_time(post.published),
        stamp,
        stamp,
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


def retitle(tx: Tx, board_id: str, posts: Sequence[Post], stamp: object) -> None:
    """Posts edited on the board: their title and category (a category the page no longer
    shows keeps the recorded one) and the time of the edit."""
    tx.executemany(
        "UPDATE posts SET title = ?, category = coalesce(nullif(?, ''), category), updated = ? "
        "WHERE board_id = ? AND id = ?",
        [(post.title, post.category, stamp, board_id, post.id) for post in posts],
    )


def categorize(tx: Tx, board_id: str, posts: Sequence[Post]) -> None:
    """Categories of posts recorded without one: stored, and no edit (not `updated` either:
    the post did not change, the relay only reads more of it now)."""
    if not posts:
        return
    tx.executemany(
        "UPDATE posts SET category = ? WHERE board_id = ? AND id = ? AND category = ''",
        [(post.category, board_id, post.id) for post in posts],
    )


def recount(tx: Tx, board_id: str, posts: Sequence[Post]) -> None:
    """The counts a later poll of the same page showed: one batch, none when none changed.
    A count the page no longer prints keeps the recorded one."""
    if not posts:
        return
    tx.executemany(
        "UPDATE posts SET comments = ?, views = coalesce(?, views), votes = coalesce(?, votes) "
        "WHERE board_id = ? AND id = ?",
        [(post.comments, post.views, post.votes, board_id, post.id) for post in posts],
    )


def read_posts(tx: Tx, board_id: str, post_ids: Sequence[str]) -> dict[str, StoredPost]:
    rows = tx.query_ids(_BY_ID, (board_id,), post_ids)
    return {r["id"]: stored_post(tx, r) for r in rows}


class SqlPosts:
    """The `Posts` part of a state. The hourly arrivals are counted by a statement of the
    database's own (`_ARRIVALS`, its hour read back by `_hour`): truncating a time to its
    hour has no portable spelling."""

    _sql: Driver
    _boards: BoardTable
    # board_id, hour (the hour a first_seen falls in, UTC), n: posts first seen since ?
    _ARRIVALS: str

    def _hour(self, value: Any) -> datetime:
        """The `hour` column as an aware datetime."""
        raise NotImplementedError

    def arrivals_per_hour(self, since: datetime) -> dict[str, list[tuple[datetime, int]]]:
        hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        rows = self._sql.query(self._ARRIVALS, (self._sql.stored_time(hour),))
        return by_board((r["board_id"], (self._hour(r["hour"]), r["n"])) for r in rows)

    def known(self, board_id: str, post_ids: Iterable[str]) -> dict[str, Known]:
        ids = list(post_ids)
        rows = self._sql.query_ids(
            "SELECT id, title, notice, category, comments, views, votes FROM posts "
            "WHERE board_id = ? AND id IN ({ids})",
            (board_id,),
            ids,
        )
        held = self._sql.query_ids(
            "SELECT post_id, route FROM held WHERE board_id = ? AND post_id IN ({ids})",
            (board_id,),
            ids,
        )
        return known_from_rows(rows, held)

    def newest_number(self, board_id: str) -> int | None:
        rows = self._sql.query(
            "SELECT number FROM posts WHERE board_id = ? AND number IS NOT NULL "
            "ORDER BY sort_key DESC, id DESC LIMIT 1",
            (board_id,),
        )
        return rows[0]["number"] if rows else None

    def posts(self, board_id: str, post_ids: Iterable[str]) -> dict[str, StoredPost]:
        rows = self._sql.query_ids(_BY_ID, (board_id,), list(post_ids))
        return {r["id"]: stored_post(self._sql, r) for r in rows}

    def feed_posts(self, board_id: str, limit: int) -> list[StoredPost]:
        return [stored_post(self._sql, r) for r in self._sql.query(_NEWEST, (board_id, limit))]

    def articles_complete(self, board_id: str, feed_entries: int) -> bool:
        return self._boards.articles_complete(board_id, feed_entries)

    def missing_articles(self, board_id: str, feed_entries: int, limit: int) -> list[StoredPost]:
        if self._boards.articles_complete(board_id, feed_entries):
            return []  # none was missing, and no post came in since (see `BoardTable`)
        changes = self._boards.get(board_id).feed_changes
        rows = self._sql.query(
            f"SELECT * FROM ({_NEWEST}) newest "
            "WHERE article_fetched = {false} AND article_tries < ? "
            "ORDER BY sort_key DESC, id DESC LIMIT ?",
            (board_id, feed_entries, ARTICLE_TRIES, limit),
        )
        if not rows:
            self._boards.remember_complete(board_id, changes, feed_entries)
        return [stored_post(self._sql, r) for r in rows]

    def set_article(self, board_id: str, post_id: str, article: Article) -> None:
        with self._boards.write(board_id) as tx:
            tx.execute(
                "UPDATE posts SET excerpt = ?, text = ?, image = ?, body_html = ?, "
                "article_fetched = {true} WHERE board_id = ? AND id = ?",
                (article.excerpt, article.text, article.image, article.body_html)
                + (board_id, post_id),
            )
            tx.execute(
                "UPDATE boards SET feed_dirty = {true}, feed_changes = feed_changes + 1 "
                "WHERE id = ?",
                (board_id,),
            )

    def first_seen_since(
        self, since: datetime, board_id: str | None = None
    ) -> dict[str, list[datetime]]:
        # Stored as UTC (in SQLite as ISO strings of one form, so text order is time order,
        # and the index on first_seen serves the range).
        # Two statements, not one with "? IS NULL OR": each must pick its own index (one board:
        # (board_id, first_seen); every board: first_seen).
        start = self._sql.stored_time(since.astimezone(UTC))
        args: tuple[object, ...]
        if board_id is None:
            where, args = "first_seen >= ?", (start,)
        else:
            where, args = "board_id = ? AND first_seen >= ?", (board_id, start)
        rows = self._sql.query(
            f"SELECT board_id, first_seen FROM posts WHERE {where} ORDER BY first_seen", args
        )
        return by_board(_first_seen(self._sql, rows))

    def article_failed(self, board_id: str, post_id: str) -> None:
        self._sql.write(
            "UPDATE posts SET article_tries = article_tries + 1 WHERE board_id = ? AND id = ?",
            (board_id, post_id),
        )


def _first_seen(values: Values, rows: Iterable[RowLike]) -> Iterable[tuple[str, datetime]]:
    for r in rows:
        seen = values.read_time(r["first_seen"])
        assert seen is not None  # a NOT NULL column
        yield r["board_id"], seen


def stored_post(values: Values, row: RowLike) -> StoredPost:
    return from_row(
        values,
        StoredPost,
        row,
        times=("published", "first_seen", "updated"),  # first_seen, updated: NOT NULL columns
        flags=("notice", "article_fetched"),
    )
