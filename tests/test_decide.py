"""The whole decision of a poll, as a table: stored state and listed pages in, one intent out.

Each case is named after the trap it guards against. No I/O: `decide_poll` is pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import make_config

from relay.core.decide import (
    Listing,
    PollSettings,
    decide_poll,
    failed_outcome,
    page_unchanged,
    poll_outcome,
    request_validators,
)
from relay.core.diff import Walk
from relay.core.errors import FetchError, LayoutError, StateError
from relay.core.models import Article, Post, StoredPost
from relay.core.state import BoardState, Known, PollIntent, Validators
from relay.core.status import board_health

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 2, 5, 6, 0, tzinfo=UTC)  # 15:00 in Seoul
EARLIER = NOW - timedelta(minutes=2)
ANSWER = Validators(etag='"v2"', last_modified=None, body_hash="new-hash")
SETTINGS = PollSettings(
    interval=120, backfill=0, max_pages=5, feed_entries=50, timezone=SEOUL, chats=("@c",)
)
FIRST = BoardState("b")
POLLED = BoardState(
    "b", first_poll=EARLIER, baseline="101", last_success=EARLIER, body_hash="old-hash"
)


def post(pid: int, number: int | None = None, *, notice: bool = False, **fields: object) -> Post:
    return Post(
        id=str(pid),
        url=f"http://b/{pid}",
        title=str(fields.get("title", f"t{pid}")),
        number=number,
        notice=notice,
        published=fields.get("published"),  # type: ignore[arg-type]
    )


def page_of(ids: list[int], total: int, notices: tuple[int, ...] = ()) -> tuple[Post, ...]:
    """A page as the engines render it: notices on top, then virtual numbers counting down."""
    return tuple(post(n, notice=True) for n in notices) + tuple(
        post(pid, total - i) for i, pid in enumerate(ids)
    )


def known_of(*ids: int, notices: tuple[int, ...] = ()) -> dict[str, Known]:
    return {str(i): Known(f"t{i}", i in notices) for i in (*ids, *notices)}


def listing(
    *pages: tuple[Post, ...], known: dict[str, Known] | None = None, **kw: object
) -> Listing:
    return Listing(ANSWER, pages=pages, known=known or {}, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    state: BoardState
    listing: Listing
    settings: PollSettings = SETTINGS
    now: datetime = NOW
    new: tuple[str, ...] = ()  # ids recorded, oldest first
    announce: tuple[str, ...] = ()
    articles: tuple[str, ...] | None = None  # ids whose article is wanted; None: all new
    retitled: tuple[str, ...] = ()
    baseline: str | None = "101"
    warning: str = ""  # a fragment of the one warning expected
    published: dict[str, datetime | None] = field(default_factory=dict)


CASES = {
    "first poll records page one and announces only the backfill": Case(
        FIRST,
        listing(page_of([105, 104, 103, 102, 101], 5, notices=(50,))),
        settings=PollSettings(interval=120, backfill=2, chats=("@c",)),
        new=("50", "101", "102", "103", "104", "105"),
        announce=("104", "105"),
    ),
    "first poll without a chat announces nothing and still fills the feed": Case(
        FIRST,
        listing(page_of([103, 102, 101], 3)),
        settings=PollSettings(interval=120, backfill=2),
        new=("101", "102", "103"),
    ),
    "first poll of a huge page reads articles for the feed only, not one per row": Case(
        FIRST,
        listing(page_of(list(range(100_000, 0, -1)), 100_000)),
        settings=PollSettings(interval=120, backfill=3, feed_entries=5, chats=("@c",)),
        new=tuple(str(i) for i in range(1, 100_001)),
        announce=("99998", "99999", "100000"),
        articles=("99996", "99997", "99998", "99999", "100000"),
        baseline="1",
    ),
    "first poll with more backfill than feed entries reads the announced articles": Case(
        FIRST,
        listing(page_of([105, 104, 103, 102, 101], 5)),
        settings=PollSettings(interval=120, backfill=4, feed_entries=2, chats=("@c",)),
        new=("101", "102", "103", "104", "105"),
        announce=("102", "103", "104", "105"),
        articles=("102", "103", "104", "105"),
    ),
    "first poll keeps date-only times as the board printed them": Case(
        FIRST,
        listing((post(101, 1, published=datetime(2025, 2, 5, tzinfo=SEOUL)),)),
        new=("101",),
        published={"101": datetime(2025, 2, 5, tzinfo=SEOUL)},
    ),
    "new posts come oldest first and are all announced": Case(
        POLLED,
        listing(page_of([108, 107, 106, 105, 104], 8), known=known_of(104, 105)),
        new=("106", "107", "108"),
        announce=("106", "107", "108"),
    ),
    "virtual numbers shifting after a delete make no miss and no duplicate": Case(
        # 103 is deleted: 104 and 105 show the numbers 103 and 104 had; 106 shows 105's.
        POLLED,
        listing(page_of([106, 105, 104, 102, 101], 5), known=known_of(101, 102, 103, 104, 105)),
        new=("106",),
        announce=("106",),
    ),
    "notices repeating on every page are not new again": Case(
        POLLED,
        listing(page_of([102, 101], 2, notices=(7,)), known=known_of(101, 102, notices=(7,))),
    ),
    "a new notice is announced once": Case(
        POLLED,
        listing(page_of([102, 101], 2, notices=(103,)), known=known_of(101, 102)),
        new=("103",),
        announce=("103",),
    ),
    "notices = false leaves notices out entirely": Case(
        POLLED,
        listing(page_of([102, 101], 2, notices=(103,)), known=known_of(101, 102)),
        settings=PollSettings(interval=120, notices=False, chats=("@c",)),
    ),
    "history pulled up below the baseline is recorded, never announced": Case(
        BoardState("b", first_poll=EARLIER, baseline="102", last_success=EARLIER),
        listing(page_of([105, 104, 103, 102, 99], 6), known=known_of(102, 103, 104, 105)),
        new=("99",),
        baseline="102",
    ),
    "history outside the feed costs no article request": Case(
        BoardState("b", first_poll=EARLIER, baseline="102", last_success=EARLIER),
        listing(page_of([110, 109, 99, 98], 4), known=known_of(109)),
        settings=PollSettings(interval=120, feed_entries=2, chats=("@c",)),
        new=("98", "99", "110"),
        announce=("110",),
        articles=("99", "110"),
        baseline="102",
    ),
    "a retitled known post is an edit, not news": Case(
        POLLED,
        listing((post(102, 2, title="고친 제목"), post(101, 1)), known=known_of(101, 102)),
        retitled=("102",),
    ),
    "a burst over max_pages is recorded and warns how many may be missing": Case(
        POLLED,
        listing(
            page_of([120, 119], 40),
            page_of([118, 117], 38),
            known=known_of(100),
            walk=Walk.CUT_SHORT,
            newest_known_number=20,
        ),
        settings=PollSettings(interval=120, max_pages=2, chats=("@c",)),
        new=("117", "118", "119", "120"),
        announce=("117", "118", "119", "120"),
        warning="about 16",
    ),
    "a later poll's date-only post of today takes the time it was first seen": Case(
        POLLED,
        listing(
            (post(102, 2, published=datetime(2025, 2, 5, tzinfo=SEOUL)), post(101, 1)),
            known=known_of(101),
        ),
        new=("102",),
        announce=("102",),
        published={"102": NOW.astimezone(SEOUL)},
    ),
    "a later poll's date-only post of another day keeps its date": Case(
        POLLED,
        listing(
            (post(102, 2, published=datetime(2025, 2, 4, tzinfo=SEOUL)), post(101, 1)),
            known=known_of(101),
        ),
        new=("102",),
        announce=("102",),
        published={"102": datetime(2025, 2, 4, tzinfo=SEOUL)},
    ),
    "a later poll's post with a real time keeps it": Case(
        POLLED,
        listing(
            (post(102, 2, published=datetime(2025, 2, 5, 9, 30, tzinfo=SEOUL)), post(101, 1)),
            known=known_of(101),
        ),
        new=("102",),
        announce=("102",),
        published={"102": datetime(2025, 2, 5, 9, 30, tzinfo=SEOUL)},
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_changed_page_becomes_one_intent(case: Case) -> None:
    intent = decide_poll(case.state, case.listing, case.now, case.settings)
    assert intent.changes is not None and intent.stamp and intent.at == case.now
    assert tuple(n.post.id for n in intent.new) == case.new
    assert tuple(n.post.id for n in intent.new if n.announce) == case.announce
    wanted = case.new if case.articles is None else case.articles
    assert tuple(p.id for p in intent.articles_wanted) == tuple(reversed(wanted))  # newest first
    assert tuple(p.id for p in intent.retitled) == case.retitled
    assert intent.changes.baseline == case.baseline
    assert intent.changes.validators == ANSWER
    assert intent.changes.chats == case.settings.chats
    assert intent.pages == len(case.listing.pages)
    if case.warning:
        [warning] = intent.warnings
        assert case.warning in warning and "max_pages" in warning
    else:
        assert intent.warnings == ()
    times = {n.post.id: n.post.published for n in intent.new}
    assert {k: times[k] for k in case.published} == case.published


STAMPS = {
    "an unchanged poll soon after the last stamp writes nothing": (
        BoardState("b", first_poll=EARLIER, last_success=NOW - timedelta(seconds=179)),
        False,
    ),
    "an unchanged poll 1.5 intervals after the last stamp writes its time": (
        BoardState("b", first_poll=EARLIER, last_success=NOW - timedelta(seconds=181)),
        True,
    ),
    "an unchanged poll of a failing board clears the count at once": (
        BoardState("b", first_poll=EARLIER, last_success=NOW, failures=2),
        True,
    ),
    "an unchanged poll with no success on record writes its time": (
        BoardState("b", first_poll=EARLIER),
        True,
    ),
}


@pytest.mark.parametrize(("state", "stamp"), STAMPS.values(), ids=STAMPS.keys())
def test_an_unchanged_page_records_only_the_time_and_only_when_due(
    state: BoardState, stamp: bool
) -> None:
    intent = decide_poll(state, Listing(ANSWER, unchanged=True), NOW, SETTINGS)
    assert intent == PollIntent(at=NOW, stamp=stamp)  # no posts, validators kept, 0 pages


def test_a_shared_state_records_every_unchanged_polls_time() -> None:
    # The board's next owner schedules its first poll from the stored time.
    state = BoardState("b", first_poll=EARLIER, last_success=NOW - timedelta(seconds=1))
    settings = replace(SETTINGS, stamp_always=True)
    assert decide_poll(state, Listing(ANSWER, unchanged=True), NOW, settings).stamp


def test_stamping_unchanged_polls_never_makes_a_healthy_board_look_stale(tmp_path: Path) -> None:
    # The two rules are one: what the state records of unchanged polls must always satisfy
    # the health check that reads it, for polls at 90-100% of the interval (the jitter).
    config = make_config(tmp_path, [{"id": "b", "url": "http://127.0.0.1:9/b", "interval": "2m"}])
    settings = PollSettings(interval=config.boards[0].interval)
    state = BoardState("b", first_poll=NOW, last_success=NOW)
    at, stamps = NOW, 0
    for i in range(200):
        at += timedelta(seconds=settings.interval * (0.9 + 0.1 * (i % 3) / 2))
        [health] = board_health(config, {"b": state.last_success}, at)  # the oldest it gets
        assert health.ok, (i, health.reason)
        intent = decide_poll(state, Listing(ANSWER, unchanged=True), at, settings)
        if intent.stamp:
            state = BoardState("b", first_poll=NOW, last_success=at)
            stamps += 1
    assert 0 < stamps <= 100  # a quiet board skips at least every other write


def test_first_poll_asks_without_validators_and_later_polls_with_them() -> None:
    assert request_validators(BoardState("b", etag='"v1"', body_hash="h")) == Validators()
    stored = BoardState("b", first_poll=EARLIER, etag='"v1"', last_modified="x", body_hash="h")
    assert request_validators(stored) == Validators('"v1"', "x", "h")


def test_a_page_is_unchanged_on_304_or_the_same_body_but_never_on_the_first_poll() -> None:
    same = Validators(body_hash="old-hash")
    assert page_unchanged(POLLED, ANSWER, not_modified=True)
    assert page_unchanged(POLLED, same, not_modified=False)
    assert not page_unchanged(POLLED, ANSWER, not_modified=False)
    assert not page_unchanged(BoardState("b", body_hash="old-hash"), same, not_modified=False)


def test_articles_read_join_the_intent_and_the_others_stay_missing() -> None:
    intent = decide_poll(
        POLLED, listing(page_of([103, 102, 101], 3), known=known_of(101)), NOW, SETTINGS
    )
    article = Article("요약", "본문")
    joined = intent.with_articles({"103": article})
    assert [(n.post.id, n.article) for n in joined.new] == [("102", None), ("103", article)]
    assert intent.with_articles({}) is intent


@pytest.mark.parametrize(
    ("error", "reason", "retry_after"),
    [
        (FetchError("x: HTTP 503", url="x", reason="http 503", retry_after=30), "http 503", 30),
        (LayoutError("board b: no rows", url="x", selector="tr"), "layout", None),
        (StateError("state.db: cannot write the state file: disk full"), "state", None),
    ],
)
def test_every_failure_becomes_the_same_kind_of_outcome(
    error: Exception, reason: str, retry_after: float | None
) -> None:
    outcome = failed_outcome("b", error, 1200)  # type: ignore[arg-type]
    assert not outcome.ok and outcome.reason == reason and outcome.retry_after == retry_after
    assert outcome.error == str(error) and outcome.elapsed_ms == 1200 and not outcome.quiet


def test_a_changed_page_with_nothing_new_is_a_quiet_outcome() -> None:
    # A visitor counter changes the body on every poll: that is not news worth an INFO line.
    intent = decide_poll(POLLED, listing(page_of([101], 1), known=known_of(101)), NOW, SETTINGS)
    outcome = poll_outcome("b", intent, [], 10)
    assert outcome.ok and not outcome.unchanged and outcome.quiet
    fresh = decide_poll(POLLED, listing(page_of([102, 101], 2), known=known_of(101)), NOW, SETTINGS)
    stored = StoredPost("b", "102", "http://b/102", "t102", 2, "", None, NOW, NOW)
    outcome = poll_outcome("b", fresh, [stored], 10)
    assert outcome.new == (stored,) and outcome.announced == 1 and not outcome.quiet
