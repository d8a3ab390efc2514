"""The records that cross module boundaries. Stdlib only; no I/O.

Every time field says its zone: board dates are aware datetimes in the board's timezone,
times board-relay itself records (first seen, polled) are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Post:
    """One row of a board's list page, as parsed.

    `id` is the stable id taken from the post's link (document_srl, wr_id, /board/47209): the
    displayed `number` is a virtual number (total - offset - i) that shifts whenever an older
    post is deleted, so it only orders posts and never identifies them.
    """

    id: str
    url: str  # absolute
    title: str  # clean: no comment count, no icon text, whitespace folded
    number: int | None = None  # None for notices and the "»" row of the post being viewed
    author: str = ""
    published: datetime | None = None  # aware, board timezone; None when the row shows no date
    notice: bool = False
    comments: int = 0
    category: str = ""  # 말머리, as the row shows it ("" when the skin shows none)
    views: int | None = None  # 조회, None where the skin prints no count
    votes: int | None = None  # 추천, likewise

    @property
    def sort_key(self) -> tuple[int, str]:
        """Oldest-first order: ids on these engines grow with time (numeric where possible)."""
        return id_sort_key(self.id)


def id_sort_key(post_id: str) -> tuple[int, str]:
    """Numeric ids sort numerically (47209 > 9999); others after, by text."""
    if post_id.isdigit():
        return (int(post_id), "")
    return (1 << 62, post_id)


def id_sort_int(post_id: str) -> int:
    """The same order as one 64-bit integer, for a state's `sort_key` column: numeric ids by
    value, others after every numeric one (their ties broken by the id itself)."""
    return int(post_id) if post_id.isdigit() and len(post_id) < 18 else 1 << 62


@dataclass(frozen=True, slots=True)
class Article:
    """What an article page gave: a short excerpt, a longer plain text, the first image."""

    excerpt: str  # plain text, at most excerpt_chars, cut at a word boundary with "…"
    text: str  # plain text of the body, capped (used as Atom content)
    image: str | None = None  # absolute URL of the first image in the body
    # The body as sanitized HTML (relay.core.sanitize), read only for boards whose feed
    # carries full articles (feed_content = "full"); "" otherwise.
    body_html: str = ""


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A post as the state holds it: what the feed and the messages are made from."""

    board_id: str
    id: str
    url: str
    title: str
    number: int | None
    author: str
    published: datetime | None  # aware, board timezone, or None
    first_seen: datetime  # aware UTC: when board-relay first listed it
    updated: datetime  # aware UTC: first_seen, or when its title last changed
    notice: bool = False
    excerpt: str = ""
    text: str = ""
    image: str | None = None
    article_fetched: bool = False  # False until the article page was read successfully
    category: str = ""  # 말머리
    comments: int | None = None  # the counts the list page showed at the last poll that saw it
    views: int | None = None
    votes: int | None = None
    body_html: str = ""  # sanitized full body (feed_content = "full"), else ""


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """Feed-level facts for one board's Atom file."""

    board_id: str
    title: str
    site_url: str  # the board's list page: the feed's alternate link
    feed_url: str | None = None  # where the feed is served: the self link, if known
    language: str = "ko"
    author: str = ""  # feed-level author; defaults to the board title when empty
    tag_authority: str = ""  # for tag: URIs; the site's host


class LinkPreview(StrEnum):
    """What Telegram shows under a message: the post's page, its first image, or nothing."""

    POST = "post"
    IMAGE = "image"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One Telegram message, ready to send: HTML text within Telegram's limits."""

    chat: str
    text: str  # HTML parse mode, every scraped string escaped
    disable_notification: bool = False
    preview_url: str | None = None  # the URL Telegram should preview, if any
    message_thread_id: int | None = None
    photo_url: str | None = None  # sent as a photo with `text` as its caption (<= 1024 units)
    button_url: str | None = None  # an inline "원문 보기" button opening this URL


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll of one board did, for logs, metrics and the CLI."""

    board_id: str
    ok: bool
    new: tuple[StoredPost, ...] = ()  # newly recorded posts, oldest first
    announced: int = 0  # deliveries created
    updated: int = 0  # posts whose title changed
    pages: int = 0
    unchanged: bool = False  # 304 or same body hash: nothing parsed
    reason: str = ""  # failure reason: "layout", "blocked", "http 503", "network", ...
    error: str = ""  # the full failure message
    retry_after: float | None = None  # seconds the board asked us to wait (503/429)
    elapsed_ms: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def quiet(self) -> bool:
        """Nothing happened that a reader would see: page 1 was unchanged, or it changed (a
        visitor counter, an ad) without a new post or an edit. Such polls are most polls: at
        1,000 boards an INFO line for each would flood the journal."""
        return self.ok and not self.new and not self.updated
