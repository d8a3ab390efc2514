"""The state's tables as both implementations hold them, column for column: what
`relay state copy` moves. Pure data.

Both schemas have these tables with these columns (PostgreSQL's migrations 1-3 mirror SQLite's
1-7); only the stored forms differ: SQLite keeps times as UTC ISO text and flags as 0/1,
PostgreSQL as timestamptz and boolean. A row crosses between them in neutral form — times as
aware datetimes, flags as bools — and each adapter converts to and from its own.

Left out on purpose: PostgreSQL's coordination tables (instances, leases, chat_pace) and the
delivery claim columns, which describe running instances, not what was seen and sent.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]
    order: str  # the export's ORDER BY: the same rows always come out in the same order
    times: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()

    @property
    def column_list(self) -> str:
        return ", ".join(self.columns)


BOARDS = Table(
    "boards",
    (
        "id",
        "first_poll",
        "baseline",
        "last_poll",
        "last_success",
        "last_new",
        "failures",
        "last_reason",
        "last_error",
        "etag",
        "last_modified",
        "body_hash",
        "feed_dirty",
        "alarmed",
        "quiet_alarmed",
        "feed_changes",
    ),
    order="id",
    times=frozenset({"first_poll", "last_poll", "last_success", "last_new", "quiet_alarmed"}),
    flags=frozenset({"feed_dirty", "alarmed"}),
)
POSTS = Table(
    "posts",
    (
        "board_id",
        "id",
        "sort_key",
        "url",
        "title",
        "number",
        "author",
        "published",
        "first_seen",
        "updated",
        "notice",
        "excerpt",
        "text",
        "image",
        "article_fetched",
        "article_tries",
        "category",
        "comments",
        "views",
        "votes",
        "body_html",
    ),
    order="board_id, id",
    times=frozenset({"published", "first_seen", "updated"}),
    flags=frozenset({"notice", "article_fetched"}),
)
HELD = Table("held", ("board_id", "post_id", "route"), order="board_id, post_id, route")
DELIVERIES = Table(
    "deliveries",
    (
        "seq",
        "board_id",
        "post_id",
        "route",
        "chat",
        "status",
        "attempts",
        "last_error",
        "not_before",
        "created",
        "sent_at",
        "message_id",
        "sent_as",
        "edit_pending",
        "edit_tries",
        "edit_error",
    ),
    order="seq",  # the queue's order is the seqs themselves: they are copied as they are
    times=frozenset({"not_before", "created", "sent_at"}),
    flags=frozenset({"edit_pending"}),
)

# Parents before children (foreign keys); emptied in the reverse order.
TABLES: tuple[Table, ...] = (BOARDS, POSTS, HELD, DELIVERIES)
