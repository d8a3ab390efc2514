"""What the program needs from its durable state, as Protocols, and the records that cross it.

Pure: no storage library here. The pipeline, the delivery worker and the CLI see only these
Protocols; `relay.adapters.sqlite` implements them today, and another implementation (a
PostgreSQL state shared by several instances) slots in by satisfying `State` and passing
tests/test_state_contract.py. Every method is synchronous and short: async callers run it
in a worker thread (`asyncio.to_thread`) — except `board_state`, which must answer from
memory (see `BoardStates`).

Times are aware UTC unless a field says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from relay.core.coordination import Lease
from relay.core.models import Article, Post, StoredPost

ARTICLE_TRIES = 3  # fetches of one article page before its excerpt is given up


@dataclass(frozen=True, slots=True)
class BoardState:
    """One board's poll state, as last recorded. A board never polled has the defaults."""

    board_id: str
    first_poll: datetime | None = None  # None until the first successful poll
    baseline: str | None = None  # oldest id of the first poll: unseen older ids are history
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_new: datetime | None = None
    failures: int = 0  # consecutive failed polls
    last_reason: str = ""
    last_error: str = ""
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None  # sha256 of page 1, for boards that send no validators
    feed_dirty: bool = True  # the Atom file must be (re)written
    feed_changes: int = 0  # changes its feed has shown so far (what `feed_version` is made of)
    alarmed: bool = False  # the operator was told that this board is failing
    # The operator was told that this board is quiet: the told silence's start (the quiet
    # verdict's `since`); None when not told, or told that posts came again.
    quiet_alarmed: datetime | None = None
    posts: int = 0  # counts: filled by `board_states` only
    pending: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class Known:
    """What the state holds of a listed post: enough to decide whether it is new or edited."""

    title: str
    notice: bool
    held: frozenset[str] = frozenset()  # route keys this post is held for (thresholds)
    category: str = ""  # 말머리 as recorded; "" when none was read (an older release, a feed)
    comments: int | None = None  # the counts as last recorded (None: never shown or recorded)
    views: int | None = None
    votes: int | None = None


@dataclass(frozen=True, slots=True)
class Validators:
    """What tells the next poll that page 1 is unchanged: HTTP validators and a body hash."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True, slots=True)
class NewPost:
    """A post to record: as listed (its time already decided), and what its article gave."""

    post: Post
    announce: bool  # a delivery per chat is queued with it
    fetch_article: bool  # worth an article request: it is announced or kept in the feed
    article: Article | None = None  # None: not fetched (yet), or the fetch failed
    routes: tuple[str, ...] | None = None  # route keys given a delivery; None: every chat
    held: tuple[str, ...] = ()  # route keys it is held for until it crosses their thresholds
    wanted: bool = False  # a post to announce if a route wants it: routes may read its excerpt


@dataclass(frozen=True, slots=True)
class PageChanges:
    """What a changed page 1 (and the pages followed from it) adds to the state."""

    validators: Validators
    baseline: str | None  # the board's history boundary after this poll
    new: tuple[NewPost, ...] = ()  # oldest first: deliveries are queued in this order
    retitled: tuple[Post, ...] = ()  # known posts whose title or category changed: edited
    chats: tuple[str, ...] = ()  # where announced posts go (route keys)
    released: tuple[tuple[str, str], ...] = ()  # (post id, route key): held, now crossed
    recounted: tuple[Post, ...] = ()  # known posts whose counts changed: their new counts
    categorized: tuple[Post, ...] = ()  # known posts recorded without a category: now stored


@dataclass(frozen=True, slots=True)
class PollIntent:
    """Everything one successful poll changes, decided before anything is written; the state
    applies it in one transaction (`apply_poll`), so a crash leaves all of it or none."""

    at: datetime  # aware UTC: the poll's time, stamped on everything it records
    stamp: bool  # write `at` as the last successful poll and clear the failure count
    changes: PageChanges | None = None  # None: page 1 was unchanged (304 or same body)
    pages: int = 0  # list pages read and parsed
    warnings: tuple[str, ...] = ()  # for the log and the outcome

    @property
    def new(self) -> tuple[NewPost, ...]:
        return self.changes.new if self.changes else ()

    @property
    def retitled(self) -> tuple[Post, ...]:
        return self.changes.retitled if self.changes else ()

    @property
    def articles_wanted(self) -> tuple[Post, ...]:
        """Posts whose article page to fetch, newest first: a long poll fills the feed's top."""
        return tuple(n.post for n in reversed(self.new) if n.fetch_article)

    def with_articles(self, articles: Mapping[str, Article]) -> PollIntent:
        """The same intent with the article pages that were read (by post id)."""
        if self.changes is None or not articles:
            return self
        new = tuple(replace(n, article=articles.get(n.post.id, n.article)) for n in self.new)
        return replace(self, changes=replace(self.changes, new=new))


@dataclass(frozen=True, slots=True)
class Delivery:
    """One queued message: a post for a route. `seq` orders the queue (oldest post first)."""

    seq: int
    board_id: str
    post_id: str
    chat: str  # where it is sent
    attempts: int = 0
    not_before: datetime | None = None  # do not try before (backoff, retry_after)
    route: str = ""  # the route's key (relay.core.routes.route_key); "" reads as `chat`

    @property
    def route_key(self) -> str:
        return self.route or self.chat


@dataclass(frozen=True, slots=True)
class Edit:
    """A sent message to bring up to date: its post's title changed on the board."""

    seq: int  # the delivery's
    board_id: str
    post_id: str
    chat: str
    route: str
    message_id: int
    caption: bool  # sent as a photo: its caption is edited, not its text
    tries: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """Where one post's message to one chat stands, for the board's status page."""

    post_id: str
    chat: str
    status: str  # "pending", "sent" or "failed"
    error: str = ""  # the last error: why it waits or why it failed
    not_before: datetime | None = None  # pending: not tried before this
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChatCounts:
    """One board's deliveries to one chat on one route that are not sent."""

    board_id: str
    chat: str
    pending: int
    failed: int
    route: str = ""  # the stored route key (relay.core.routes.route_key); "" reads as `chat`


class BoardStates(Protocol):
    """The per-board poll state."""

    def board_state(self, board_id: str) -> BoardState:
        """One board's poll state, without counts. Answered from memory: cheap enough to be
        called on the event loop on every poll (this process is the state's only writer)."""
        ...

    def refresh_boards(self, board_ids: Iterable[str]) -> None:
        """Read these boards' poll state again from the store into memory: another
        instance sharing the state polled them until this one took their leases."""
        ...

    def board_states(self, board_ids: Iterable[str]) -> list[BoardState]:
        """Poll states with post and delivery counts, in the order asked (`relay status`)."""
        ...

    def apply_poll(
        self, board_id: str, intent: PollIntent, *, fence: Lease | None = None
    ) -> tuple[StoredPost, ...]:
        """Apply a successful poll in one transaction; returns the new posts as recorded.
        With `fence`, a shared state first checks that this lease is still current and
        raises `LeaseLost` (nothing written) when it is not; a state one process owns alone
        has nothing to fence and ignores it."""
        ...

    def record_failure(
        self, board_id: str, at: datetime, reason: str, error: str, *, fence: Lease | None = None
    ) -> int:
        """Count a failed poll (nothing else moves); returns the consecutive count. Fenced
        like `apply_poll`: a failure met under a lost lease is not the board's to count."""
        ...

    def set_alarmed(self, board_id: str, alarmed: bool) -> None: ...

    def set_quiet_alarmed(self, board_id: str, since: datetime | None) -> None:
        """The operator was told the board is quiet since `since` (None: told that posts
        came again), stored so that a restart does not tell it again."""
        ...

    def mark_feed_written(self, board_id: str) -> None:
        """The Atom file is durably in place: clear the "feed needs writing" mark."""
        ...

    def feed_version(self, board_id: str) -> str | None:
        """None while the board has no feed (no successful poll yet); else an opaque text
        that changes whenever anything its feed shows changes (a new post, a retitle, a late
        article) and only then. One cheap read of the board's row: a listener asks it on
        every feed request, to re-render only a feed that changed (relay.service.statefeeds).
        """
        ...


class Posts(Protocol):
    """The posts of every board: what decides "new", and what feeds and messages show."""

    def known(self, board_id: str, post_ids: Iterable[str]) -> dict[str, Known]:
        """Those of `post_ids` the board already has (any number of ids)."""
        ...

    def newest_number(self, board_id: str) -> int | None:
        """The 번호 of the newest numbered post, to estimate how many a burst hid."""
        ...

    def posts(self, board_id: str, post_ids: Iterable[str]) -> dict[str, StoredPost]: ...

    def feed_posts(self, board_id: str, limit: int) -> list[StoredPost]:
        """The newest `limit` posts, newest first (numeric ids by value)."""
        ...

    def missing_articles(self, board_id: str, feed_entries: int, limit: int) -> list[StoredPost]:
        """Up to `limit` posts among the newest `feed_entries` whose article is still missing
        and was tried fewer than ARTICLE_TRIES times."""
        ...

    def articles_complete(self, board_id: str, feed_entries: int) -> bool:
        """True only when `missing_articles` surely finds none: the last look found none and
        no post came in since. Answered from memory, cheap enough for the event loop, so
        that a poll of a complete board (most polls) costs no state call for it."""
        ...

    def set_article(self, board_id: str, post_id: str, article: Article) -> None:
        """Store a late article; the feed then needs writing."""
        ...

    def first_seen_since(
        self, since: datetime, board_id: str | None = None
    ) -> dict[str, list[datetime]]:
        """board id -> first-seen times (oldest first) of its posts first seen at or after
        `since`: of one board, or of every board in one query (the status page's sparklines,
        the quiet-board rule's history)."""
        ...

    def arrivals_per_hour(self, since: datetime) -> dict[str, list[tuple[datetime, int]]]:
        """board id -> (UTC hour start, posts first seen in that hour), oldest first, for
        every board at once from `since`'s hour on: the sparklines of the status page, with
        one row per hour rather than one per post."""
        ...

    def article_failed(self, board_id: str, post_id: str) -> None: ...


class DeliveryQueue(Protocol):
    """The messages to send, filled by `apply_poll`, drained by the delivery worker."""

    def pending_deliveries(self, limit: int = 1000) -> list[Delivery]:
        """Pending deliveries, oldest first."""
        ...

    def mark_sent(
        self, seq: int, now: datetime, message_id: int | None, sent_as: str = "text"
    ) -> None: ...

    def mark_retry(
        self, seq: int, error: str, not_before: datetime, *, count: bool = True
    ) -> None: ...

    def mark_failed(self, seq: int, error: str) -> None: ...

    def mark_sent_many(
        self, seqs: Iterable[int], now: datetime, message_id: int | None, sent_as: str
    ) -> None:
        """Mark several deliveries sent in ONE transaction (a digest carries them all)."""
        ...

    def pending_edits(self, limit: int = 100) -> list[Edit]:
        """Sent messages whose post was retitled since, oldest first."""
        ...

    def mark_edited(self, seq: int, error: str = "", *, retry: bool = False) -> None:
        """An edit done (error ""), refused for good (error), or to try again (retry)."""
        ...

    def move_chat(self, old: str, new: str) -> int:
        """Pending deliveries of chat `old` go to `new` (a group became a supergroup)."""
        ...

    def requeue_failed(self, board_id: str | None = None) -> int: ...

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        """(board_id, status) -> count, for metrics."""
        ...

    def chat_counts(self, board_id: str | None = None) -> list[ChatCounts]:
        """Per board (or of one board), route and chat, the deliveries pending or failed,
        in one grouped query (a chat with two routes, two topics say, has two rows)."""
        ...

    def post_deliveries(self, board_id: str, post_ids: Iterable[str]) -> list[DeliveryStatus]:
        """The deliveries of these posts of a board, in queue order."""
        ...


class State(BoardStates, Posts, DeliveryQueue, Protocol):
    """The whole durable state, as one object the composition root builds and closes."""

    @property
    def location(self) -> str:
        """Where the state lives, for messages: a file path, or a URL without its password."""
        ...

    def close(self) -> None: ...
