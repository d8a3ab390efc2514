"""The simulator's records: a post as a board stores it, a queued fault, a logged request, and
what one list page shows. Plain data, no behaviour: board.py holds the rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relay.core.clock import utc_now

__all__ = ["Fault", "PageView", "SimPost", "SimRequest", "utc_now"]


@dataclass(slots=True)
class SimPost:
    """A post as the simulated board stores it. `published` is aware (any zone)."""

    id: int
    title: str
    author: str
    published: datetime
    body_html: str
    comments: int = 0
    notice: bool = False
    image: str | None = None  # site path ("/files/...") of the first image in the body
    link: str | None = None  # the href list pages print for it instead of its article path
    category: str = ""  # 말머리 (ca_name); Gnuboard list pages print it when the board uses them


@dataclass(frozen=True, slots=True)
class Fault:
    """One queued misbehaviour: an HTTP status (kind "status") or one of FAULT_KINDS."""

    kind: str
    status: int = 200
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class SimRequest:
    """One request the simulator answered, for tests that count 304s and pages fetched."""

    method: str
    path: str  # path and query, as requested
    headers: dict[str, str]  # the request headers that matter to a poller
    status: int
    board: str | None
    fault: str | None  # the fault kind served instead of the page, if any
    at: datetime  # aware, from the simulator's clock, when the request arrived
    list_page: bool = False  # a board's list page (a poll), not an article, asset or feed


@dataclass(frozen=True, slots=True)
class PageView:
    """What one list page shows: notices, then (virtual number, post) rows, newest first."""

    page: int
    total_pages: int
    total_count: int
    notices: tuple[SimPost, ...]
    rows: tuple[tuple[int, SimPost], ...]
    current: int | None = None  # id of the open post, when an article sits above the list
