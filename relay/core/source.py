"""Which source a board is read from, its list page or its own feed, and how the two merge.

`source = "auto" | "list" | "feed"` (a board key). With a feed the entries give ids, exact
timestamps and the article text (no article request); list page 1 is still read: it marks
the notices (a feed lists a pinned notice like any post, so even `notices = false` needs
it) and carries on where a short feed ends. Both give the same ids and URLs, so a switch
of source never announces a post again.

`FeedSources` is the relay's memory of each board's feed, kept for the life of the process:
where the feed was found (found once, not on every poll) and whether it failed (a broken or
vanished feed is one warning and then the list, tried again only every FEED_RETRY seconds).
Pure: the caller passes the time and does the requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from relay.core.boardfeed import FeedEntry
from relay.core.models import Post

SOURCES = ("auto", "list", "feed")
FEED_RETRY = 6 * 3600.0  # seconds before a failed feed is asked again


@dataclass(slots=True)
class FeedMemory:
    """One board's feed as this process knows it."""

    url: str | None = None  # where its entries were read last
    failed_at: datetime | None = None  # when it last failed; None while it works
    warned: bool = False  # the failure was logged as a warning (once per failure)
    in_use: bool = False  # the last successful read used it


class FeedSources:
    """Per board (keyed by id and list URL, so a reload with a new URL starts afresh)."""

    def __init__(self) -> None:
        self._boards: dict[tuple[str, str], FeedMemory] = {}

    def memory(self, board_id: str, url: str) -> FeedMemory:
        return self._boards.setdefault((board_id, url), FeedMemory())

    def worth_trying(self, board_id: str, url: str, source: str, now: datetime) -> bool:
        """Whether this poll asks the feed: never for "list", and not again soon after a
        failure (every poll would cost the failed requests and say nothing new)."""
        if source == "list":
            return False
        failed = self.memory(board_id, url).failed_at
        return failed is None or (now - failed).total_seconds() >= FEED_RETRY

    def failed(self, board_id: str, url: str, source: str, now: datetime) -> bool:
        """Record a failure; True when it is worth a warning: the first failure of a feed
        that was asked for (`source = "feed"`) or that was in use. An `auto` board whose
        site never had a feed on is not a warning: most sites turn feeds off."""
        memory = self.memory(board_id, url)
        warn = not memory.warned and (source == "feed" or memory.in_use)
        memory.failed_at, memory.in_use = now, False
        memory.warned = memory.warned or warn
        return warn

    def worked(self, board_id: str, url: str, feed_url: str) -> bool:
        """Record a success; True when the feed is back after a failure (worth a line)."""
        memory = self.memory(board_id, url)
        back = memory.failed_at is not None
        memory.url, memory.failed_at, memory.warned, memory.in_use = feed_url, None, False, True
        return back


def entry_post(entry: FeedEntry, tz: tzinfo) -> Post:
    """A feed entry as a list row would give it: the feed numbers nothing and marks no
    notice; its time is exact, in the board's zone."""
    published = entry.published.astimezone(tz) if entry.published is not None else None
    return Post(
        id=entry.id,
        url=entry.url,
        title=entry.title,
        author=entry.author,
        published=published,
        comments=entry.comments or 0,
        category=entry.category,
    )


def merge_feed(feed: Sequence[Post], listed: Sequence[Post]) -> list[Post]:
    """Page 1 as read from the feed and the list page: the list's rows (numbers, notices,
    counts, titles as listed) with the feed's exact time, category and author where the row
    lacks them, then what only the feed has (the list may be cached behind it)."""
    by_id = {p.id: p for p in feed}
    merged = [_enriched(row, by_id[row.id]) if row.id in by_id else row for row in listed]
    on_list = {p.id for p in listed}
    merged.extend(p for p in feed if p.id not in on_list)
    return merged


def _enriched(row: Post, entry: Post) -> Post:
    return replace(
        row,
        published=entry.published or row.published,
        category=row.category or entry.category,
        author=row.author or entry.author,
    )
