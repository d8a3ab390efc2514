"""What is new, as a specification: the traps of virtual numbers, notices, pages."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core.decide import Listing, PollSettings, decide_poll
from relay.core.diff import Walk, missing_warning, next_page, plan_poll
from relay.core.models import Post
from relay.core.state import BoardState, Known, Validators


def post(pid: int, number: int | None = None, *, notice: bool = False, title: str = "") -> Post:
    return Post(
        id=str(pid), url=f"http://b/{pid}", title=title or f"t{pid}", number=number, notice=notice
    )


def page_of(ids: list[int], total: int, notices: tuple[int, ...] = ()) -> list[Post]:
    """A page as the engines render it: notices on top, then virtual numbers counting down."""
    return [post(n, notice=True) for n in notices] + [
        post(pid, total - i) for i, pid in enumerate(ids)
    ]


def known_of(*ids: int) -> dict[str, Known]:
    return {str(i): Known(title=f"t{i}", notice=False) for i in ids}


def test_first_poll_records_everything_and_announces_only_backfill() -> None:
    page = page_of([105, 104, 103, 102, 101], total=5, notices=(50,))
    plan = plan_poll([page], {}, first_poll=True, baseline=None, backfill=2, notices=True)
    assert [p.id for p in plan.new] == ["50", "101", "102", "103", "104", "105"]
    assert plan.announce == {"104", "105"}
    assert plan.baseline == "101"


def test_new_posts_come_oldest_first() -> None:
    page = page_of([108, 107, 106, 105, 104], total=8)
    plan = plan_poll(
        [page],
        known_of(104, 105),
        first_poll=False,
        baseline="101",
        backfill=0,
        notices=True,
    )
    assert [p.id for p in plan.new] == ["106", "107", "108"]
    assert plan.announce == {"106", "107", "108"}


def test_deleted_post_renumbers_newer_ones_without_miss_or_duplicate() -> None:
    # 103 is deleted: 104 and 105 now show the numbers 103 and 104 had; 106 is new and shows
    # the number 105 had. Keyed on numbers, 106 would look known and 105 would look new.
    page = page_of([106, 105, 104, 102, 101], total=5)
    plan = plan_poll(
        [page],
        known_of(101, 102, 103, 104, 105),
        first_poll=False,
        baseline="101",
        backfill=0,
        notices=True,
    )
    assert [p.id for p in plan.new] == ["106"] and plan.announce == {"106"}


def test_history_pulled_up_from_page_two_is_recorded_not_announced() -> None:
    page = page_of([105, 104, 103, 102, 99], total=6)  # 101 deleted: 99 rises onto page 1
    plan = plan_poll(
        [page],
        known_of(102, 103, 104, 105),
        first_poll=False,
        baseline="102",
        backfill=0,
        notices=True,
    )
    assert [p.id for p in plan.new] == ["99"] and plan.announce == frozenset()


def test_a_notice_seen_once_is_never_new_again_and_notices_can_be_left_out() -> None:
    page = page_of([102, 101], total=2, notices=(7,))
    known = known_of(101, 102) | {"7": Known("t7", True)}
    plan = plan_poll([page], known, first_poll=False, baseline="101", backfill=0, notices=True)
    assert plan.new == ()
    fresh_notice = page_of([102, 101], total=2, notices=(103,))
    plan = plan_poll(
        [fresh_notice],
        known_of(101, 102),
        first_poll=False,
        baseline="101",
        backfill=0,
        notices=False,
    )
    assert plan.new == ()


def test_edited_title_is_an_update_not_a_new_post() -> None:
    page = [post(102, 2, title="고친 제목"), post(101, 1)]
    plan = plan_poll(
        [page],
        known_of(101, 102),
        first_poll=False,
        baseline="101",
        backfill=0,
        notices=True,
    )
    assert plan.new == () and [p.id for p in plan.retitled] == ["102"]


@pytest.mark.parametrize(
    ("recorded", "shown", "edited", "stored"),
    [
        ("잡담", "질문", True, False),  # moved to another category: its messages are edited
        ("", "질문", False, True),  # recorded before categories were read: stored, no edit
        ("잡담", "", False, False),  # the page (or the feed) shows none now: kept, no edit
        ("잡담", "잡담", False, False),
        ("", "", False, False),
    ],
)
def test_a_category_change_is_an_edit_only_from_one_value_to_another(
    recorded: str, shown: str, edited: bool, stored: bool
) -> None:
    page = [replace(post(102, 2), category=shown), post(101, 1)]
    known = known_of(101) | {"102": Known(title="t102", notice=False, category=recorded)}
    plan = plan_poll([page], known, first_poll=False, baseline="101", backfill=0, notices=True)
    assert [p.id for p in plan.retitled] == (["102"] if edited else [])
    assert [p.id for p in plan.categorized] == (["102"] if stored else [])


def test_a_retitle_that_also_shows_a_first_category_is_one_edit() -> None:
    page = [replace(post(102, 2, title="고친 제목"), category="질문")]
    known = {"102": Known(title="t102", notice=False)}
    plan = plan_poll([page], known, first_poll=False, baseline="101", backfill=0, notices=True)
    assert [p.id for p in plan.retitled] == ["102"] and plan.categorized == ()


def test_pages_are_followed_while_everything_is_new_but_not_on_the_first_poll() -> None:
    page = page_of([110, 109], total=10, notices=(1,))
    assert next_page([page], known_of(100), first_poll=False, max_pages=5) is Walk.NEXT
    assert next_page([page], known_of(109), first_poll=False, max_pages=5) is Walk.DONE
    assert next_page([page], {}, first_poll=True, max_pages=5) is Walk.DONE
    empty = page_of([], 0, notices=(1,))
    assert next_page([empty], {}, first_poll=False, max_pages=5) is Walk.DONE


def test_max_pages_warning_says_how_many_may_be_missing() -> None:
    pages = [page_of([120, 119], total=40), page_of([118, 117], total=38)]
    assert next_page(pages, known_of(100), first_poll=False, max_pages=2) is Walk.CUT_SHORT
    warning = missing_warning(pages[-1], max_pages=2, newest_known=20)
    assert "max_pages" in warning and "117" in warning
    assert "about 16" in warning


NOW = datetime(2025, 2, 5, 6, 0, tzinfo=UTC)


def simulate(
    events: list[tuple[str, int]], page_size: int, max_pages: int
) -> tuple[list[str], set[int], set[int]]:
    """Drive the decider like the poll pipeline does over a board that grows and loses posts.

    Returns the announced ids in order, the ids added after the first poll, and the ids of
    posts deleted before any poll could have seen them.
    """
    board = list(range(1, 31))  # ids, oldest first
    next_id = 31
    known: dict[str, Known] = {}
    state = BoardState("b")
    poll_settings = PollSettings(interval=60, max_pages=max_pages, chats=("@c",))
    announced: list[str] = []
    added: set[int] = set()
    unseen_deleted: set[int] = set()
    for kind, amount in [("poll", 0), *events, ("poll", 0)]:
        if kind == "add":
            for _ in range(amount):
                board.append(next_id)
                added.add(next_id)
                next_id += 1
        elif kind == "delete" and board:
            victim = board[amount % len(board)]
            board.remove(victim)
            if str(victim) not in known:
                unseen_deleted.add(victim)
        else:
            newest_first = board[::-1]
            pages = [[post(i) for i in newest_first[:page_size]]]
            seen = dict(known)
            first_poll = state.first_poll is None
            while next_page(pages, seen, first_poll=first_poll, max_pages=max_pages) is Walk.NEXT:
                start = len(pages) * page_size
                pages.append([post(i) for i in newest_first[start : start + page_size]])
            listing = Listing(Validators(), pages=tuple(map(tuple, pages)), known=seen)
            intent = decide_poll(state, listing, NOW, poll_settings)
            for new in intent.new:
                known[new.post.id] = Known(new.post.title, new.post.notice)
            announced += [n.post.id for n in intent.new if n.announce]
            assert intent.changes is not None
            state = BoardState("b", first_poll=NOW, baseline=intent.changes.baseline)
    return announced, added, unseen_deleted


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["add", "delete", "poll"]), st.integers(0, 12)), max_size=40)
)
def test_every_new_id_is_announced_exactly_once_whatever_the_deletes_and_shifts(
    events: list[tuple[str, int]],
) -> None:
    # Between two polls at most 12 * 40 posts may arrive; 5 pages of 10 hold only 50, so
    # keep bursts within reach: the invariant holds for what max_pages can see.
    bounded: list[tuple[str, int]] = []
    burst = 0
    for kind, amount in events:
        if kind == "add":
            amount = min(amount, 45 - burst)
            burst += amount
        elif kind == "poll":
            burst = 0
        bounded.append((kind, amount))
    announced, added, unseen_deleted = simulate(bounded, page_size=10, max_pages=5)
    assert len(announced) == len(set(announced)), "an id was announced twice"
    assert {int(i) for i in announced} == added - unseen_deleted


def test_page_urls_per_engine() -> None:
    from relay.core.engines import CUSTOM, GNUBOARD, RHYMIX, page_url

    assert page_url("https://s.kr/ranknews", 3, RHYMIX) == "https://s.kr/ranknews/page/3"
    assert page_url("https://s.kr/index.php?mid=news", 2, RHYMIX) == (
        "https://s.kr/index.php?mid=news&page=2"
    )
    assert page_url("https://s.kr/bbs/board.php?bo_table=free&page=1", 4, GNUBOARD) == (
        "https://s.kr/bbs/board.php?bo_table=free&page=4"
    )
    assert page_url("https://s.kr/list", 1, CUSTOM) == "https://s.kr/list"
    custom = CUSTOM.merged({"page_param": "p"})
    assert page_url("https://s.kr/list?x=1", 2, custom) == "https://s.kr/list?x=1&p=2"


def test_ids_that_are_not_numbers_are_never_held_back_as_history() -> None:
    page = [post_with_id("zeta"), post_with_id("alpha")]
    plan = plan_poll([page], {}, first_poll=False, baseline="mid", backfill=0, notices=True)
    assert plan.announce == {"zeta", "alpha"}


def post_with_id(pid: str) -> Post:
    return Post(id=pid, url=f"http://b/{pid}", title=pid)


def test_post_urls_lose_list_state_but_keep_the_rest_byte_for_byte() -> None:
    from relay.core.parse import canonical_post_url

    assert canonical_post_url("https://s.kr/news/123") == "https://s.kr/news/123"
    assert (
        canonical_post_url(
            "https://s.kr/bbs/board.php?bo_table=free&wr_id=9&page=2&sfl=wr_subject&stx=%B0%A1#c"
        )
        == "https://s.kr/bbs/board.php?bo_table=free&wr_id=9"
    )
    assert canonical_post_url("https://s.kr/index.php?mid=a&document_srl=5&page=3") == (
        "https://s.kr/index.php?mid=a&document_srl=5"
    )
    assert (
        canonical_post_url("https://s.kr/v?id=%EA%B0%80&no=1") == "https://s.kr/v?id=%EA%B0%80&no=1"
    )
    assert canonical_post_url("https://s.kr/v?page=2") == "https://s.kr/v"
