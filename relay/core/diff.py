"""Which listed posts are new, which to announce, which were retitled; whether to read on.

Pure: it sees parsed pages and what the state already knows, and returns a plan; the poll's
decider (`decide`) turns the plan into the intent the state records (decide, then act).

Rules, each guarding against a trap of these boards:
- New means an id not seen before on this board. The 번호 column only orders posts: it is a
  virtual number that shifts when an older post is deleted.
- First poll: everything on page 1 is recorded (and enters the feed); only the `backfill`
  newest are announced, so a new channel is not flooded.
- A post older than everything recorded at the first poll (the *baseline*) is history pulled
  up from page 2 by deletions: recorded, never announced.
- A pinned notice seen once is never announced again; with `notices = false` notices are
  left out entirely.
- A known post whose title changed is an edit (the feed entry's `updated` moves, its sent
  messages are edited), not news; so is one whose category changed from one value to
  another. A category that appears where none was recorded (an older release did not read
  categories, the board's feed gave none) is stored without an edit: reading categories
  for the first time must not edit every message ever sent. One that vanishes is kept.
- A burst between two polls pushes unseen posts onto page 2 and beyond: the next page is
  read while every post on this one is new, up to `max_pages`; a walk cut short there says
  how many posts may have been missed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from relay.core.models import Post, id_sort_key
from relay.core.state import Known


class Walk(Enum):
    """Where a poll's walk through the list pages stands after the last page read."""

    DONE = "done"  # a known post was reached (or it is the first poll): stop
    NEXT = "next"  # every post was new: read the next page
    CUT_SHORT = "cut short"  # every post was new, but max_pages were read: stop and warn


@dataclass(frozen=True, slots=True)
class PollPlan:
    new: tuple[Post, ...]  # oldest first
    announce: frozenset[str]  # ids of new posts that get a delivery
    retitled: tuple[Post, ...]  # known posts edited on the board: title or category
    baseline: str | None  # the board's history boundary after this poll
    categorized: tuple[Post, ...] = ()  # known posts recorded without a category, now shown


def _wanted(posts: Sequence[Post], *, notices: bool) -> list[Post]:
    return [p for p in posts if notices or not p.notice]


def next_page(
    pages: Sequence[Sequence[Post]],
    known: Mapping[str, Known],
    *,
    first_poll: bool,
    max_pages: int,
) -> Walk:
    """Follow the next page while every (non-notice) post on the last one is new.

    Notices repeat on every page, so they say nothing about where the known posts begin.
    The first poll reads page 1 only: older pages are history.
    """
    regular = [p for p in pages[-1] if not p.notice] if pages else []
    if first_poll or not regular or any(p.id in known for p in regular):
        return Walk.DONE
    return Walk.NEXT if len(pages) < max_pages else Walk.CUT_SHORT


def plan_poll(
    pages: Sequence[Sequence[Post]],
    known: Mapping[str, Known],
    *,
    first_poll: bool,
    baseline: str | None,
    backfill: int,
    notices: bool,
) -> PollPlan:
    listed: dict[str, Post] = {}
    for page in pages:
        for post in _wanted(page, notices=notices):
            listed.setdefault(post.id, post)
    new = sorted((p for p in listed.values() if p.id not in known), key=lambda p: p.sort_key)
    retitled = tuple(p for p in listed.values() if p.id in known and _edited(p, known[p.id]))
    edited = {p.id for p in retitled}
    categorized = tuple(
        p
        for p in listed.values()
        if p.id in known and p.category and not known[p.id].category and p.id not in edited
    )
    if first_poll:
        regular = [p for p in new if not p.notice]
        baseline = min((p.id for p in regular), key=id_sort_key, default=None)
        announce = (
            frozenset(p.id for p in regular[len(regular) - backfill :]) if backfill else frozenset()
        )
    else:
        announce = frozenset(p.id for p in new if not _is_history(p.id, baseline))
    return PollPlan(tuple(new), announce, retitled, baseline, categorized)


def _edited(post: Post, was: Known) -> bool:
    """The title changed, or the category from one value to another (see the module's rules)."""
    if post.title != was.title:
        return True
    return bool(post.category and was.category) and post.category != was.category


def _is_history(post_id: str, baseline: str | None) -> bool:
    """Older than everything the first poll saw. Only numeric ids can be ordered by age:
    for any other id scheme nothing is history, so nothing new is ever held back."""
    if baseline is None or not (post_id.isdigit() and baseline.isdigit()):
        return False
    return int(post_id) < int(baseline)


def missing_warning(last_page: Sequence[Post], max_pages: int, newest_known: int | None) -> str:
    """Say how many posts may be missing, estimated from the 번호 column when it exists."""
    numbers = [p.number for p in last_page if p.number is not None]
    oldest = min(last_page, key=lambda p: p.sort_key)
    estimate = ""
    if numbers and newest_known is not None and min(numbers) - 1 > newest_known:
        estimate = f" (about {min(numbers) - 1 - newest_known} by the 번호 column)"
    return (
        f"every post up to page {max_pages} (max_pages) was new: posts older than id {oldest.id} "
        f"may have been missed{estimate}; raise max_pages or poll more often"
    )
