"""The decision of one poll, whole: data in, one intent out. Pure, and the clock is passed in.

The pipeline (relay.pipeline.poll) only does things in order: it reads page 1, asks here
whether it changed, follows pages while `diff.next_page` says so, then asks `decide_poll`
for the intent, fetches the article pages the intent wants, and hands the intent to the
state to apply in one transaction. Every rule of a poll is in this module or in `diff`:

- Validators: the first poll sends none (it must read page 1); later polls send the stored
  ETag / Last-Modified, and a body identical to the last one (by hash) is unchanged too —
  many PHP boards send no validators.
- Stamping: an unchanged poll writes its time only when the stored time is
  `status.STAMP_INTERVALS` old, or the board was failing (its count must be cleared) —
  or always, for a shared state (`stamp_always`: a board's next owner reads that time).
- Time: boards print only the date for many rows; a later poll's date-only post of today
  takes the moment it was first seen (the first poll's posts are older than that moment).
- Articles: only for the posts that are announced or kept in the feed. A first poll of a
  100,000-row page fetches `feed_entries` articles, not 100,000.
- Announcing: only when the board has a route (or a chat); which routes get a delivery, and
  which hold a post until it crosses their thresholds, is `relay.core.fanout`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from datetime import time as clock_time

from relay.core.diff import Walk, missing_warning, plan_poll
from relay.core.errors import BoardFailure
from relay.core.fanout import fan_out, reads_excerpt, released
from relay.core.models import Article, PollOutcome, Post, StoredPost
from relay.core.routes import Route
from relay.core.state import BoardState, Known, NewPost, PageChanges, PollIntent, Validators
from relay.core.status import STAMP_INTERVALS


@dataclass(frozen=True, slots=True)
class PollSettings:
    """What the decision reads of a board's configuration."""

    interval: float  # seconds between polls
    backfill: int = 0  # posts announced on the first poll
    notices: bool = True  # pinned notices are recorded (and announced once)
    max_pages: int = 5  # list pages a burst is followed across
    feed_entries: int = 50  # posts the feed keeps
    timezone: tzinfo = UTC  # the board's: for "is this date-only post today's"
    chats: tuple[str, ...] = ()  # where new posts are announced; none: feed only
    routes: tuple[Route, ...] = ()  # when given, these decide (and `chats` is ignored)
    # Every poll writes its time: in a shared state the next owner of the board schedules
    # its first poll from the stored time, which must not lag 1.5 intervals behind.
    stamp_always: bool = False


@dataclass(frozen=True, slots=True)
class Listing:
    """What a poll read from the board's list pages, before any decision was made."""

    validators: Validators  # of page 1 as answered
    unchanged: bool = False  # page 1 was a 304 or the same body: nothing was parsed
    pages: tuple[tuple[Post, ...], ...] = ()  # parsed list pages, page 1 first
    known: Mapping[str, Known] = field(default_factory=dict)  # of the listed ids
    walk: Walk = Walk.DONE  # how the walk through the pages ended
    newest_known_number: int | None = None  # for the estimate when the walk was cut short
    source: str = "list"  # "list", or "feed" when the board's own feed gave page 1's posts
    articles: Mapping[str, Article] = field(default_factory=dict)  # from the feed: no fetch


def request_validators(state: BoardState) -> Validators:
    """What to send with page 1's request: nothing on the first poll, which must read it."""
    if state.first_poll is None:
        return Validators()
    return Validators(state.etag, state.last_modified, state.body_hash)


def page_unchanged(state: BoardState, answer: Validators, *, not_modified: bool) -> bool:
    """A 304, or (after the first poll) the very body seen last time."""
    return not_modified or (state.first_poll is not None and answer.body_hash == state.body_hash)


def decide_poll(
    state: BoardState, listing: Listing, now: datetime, settings: PollSettings
) -> PollIntent:
    """Everything the poll changes, as one record for the state to apply in one transaction.

    `now` is aware UTC: the poll's time, recorded as the new posts' first-seen time.
    """
    if listing.unchanged:
        stamp = settings.stamp_always or must_stamp(state, now, settings.interval)
        return PollIntent(at=now, stamp=stamp)
    first_poll = state.first_poll is None
    plan = plan_poll(
        listing.pages,
        listing.known,
        first_poll=first_poll,
        baseline=state.baseline,
        backfill=settings.backfill,
        notices=settings.notices,
    )
    routes = settings.routes
    chats = tuple(r.key for r in routes) if routes else settings.chats
    announce = plan.announce if chats else frozenset()
    kept = _kept_in_feed(plan.new, settings.feed_entries)
    new = tuple(
        _new_post(
            post if first_poll else timed(post, now, settings.timezone),
            post.id in announce,
            post.id in kept,
            routes,
        )
        for post in plan.new
    )
    listed = [post for page in listing.pages for post in page]
    freed = released(state.board_id, listed, listing.known, routes) if routes else ()
    warnings: tuple[str, ...] = ()
    if listing.walk is Walk.CUT_SHORT:
        last = listing.pages[-1]
        warnings = (missing_warning(last, settings.max_pages, listing.newest_known_number),)
    changes = PageChanges(
        listing.validators,
        plan.baseline,
        new,
        plan.retitled,
        chats,
        released=freed,
        recounted=recounted(listing.pages, listing.known),
        categorized=plan.categorized,
    )
    return PollIntent(
        at=now, stamp=True, changes=changes, pages=len(listing.pages), warnings=warnings
    )


def _new_post(post: Post, announce: bool, kept: bool, routes: tuple[Route, ...]) -> NewPost:
    """A post to record; an announced one fans out to the routes that want it."""
    if not announce or not routes:
        return NewPost(post, announce=announce, fetch_article=announce or kept)
    fanout = fan_out(post, routes)
    sent = bool(fanout.deliver)
    return NewPost(
        post,
        announce=sent,
        fetch_article=sent or kept or reads_excerpt(routes),
        routes=fanout.deliver,
        held=fanout.held,
        wanted=True,
    )


def with_excerpts(intent: PollIntent, routes: tuple[Route, ...]) -> PollIntent:
    """The intent with its new posts routed again on their articles' excerpts, when a route
    filters on the excerpt (`relay.core.fanout`); else the intent as it is."""
    if intent.changes is None or not reads_excerpt(routes):
        return intent
    new = []
    for item in intent.changes.new:
        if item.wanted:
            excerpt = item.article.excerpt if item.article else ""
            fanout = fan_out(item.post, routes, excerpt)
            item = replace(
                item, announce=bool(fanout.deliver), routes=fanout.deliver, held=fanout.held
            )
        new.append(item)
    return replace(intent, changes=replace(intent.changes, new=tuple(new)))


def recounted(pages: Sequence[Sequence[Post]], known: Mapping[str, Known]) -> tuple[Post, ...]:
    """Known posts whose counts (comments, views, votes) differ from those recorded, for the
    state to update in the poll's own transaction; none changed, nothing is written. A count
    the page does not print (None) never erases a recorded one."""
    changed: dict[str, Post] = {}
    for page in pages:
        for post in page:
            was = known.get(post.id)
            if was is None or post.id in changed:
                continue
            if (
                post.comments != was.comments
                or (post.views is not None and post.views != was.views)
                or (post.votes is not None and post.votes != was.votes)
            ):
                changed[post.id] = post
    return tuple(changed.values())


def must_stamp(state: BoardState, now: datetime, interval: float) -> bool:
    """Whether an unchanged poll writes its time. A write (and its fsync) per unchanged poll
    is most of a quiet relay's I/O, so only a stored time STAMP_INTERVALS old is renewed;
    a failing board's count is cleared at once (its health must show the recovery)."""
    last = state.last_success
    if state.failures or last is None:
        return True
    return (now - last).total_seconds() > interval * STAMP_INTERVALS


def timed(post: Post, seen_at: datetime, tz: tzinfo) -> Post:
    """Boards print only the date for many rows; that reads as midnight. A post that a later
    poll finds appeared within the last interval, so when it is today's, the moment it was
    first seen is the better time (the feed and the message then show a real time)."""
    published = post.published
    if published is None or published.timetz().replace(tzinfo=None) != clock_time(0):
        return post
    local_seen = seen_at.astimezone(tz)
    if published.astimezone(tz).date() != local_seen.date():
        return post
    return replace(post, published=local_seen)


def _kept_in_feed(new: Sequence[Post], feed_entries: int) -> frozenset[str]:
    """The new posts (oldest first) that can be among the feed's newest `feed_entries`. Known
    posts may push some out, so this can name a few too many, never too few."""
    return frozenset(p.id for p in new[max(0, len(new) - feed_entries) :])


def poll_outcome(
    board_id: str, intent: PollIntent, recorded: Sequence[StoredPost], elapsed_ms: int
) -> PollOutcome:
    """What a successful poll did, for logs, metrics and the CLI."""
    return PollOutcome(
        board_id=board_id,
        ok=True,
        new=tuple(recorded),
        announced=sum(n.announce for n in intent.new) + len(intent.changes.released)
        if intent.changes
        else 0,
        updated=len(intent.retitled),
        pages=intent.pages,
        unchanged=intent.changes is None,
        elapsed_ms=elapsed_ms,
        warnings=intent.warnings,
    )


def failed_outcome(board_id: str, error: BoardFailure, elapsed_ms: int) -> PollOutcome:
    """What a failed poll did: whatever failed (a page, the layout, the state, the feed file),
    the board is counted, backed off and alarmed on by the same fields."""
    return PollOutcome(
        board_id=board_id,
        ok=False,
        reason=error.reason,
        error=str(error),
        retry_after=error.retry_after,
        elapsed_ms=elapsed_ms,
    )
