"""relay.core.routes: the shorthand, board and global routes as one record, and their keys.

The key is what the state stores deliveries under, so the tests that matter most here are the
ones saying that rewriting a config (shorthand to route, reordering, editing a filter) keeps
every key, and that a key two routes would share is refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from relay.core.filters import compile_filter
from relay.core.models import LinkPreview
from relay.core.routes import (
    MessageFormat,
    Route,
    carried_over_keys,
    expand_routes,
    route_key,
)
from relay.core.thresholds import Thresholds

EVERYTHING = {"category", "votes", "views", "comments"}


def expand(
    boards: list[dict[str, Any]], routes: list[dict[str, Any]] | None = None, **kwargs: Any
) -> dict[str, tuple[Route, ...]]:
    kwargs.setdefault("board_fields", {b["id"]: EVERYTHING for b in boards})
    return expand_routes(boards, routes or [], **kwargs)


def test_the_chat_shorthand_is_one_route_with_todays_behaviour() -> None:
    [route] = expand([{"id": "news", "url": "https://b.example", "chat": "@news"}])["news"]
    assert route == Route(chat="@news")
    assert route.key == "@news"
    assert route.origin == "boards[0].chat"
    assert route.format is MessageFormat.TEXT and route.link_preview is LinkPreview.POST
    assert route.filter.accepts_everything and not route.thresholds.active
    assert route.digest_over == 0  # off: one message per post, as before routes


def test_shorthand_and_the_equivalent_route_are_equal_and_share_the_key() -> None:
    settings = {
        "template": "<b>{title}</b> {url}",
        "disable_notification": True,
        "link_preview": "none",
    }
    shorthand = expand([{"id": "a", "chat": -100123, "message_thread_id": 7, **settings}])
    upgraded = expand(
        [{"id": "a", "routes": [{"chat": -100123, "message_thread_id": 7, **settings}]}]
    )
    assert shorthand == upgraded
    assert shorthand["a"][0].key == upgraded["a"][0].key == "-100123#7"
    assert shorthand["a"][0].origin != upgraded["a"][0].origin  # only the error messages differ


def test_a_numeric_chat_keeps_the_spelling_deliveries_were_stored_under() -> None:
    """Before routes, deliveries carried str(chat): "-100123" for chat = -100123."""
    [route] = expand([{"id": "a", "chat": -100123}])["a"]
    assert route.chat == "-100123" and route.key == "-100123"


def test_a_board_without_chat_or_routes_sends_nowhere() -> None:
    assert expand([{"id": "feed-only"}]) == {"feed-only": ()}


def test_board_settings_are_defaults_for_its_routes() -> None:
    board = {
        "id": "a",
        "template": "{title}",
        "link_preview": "image",
        "routes": [{"chat": "@one"}, {"chat": "@two", "template": "{url}", "link_preview": "post"}],
    }
    one, two = expand([board])["a"]
    assert (one.template, one.link_preview) == ("{title}", LinkPreview.IMAGE)
    assert (two.template, two.link_preview) == ("{url}", LinkPreview.POST)


def test_every_route_key_is_read() -> None:
    table = {
        "chat": "@deals",
        "message_thread_id": 3,
        "format": "photo",
        "buttons": True,
        "digest_over": 10,
        "include": ["핫딜"],
        "exclude": ["re:종료|마감"],
        "match": ["title", "category"],
        "categories": ["핫딜", "ＰＣ"],
        "min_votes": 5,
        "min_comments": 2,
    }
    [route] = expand([{"id": "a", "routes": [table]}])["a"]
    assert route.format is MessageFormat.PHOTO and route.buttons and route.digest_over == 10
    assert route.filter == compile_filter(
        ["핫딜"], ["re:종료|마감"], ["title", "category"], key="x"
    )
    assert route.thresholds == Thresholds(min_votes=5, min_comments=2)
    assert route.categories == {"핫딜", "pc"}  # folded like keywords


def test_digest_over_defaults_to_the_telegram_setting() -> None:
    board = {"id": "a", "chat": "@a", "routes": [{"chat": "@b", "digest_over": 0}]}
    shorthand, explicit = expand([board], digest_over=10)["a"]
    assert shorthand.digest_over == 10 and explicit.digest_over == 0


def test_a_global_route_fans_out_to_the_boards_it_names() -> None:
    boards = [
        {"id": "a", "chat": "@a"},
        {"id": "b", "routes": [{"chat": "@b"}]},
        {"id": "c", "chat": "@c"},
    ]
    routes = [{"boards": ["a", "b"], "chat": "@all", "include": ["핫딜"]}]
    result = expand(boards, routes)
    assert [r.key for r in result["a"]] == ["@a", "@all"]
    assert [r.key for r in result["b"]] == ["@b", "@all"]
    assert [r.key for r in result["c"]] == ["@c"]
    assert result["a"][1] == result["b"][1] and result["a"][1].origin == "routes[0]"
    assert result["a"][1].wants({"title": "핫딜 라면"}) and not result["a"][1].wants({"title": "x"})


def test_a_global_route_takes_each_boards_defaults() -> None:
    boards = [{"id": "a", "template": "A {title}"}, {"id": "b"}]
    result = expand(boards, [{"boards": ["a", "b"], "chat": "@all"}])
    assert result["a"][0].template == "A {title}" and result["b"][0].template is None


def test_keys_survive_reordering_and_editing_routes() -> None:
    before = expand(
        [{"id": "a", "routes": [{"chat": "@x"}, {"chat": "@y", "message_thread_id": 2}]}]
    )
    after = expand(
        [
            {
                "id": "a",
                "routes": [
                    {"chat": "@y", "message_thread_id": 2, "include": ["핫딜"], "format": "photo"},
                    {"chat": "@x", "template": "{title}"},
                ],
            }
        ]
    )
    assert {r.key for r in before["a"]} == {r.key for r in after["a"]} == {"@x", "@y#2"}


def test_two_topics_of_one_chat_are_two_routes() -> None:
    board = {
        "id": "a",
        "chat": "-100",
        "routes": [
            {"chat": "-100", "message_thread_id": 1},
            {"chat": "-100", "message_thread_id": 2},
        ],
    }
    assert [r.key for r in expand([board])["a"]] == ["-100", "-100#1", "-100#2"]


DUPLICATES: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]], str]] = [
    (
        "shorthand and a route",
        [{"id": "a", "chat": "@x", "routes": [{"chat": "@x", "include": ["핫딜"]}]}],
        [],
        'boards[0] (id "a"): boards[0].chat and boards[0].routes[0] both send to chat "@x"',
    ),
    (
        "two routes, one topic",
        [{"id": "a", "routes": [{"chat": "@x", "message_thread_id": 4}] * 2}],
        [],
        'boards[0].routes[0] and boards[0].routes[1] both send to chat "@x" topic 4',
    ),
    (
        "a board route and a global one",
        [{"id": "a"}, {"id": "b", "routes": [{"chat": "@x"}]}],
        [{"boards": ["a", "b"], "chat": "@x"}],
        'boards[1] (id "b"): boards[1].routes[0] and routes[0] both send to chat "@x"',
    ),
]


@pytest.mark.parametrize(
    ("boards", "routes", "message"), [d[1:] for d in DUPLICATES], ids=[d[0] for d in DUPLICATES]
)
def test_duplicate_routes_are_refused(
    boards: list[dict[str, Any]], routes: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValueError) as error:
        expand(boards, routes)
    assert message in str(error.value)


BAD: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]], str]] = [
    ("unknown key", [{"id": "a", "routes": [{"chat": "@x", "filter": []}]}], [],
     'boards[0] (id "a"): routes[0].filter: unknown key'),
    ("route without chat", [{"id": "a", "routes": [{"include": ["x"]}]}], [],
     'boards[0] (id "a"): routes[0].chat: is required'),
    ("chat with a #", [{"id": "a", "chat": "@x#1"}], [],
     'boards[0] (id "a"): chat: \'@x#1\' must be'),
    ("thread without chat", [{"id": "a", "message_thread_id": 3}], [],
     'boards[0] (id "a"): message_thread_id needs chat'),
    ("thread zero", [{"id": "a", "routes": [{"chat": "@x", "message_thread_id": 0}]}], [],
     "routes[0].message_thread_id: 0 must be a whole number >= 1"),
    ("bad format", [{"id": "a", "routes": [{"chat": "@x", "format": "video"}]}], [],
     "routes[0].format: 'video' is not one of \"text\", \"photo\""),
    ("bad preview", [{"id": "a", "routes": [{"chat": "@x", "link_preview": "yes"}]}], [],
     "routes[0].link_preview: 'yes' is not one of"),
    ("buttons not a flag", [{"id": "a", "routes": [{"chat": "@x", "buttons": "yes"}]}], [],
     "routes[0].buttons: 'yes' must be true or false"),
    ("negative digest_over", [{"id": "a", "routes": [{"chat": "@x", "digest_over": -1}]}], [],
     "routes[0].digest_over: -1 must be a whole number >= 0"),
    ("bad regex", [{"id": "a", "routes": [{"chat": "@x", "include": ["ok", "re:(?=x)"]}]}], [],
     'boards[0] (id "a"): routes[0].include[1]: "re:(?=x)": RE2 cannot take it'),
    ("include not a list", [{"id": "a", "routes": [{"chat": "@x", "include": "핫딜"}]}], [],
     "routes[0].include: must be a list of strings"),
    ("empty match", [{"id": "a", "routes": [{"chat": "@x", "include": ["x"], "match": []}]}], [],
     "routes[0].match: names no field"),
    ("empty categories", [{"id": "a", "routes": [{"chat": "@x", "categories": []}]}], [],
     "routes[0].categories: names no category"),
    ("bad template", [{"id": "a", "routes": [{"chat": "@x", "template": "{nope}"}]}], [],
     'boards[0] (id "a"): routes[0].template: unknown placeholder {nope}'),
    ("global unknown board", [{"id": "a"}], [{"boards": ["a", "zz"], "chat": "@x"}],
     "routes[0].boards[1]: no board with id 'zz' (known: \"a\")"),
    ("global board twice", [{"id": "a"}], [{"boards": ["a", "a"], "chat": "@x"}],
     "routes[0].boards[1]: board 'a' is named twice"),
    ("global without boards", [{"id": "a"}], [{"chat": "@x"}],
     'routes[0]: boards = ["board id", ...] is required'),
    ("global unknown key", [{"id": "a"}], [{"boards": ["a"], "chat": "@x", "board": "a"}],
     "routes[0].board: unknown key"),
    ("board id twice", [{"id": "a"}, {"id": "a"}], [],
     'boards[1] (id "a"): board id "a" is used twice'),
    ("routes not tables", [{"id": "a", "routes": {"chat": "@x"}}], [],
     'boards[0] (id "a"): routes: must be a list of tables'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("boards", "routes", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_config_errors_name_the_key(
    boards: list[dict[str, Any]], routes: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValueError) as error:
        expand(boards, routes)
    assert message in str(error.value)


MISSING_FIELD: list[tuple[str, dict[str, Any], str]] = [
    ("categories", {"categories": ["핫딜"]}, "categories: this board's preset has no category"),
    ("match category", {"include": ["핫딜"], "match": ["category"]}, 'match: "category"'),
    ("min_votes", {"min_votes": 10}, "min_votes: this board's preset has no votes field"),
    ("min_views", {"min_views": 10}, "min_views: this board's preset has no views field"),
    ("min_comments", {"min_comments": 1}, "min_comments: this board's preset has no comments"),
]


@pytest.mark.parametrize(
    ("keys", "message"), [m[1:] for m in MISSING_FIELD], ids=[m[0] for m in MISSING_FIELD]
)
def test_a_route_asking_for_a_field_its_board_lacks_is_refused(
    keys: dict[str, Any], message: str
) -> None:
    boards = [{"id": "a"}, {"id": "b"}]
    fields: dict[str, set[str]] = {"a": EVERYTHING, "b": set()}
    expand(boards, [{"boards": ["a"], "chat": "@x", **keys}], board_fields=fields)  # a has it
    with pytest.raises(ValueError) as error:
        expand(boards, [{"boards": ["a", "b"], "chat": "@x", **keys}], board_fields=fields)
    assert str(error.value).startswith('boards[1] (id "b"): routes[0].')
    assert message in str(error.value)


def test_categories_are_compared_folded() -> None:
    [route] = expand([{"id": "a", "routes": [{"chat": "@x", "categories": ["핫딜", "PC"]}]}])["a"]
    assert route.wants({"title": "t", "category": "핫딜"})
    assert route.wants({"title": "t", "category": "ｐｃ "})
    assert not route.wants({"title": "t", "category": "잡담"})
    assert not route.wants({"title": "t"})


def test_route_key_format() -> None:
    assert route_key("@x", None) == "@x"
    assert route_key("-100123", 7) == "-100123#7"


def test_deliveries_stored_under_the_bare_chat_move_to_the_topic_route() -> None:
    """Before routes a board with chat + message_thread_id stored its rows under the chat."""
    [topic] = expand([{"id": "a", "chat": "@x", "message_thread_id": 5}])["a"]
    assert carried_over_keys([topic]) == {"@x": "@x#5"}
    both = expand([{"id": "a", "chat": "@x", "routes": [{"chat": "@x", "message_thread_id": 5}]}])
    assert carried_over_keys(both["a"]) == {}  # the bare chat is a route of its own
    two = expand(
        [
            {
                "id": "a",
                "routes": [
                    {"chat": "@x", "message_thread_id": 5},
                    {"chat": "@x", "message_thread_id": 6},
                ],
            }
        ]
    )
    assert carried_over_keys(two["a"]) == {}  # which topic the old rows were for is unknown
    assert carried_over_keys(expand([{"id": "a", "chat": "@x"}])["a"]) == {}


def test_a_bad_telegram_default_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^\[telegram\] digest_over"):
        expand([{"id": "a"}], digest_over=-1)
