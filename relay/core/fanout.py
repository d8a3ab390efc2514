"""Which routes of a board get a delivery for a post: filters, categories and thresholds.

Pure: no I/O, no clock. `relay.core.decide` asks here once per poll; the state stores what
comes out (deliveries, held rows) in the poll's one transaction.

A new post (one the poll announces) goes to every route whose categories and filter accept
it and whose thresholds it passes; a route it is accepted by but whose thresholds it does not
pass holds it. A held post is judged again on each later poll that lists it, on the counts
that poll's list pages show (`thresholds.decide_held`), and released once: the held row is
deleted in the transaction that queues its delivery, so it is never announced twice.

Filters read what the list page gives (title, author, category). The excerpt comes from the
article page, read after the poll's decision: when a route matches "excerpt", the decision
asks for the article of every post it would announce, and `decide.with_excerpts` decides
those posts again once their articles are read (a post whose article could not be read is
judged with an empty excerpt).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from relay.core.models import Post, id_sort_key
from relay.core.routes import Route
from relay.core.state import Known
from relay.core.thresholds import Counts, HeldPost, Hold, decide_held, passes


@dataclass(frozen=True, slots=True)
class Fanout:
    """One new post's destinations: route keys delivered to now, and held for later."""

    deliver: tuple[str, ...]
    held: tuple[str, ...]


def post_fields(post: Post, excerpt: str = "") -> dict[str, str]:
    """The fields a route's filter reads (see the module docstring for the excerpt)."""
    return {
        "title": post.title,
        "author": post.author,
        "category": post.category,
        "excerpt": excerpt,
    }


def reads_excerpt(routes: Sequence[Route]) -> bool:
    """Whether any route's filter looks at the excerpt (then articles decide)."""
    return any("excerpt" in r.filter.match and not r.filter.accepts_everything for r in routes)


def counts_of(post: Post) -> Counts:
    return Counts(votes=post.votes, views=post.views, comments=post.comments)


def fan_out(post: Post, routes: Sequence[Route], excerpt: str = "") -> Fanout:
    """Where a new post goes, in the routes' order."""
    deliver: list[str] = []
    held: list[str] = []
    fields = post_fields(post, excerpt)
    for route in routes:
        if not route.wants(fields):
            continue
        if route.thresholds.active and not passes(counts_of(post), route.thresholds):
            held.append(route.key)
        else:
            deliver.append(route.key)
    return Fanout(tuple(deliver), tuple(held))


def released(
    board_id: str,
    listed: Sequence[Post],
    known: Mapping[str, Known],
    routes: Sequence[Route],
) -> tuple[tuple[str, str], ...]:
    """(post id, route key) of held posts that cross their route's thresholds on this poll,
    oldest post first. Only posts listed now count: one that fell off the pages stays held."""
    counts = {post.id: counts_of(post) for post in listed if post.id in known}
    pairs: list[tuple[str, str]] = []
    for route in routes:
        if not route.thresholds.active:
            continue
        rows = [
            HeldPost(board_id, post_id, route.key, Hold.HELD)
            for post_id in counts
            if route.key in known[post_id].held
        ]
        pairs += [(post_id, route.key) for post_id in decide_held(rows, counts, route.thresholds)]
    order = {route.key: index for index, route in enumerate(routes)}
    return tuple(sorted(pairs, key=lambda pair: (id_sort_key(pair[0]), order[pair[1]])))
