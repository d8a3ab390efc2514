"""Thresholds on the counts a board shows: "tell me when a post gets hot", exactly once.

Pure: no I/O, no clock. It decides; the pipeline stores and sends.

The life of one (post, route) under a route with thresholds:

    first seen ──passes──▶ ANNOUNCED (a delivery now)
        │
        └─does not──▶ HELD ──a later poll shows it passing──▶ ANNOUNCED (a delivery then)

ANNOUNCED is final: a post whose votes fall and rise again is not announced twice, and the
state row is what says so, so the pipeline must flip HELD to ANNOUNCED in the same transaction
that creates the delivery (a crash then leaves both or neither). A held post is judged only on
counts from the pages polled now: one that fell off them (pushed to a page beyond max_pages,
or deleted) stays HELD and silent, as the issue asks ("as long as it is still on the pages
polled"); the pipeline may forget held rows together with the post.

Thresholds combine with AND: a route with `min_votes = 10` and `min_comments = 5` wants posts
that have both (a channel wanting either can use two routes to two topics). A count the board
did not show (None) meets no threshold: an unknown count is never evidence of a hot post.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from relay.core.models import id_sort_key


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A route's minimum counts; None means no threshold on that count."""

    min_votes: int | None = None
    min_views: int | None = None
    min_comments: int | None = None

    def __post_init__(self) -> None:
        for name in ("min_votes", "min_views", "min_comments"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 0):
                raise ValueError(f"{name}: {value!r} must be a whole number >= 0")

    @property
    def active(self) -> bool:
        """Whether any threshold is set; a route without one announces every post at once."""
        return any(v is not None for v in (self.min_votes, self.min_views, self.min_comments))


NO_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class Counts:
    """What a list page shows for one post at one poll; None where the board shows nothing."""

    votes: int | None = None  # 추천
    views: int | None = None  # 조회
    comments: int | None = None  # 댓글


def passes(counts: Counts, thresholds: Thresholds) -> bool:
    """Whether `counts` meet every threshold that is set (AND; unknown counts fail)."""
    pairs = (
        (thresholds.min_votes, counts.votes),
        (thresholds.min_views, counts.views),
        (thresholds.min_comments, counts.comments),
    )
    return all(need is None or (have is not None and have >= need) for need, have in pairs)


def crossed(before: Counts | None, now: Counts, thresholds: Thresholds) -> bool:
    """Whether the post passes now and did not before (`before` None: first seen now).

    Stateless, so it alone cannot promise "once": a post that dips below and climbs back
    crosses again. `decide_held` over stored `HeldPost` rows is what the pipeline uses.
    """
    return passes(now, thresholds) and (before is None or not passes(before, thresholds))


class Hold(StrEnum):
    """Where one (post, route) stands with respect to the route's thresholds."""

    HELD = "held"  # seen, not yet passing: watched on every poll while it is on the pages
    ANNOUNCED = "announced"  # a delivery was created: never again


@dataclass(frozen=True, slots=True)
class HeldPost:
    """The row the pipeline stores per (board, post, route) of a route with thresholds."""

    board_id: str
    post_id: str
    route_key: str  # relay.core.routes.Route.key
    state: Hold


def on_first_sight(counts: Counts, thresholds: Thresholds) -> Hold:
    """The state of a post just seen: ANNOUNCED (deliver it now) if it already passes."""
    return Hold.ANNOUNCED if passes(counts, thresholds) else Hold.HELD


def decide_held(
    held: Iterable[HeldPost], counts_now: Mapping[str, Counts], thresholds: Thresholds
) -> tuple[str, ...]:
    """The ids of held posts to announce now, oldest first.

    `held` are one route's rows of one board (ANNOUNCED rows are ignored, so passing every row
    is safe); `counts_now` maps post id to counts for the posts on the pages polled now. A
    post missing from `counts_now` is not announced. Raises ValueError if `held` mixes boards
    or routes, since the thresholds belong to exactly one route.
    """
    owners: set[tuple[str, str]] = set()
    chosen: set[str] = set()
    for row in held:
        owners.add((row.board_id, row.route_key))
        if len(owners) > 1:
            raise ValueError(f"decide_held: rows of several routes: {sorted(owners)}")
        if row.state is not Hold.HELD:
            continue
        counts = counts_now.get(row.post_id)
        if counts is not None and passes(counts, thresholds):
            chosen.add(row.post_id)
    return tuple(sorted(chosen, key=id_sort_key))
