"""Which routes a post goes to, decided without I/O: filters, categories, thresholds held
until crossed (and never again), all inside `decide_poll`."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from relay.core.compose import route_index
from relay.core.decide import Listing, PollSettings, decide_poll, with_excerpts
from relay.core.fanout import fan_out, released
from relay.core.models import Article, Post
from relay.core.routes import expand_routes
from relay.core.state import BoardState, Known, Validators

NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
FIELDS = {"b": ("category", "votes", "views", "comments")}


def routes(*tables: dict[str, object]) -> tuple:  # type: ignore[type-arg]
    board = {"id": "b", "routes": list(tables)}
    return expand_routes([board], board_fields=FIELDS)["b"]


def post(pid: str, title: str, **extra: object) -> Post:
    return Post(id=pid, url=f"http://x/{pid}", title=title, number=int(pid), **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("table", "title", "category", "sent"),
    [
        ({"include": ["핫딜"]}, "오늘의 핫딜", "", True),
        ({"include": ["핫딜"]}, "오늘의 특가", "", False),
        ({"include": ["ｇａｌａｘｙ"]}, "Galaxy S25 특가", "", True),  # NFKC and case
        ({"include": ["re:^\\[\\d+%\\]"]}, "[30%] 할인", "", True),
        ({"include": ["re:^\\[\\d+%\\]"]}, "할인 [30%]", "", False),
        ({"exclude": ["품절", "종료"]}, "핫딜 (종료)", "", False),
        ({"exclude": ["품절"]}, "핫딜", "", True),
        ({"include": ["핫딜"], "exclude": ["품절"]}, "핫딜 품절", "", False),
        ({"categories": ["핫딜"]}, "아무 글", "핫딜", True),
        ({"categories": ["핫딜"]}, "아무 글", "질문", False),
        ({"include": ["삼성"], "match": ["category"]}, "글", "삼성전자", True),
    ],
)
def test_a_route_filters_new_posts(
    table: dict[str, object], title: str, category: str, sent: bool
) -> None:
    [route] = routes({"chat": "@c", **table})
    fanout = fan_out(post("1", title, category=category), [route])
    assert fanout.deliver == (("@c",) if sent else ())
    assert fanout.held == ()


def test_a_hostile_title_against_a_redos_pattern_stays_fast() -> None:
    [route] = routes({"chat": "@c", "include": ["re:(a+)+$"]})
    title = "a" * 50_000 + "!"
    started = time.perf_counter()
    assert fan_out(post("1", title), [route]).deliver == ()
    assert time.perf_counter() - started < 0.5


def test_a_post_below_a_threshold_is_held_then_announced_once_when_it_crosses() -> None:
    board_routes = routes({"chat": "@all"}, {"chat": "@hot", "min_votes": 10})
    settings = PollSettings(interval=60, routes=board_routes)
    state = BoardState("b", first_poll=NOW, baseline="1", last_success=NOW)

    def poll(votes: int, known: dict[str, Known]) -> tuple:  # type: ignore[type-arg]
        page = (post("2", "새 글", votes=votes), post("1", "옛 글"))
        listing = Listing(Validators(body_hash=str(votes)), pages=(page,), known=known)
        return decide_poll(state, listing, NOW, settings).changes  # type: ignore[return-value]

    first = poll(3, {"1": Known("옛 글", False)})
    [new] = first.new
    assert (new.routes, new.held) == (("@all",), ("@hot",))
    known = {"1": Known("옛 글", False), "2": Known("새 글", False, held=frozenset({"@hot"}))}
    assert poll(5, known).released == ()  # still below
    crossed = poll(12, known)
    assert crossed.released == (("2", "@hot"),) and crossed.new == ()
    # Released, its held row is gone: later polls, whatever the count, never announce again.
    after = {"1": Known("옛 글", False), "2": Known("새 글", False)}
    assert poll(50, after).released == ()


def test_a_held_post_that_left_the_pages_stays_held() -> None:
    [route] = routes({"chat": "@hot", "min_comments": 2})
    known = {"9": Known("t", False, held=frozenset({"@hot"}))}
    assert released("b", [post("8", "other", comments=9)], known, [route]) == ()
    assert released("b", [post("9", "t", comments=2)], known, [route]) == (("9", "@hot"),)


def test_a_route_matching_the_excerpt_is_decided_again_on_the_article() -> None:
    board_routes = routes({"chat": "@c", "include": ["라면"], "match": ["excerpt"]})
    settings = PollSettings(interval=60, routes=board_routes)
    state = BoardState("b", first_poll=NOW, baseline="1", last_success=NOW)
    page = (post("3", "글 셋"), post("2", "글 둘"), post("1", "옛 글"))
    listing = Listing(Validators(body_hash="x"), pages=(page,), known={"1": Known("옛", False)})
    intent = decide_poll(state, listing, NOW, settings)
    assert [p.id for p in intent.articles_wanted] == ["3", "2"]  # read before deciding
    articles = {"2": Article(excerpt="신라면 특가", text=""), "3": Article(excerpt="", text="")}
    decided = with_excerpts(intent.with_articles(articles), board_routes)
    assert [(n.post.id, n.announce, n.routes) for n in decided.new] == [
        ("2", True, ("@c",)),
        ("3", False, ()),
    ]


def test_a_topic_route_reads_the_rows_stored_under_its_bare_chat_before_routes() -> None:
    topic, other = routes({"chat": "-100", "message_thread_id": 7}, {"chat": "@x"})
    index = route_index([topic, other])
    assert index["-100"] is topic and index["-100#7"] is topic and index["@x"] is other
