"""Routes: where a board's posts go, and the config shorthand expanded into them.

Pure: no I/O. Reads plain mappings (TOML tables, or a schema's dump of them) and knows nothing
of how the config file is found, nor of sending.

Three ways to write a route, one record:
- a board's `chat` key (with its `message_thread_id`, `template`, `disable_notification` and
  `link_preview`) is one route, exactly today's behaviour;
- `[[boards.routes]]` tables add routes to their board;
- a global `[[routes]]` table with `boards = ["id", ...]` adds one route to each board named.
A board's `template`, `disable_notification` and `link_preview` are defaults for every route of
the board (its own and the global ones) that does not set them; `digest_over` defaults to
`[telegram] digest_over` (0: off, one message per post).

The route key, what the state stores deliveries and held posts under: the chat, as the config
spells it (`"@channel"`, `"-100123"`), and `"#<thread>"` after it for a forum topic:
`"-100123#7"`. It is derived from the destination alone, never from a route's position or
its other keys, so that reordering routes, editing a filter or a template, or rewriting a
board's `chat` as an equivalent `[[boards.routes]]` keeps every pending and sent delivery; and
two routes of one board with one key are refused, since they would share one delivery row.
Before routes, deliveries were stored under the chat alone even for a topic: see
`carried_over_keys`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from relay.core.filters import ACCEPT_ALL, DEFAULT_MATCH, PostFilter, compile_filter, fold
from relay.core.message import validate_template
from relay.core.models import LinkPreview
from relay.core.thresholds import NO_THRESHOLDS, Thresholds

ROUTE_KEYS = frozenset(
    "chat message_thread_id template disable_notification link_preview format buttons "
    "digest_over include exclude match categories min_votes min_views min_comments".split()
)
GLOBAL_ROUTE_KEYS = ROUTE_KEYS | {"boards"}
INHERITED = ("template", "disable_notification", "link_preview")  # board value as the default
# The optional fields a board's reader may provide, and the route keys that need each one.
NEEDS_FIELD = {
    "categories": "category",
    "min_votes": "votes",
    "min_views": "views",
    "min_comments": "comments",
}

_Choice = TypeVar("_Choice", bound=StrEnum)


class MessageFormat(StrEnum):
    """How a post is announced: a text message (today's), or a photo with a caption."""

    TEXT = "text"
    PHOTO = "photo"  # the article's first image; the text message when there is none


@dataclass(frozen=True, slots=True)
class Route:
    """One destination of a board's posts, everything resolved. Equal routes are one route."""

    chat: str  # as the config spells it: "@channel" or "-100123"
    message_thread_id: int | None = None  # a forum topic of `chat`
    template: str | None = None  # None: the default layout
    disable_notification: bool = False
    link_preview: LinkPreview = LinkPreview.POST
    format: MessageFormat = MessageFormat.TEXT
    buttons: bool = False  # an inline "원문 보기" button with the post's URL
    digest_over: int = 0  # more pending than this for the chat: one digest; 0 = never
    filter: PostFilter = ACCEPT_ALL
    thresholds: Thresholds = NO_THRESHOLDS
    categories: frozenset[str] = frozenset()  # folded (filters.fold); empty: every category
    origin: str = field(default="", compare=False)  # config key: boards[0].chat, routes[2]

    @property
    def key(self) -> str:
        """The state's name for this route (see the module docstring)."""
        return route_key(self.chat, self.message_thread_id)

    def wants(self, fields: Mapping[str, str]) -> bool:
        """Whether a post with these fields passes the route's categories and filter.

        Thresholds are not judged here: they need the post's history (relay.core.thresholds).
        """
        if self.categories and fold(fields.get("category", "")).strip() not in self.categories:
            return False
        return self.filter.accepts(fields)


def route_key(chat: str, message_thread_id: int | None) -> str:
    """`chat`, or `chat#thread` for a forum topic. Chats never hold "#" (checked on load)."""
    return chat if message_thread_id is None else f"{chat}#{message_thread_id}"


def carried_over_keys(routes: Sequence[Route]) -> dict[str, str]:
    """Old key -> new key for one board's deliveries stored before routes existed.

    Those rows carry the chat alone, topic or not. For each route to a topic whose bare chat
    is no route of the board, rows under the bare chat belong to it. Renaming them is
    idempotent (afterwards no row has the old key), so a caller may apply this at every start.
    If one chat has routes to several topics, the old rows cannot be attributed: none is given.
    """
    keys = {route.key for route in routes}
    topics: dict[str, list[str]] = {}
    for route in routes:
        if route.message_thread_id is not None and route.chat not in keys:
            topics.setdefault(route.chat, []).append(route.key)
    return {chat: new[0] for chat, new in topics.items() if len(new) == 1}


def expand_routes(
    boards: Sequence[Mapping[str, Any]],
    routes: Sequence[Mapping[str, Any]] = (),
    *,
    board_fields: Mapping[str, Collection[str]],
    digest_over: int = 0,
) -> dict[str, tuple[Route, ...]]:
    """Every board's routes, by board id, in config order: `chat`, its routes, global routes.

    `boards` are the `[[boards]]` tables (only `id`, `routes` and the route keys are read
    here), `routes` the global `[[routes]]` tables. `board_fields` says which optional post
    fields each board's reader provides ("category", "votes", "views", "comments"): a route
    asking for one its board lacks is refused rather than silently matching nothing.
    `digest_over` is `[telegram] digest_over`. Raises ValueError naming the key.
    """
    if isinstance(digest_over, bool) or not isinstance(digest_over, int) or digest_over < 0:
        raise ValueError(f"[telegram] digest_over: {digest_over!r} must be a whole number >= 0")
    expanded: dict[str, list[Route]] = {}
    for index, board in enumerate(boards):
        board_id = board.get("id")
        if not isinstance(board_id, str) or not board_id:
            raise ValueError(f"boards[{index}]: id is required")
        where = f'boards[{index}] (id "{board_id}")'
        if board_id in expanded:
            raise ValueError(f'{where}: board id "{board_id}" is used twice')
        defaults = _board_defaults(board)
        found = expanded[board_id] = []
        if board.get("chat") is not None:
            shorthand = {k: board[k] for k in ("chat", "message_thread_id") if k in board}
            found.append(_route(shorthand, defaults, digest_over, where, f"boards[{index}].chat"))
        elif board.get("message_thread_id") is not None:
            raise ValueError(f"{where}: message_thread_id needs chat (or belongs in a route)")
        tables = _tables(board.get("routes", []), f"{where}: routes")
        for number, table in enumerate(tables):
            _no_unknown_keys(table, ROUTE_KEYS, f"{where}: routes[{number}]")
            origin = f"boards[{index}].routes[{number}]"
            key = f"{where}: routes[{number}]"
            found.append(_route(table, defaults, digest_over, key, origin))
    _add_global_routes(expanded, boards, _tables(routes, "routes"), digest_over)
    result: dict[str, tuple[Route, ...]] = {}
    for index, board in enumerate(boards):
        board_id = board["id"]
        board_routes = expanded[board_id]
        where = f'boards[{index}] (id "{board_id}")'
        _check_fields(board_routes, set(board_fields.get(board_id, ())), where)
        _check_unique(board_routes, where)
        result[board_id] = tuple(board_routes)
    return result


def without_route_tables(raw: dict[str, Any]) -> dict[str, Any]:
    """A config file's tables without the route tables, which `expand_routes` reads once
    every board is validated (a global route names boards, a threshold needs their fields)."""
    plain = {k: v for k, v in raw.items() if k != "routes"}
    boards = raw.get("boards")
    if isinstance(boards, list):
        plain["boards"] = [
            {k: v for k, v in b.items() if k != "routes"} if isinstance(b, dict) else b
            for b in boards
        ]
    return plain


def _add_global_routes(
    expanded: dict[str, list[Route]],
    boards: Sequence[Mapping[str, Any]],
    tables: list[Mapping[str, Any]],
    digest_over: int,
) -> None:
    by_id = {board["id"]: board for board in boards}
    for number, table in enumerate(tables):
        where = f"routes[{number}]"
        _no_unknown_keys(table, GLOBAL_ROUTE_KEYS, where)
        names = table.get("boards")
        if not isinstance(names, list) or not names:
            raise ValueError(f'{where}: boards = ["board id", ...] is required')
        route_table = {k: v for k, v in table.items() if k != "boards"}
        for position, board_id in enumerate(names):
            if board_id not in by_id:
                known = ", ".join(f'"{b}"' for b in by_id)
                raise ValueError(
                    f"{where}.boards[{position}]: no board with id {board_id!r} (known: {known})"
                )
            if names.index(board_id) != position:
                raise ValueError(f"{where}.boards[{position}]: board {board_id!r} is named twice")
            defaults = _board_defaults(by_id[board_id])
            expanded[board_id].append(_route(route_table, defaults, digest_over, where, where))


def _route(
    table: Mapping[str, Any], defaults: Mapping[str, Any], digest_over: int, key: str, origin: str
) -> Route:
    """One route from its table; keys it lacks come from `defaults` (the board's) and, for
    `digest_over`, from `[telegram]`. `key` names the table in error messages."""
    values = {**defaults, **table}

    def sub(name: str) -> str:  # boards[0] (id "x"): chat, boards[0] (id "x"): routes[1].chat
        return f"{key}: {name}" if key.endswith(")") else f"{key}.{name}"

    template = values.get("template")
    if template is not None:
        if not isinstance(template, str):
            raise ValueError(f"{sub('template')}: {template!r} is not a string")
        try:
            validate_template(template)  # its messages start with "template: "
        except ValueError as e:
            raise ValueError(sub(str(e))) from None
    categories = _strings(values.get("categories"), sub("categories"))
    if categories is not None and not categories:
        raise ValueError(f"{sub('categories')}: names no category (leave it out for all)")
    over = _whole(values.get("digest_over"), sub("digest_over"), 0)
    return Route(
        chat=_chat(values.get("chat"), sub("chat")),
        message_thread_id=_whole(values.get("message_thread_id"), sub("message_thread_id"), 1),
        template=template,
        disable_notification=_flag(
            values.get("disable_notification", False), sub("disable_notification")
        ),
        link_preview=_choice(LinkPreview, values.get("link_preview", "post"), sub("link_preview")),
        format=_choice(MessageFormat, values.get("format", "text"), sub("format")),
        buttons=_flag(values.get("buttons", False), sub("buttons")),
        digest_over=digest_over if over is None else over,
        filter=compile_filter(
            _strings(values.get("include"), sub("include")) or (),
            _strings(values.get("exclude"), sub("exclude")) or (),
            _or(_strings(values.get("match"), sub("match")), DEFAULT_MATCH),
            key=key,
        ),
        thresholds=Thresholds(
            min_votes=_whole(values.get("min_votes"), sub("min_votes"), 0),
            min_views=_whole(values.get("min_views"), sub("min_views"), 0),
            min_comments=_whole(values.get("min_comments"), sub("min_comments"), 0),
        ),
        categories=frozenset(fold(c).strip() for c in categories or ()),
        origin=origin,
    )


def _or(value: tuple[str, ...] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """`default` only for a key left out: an explicit empty list stays empty (and is refused)."""
    return default if value is None else value


def _board_defaults(board: Mapping[str, Any]) -> dict[str, Any]:
    return {key: board[key] for key in INHERITED if board.get(key) is not None}


def _check_fields(routes: Sequence[Route], provided: set[str], where: str) -> None:
    for route in routes:
        limits = route.thresholds
        asked = {
            "categories": bool(route.categories),
            "min_votes": limits.min_votes is not None,
            "min_views": limits.min_views is not None,
            "min_comments": limits.min_comments is not None,
        }
        for key, needed in NEEDS_FIELD.items():
            if asked[key] and needed not in provided:
                raise ValueError(
                    f"{where}: {route.origin}.{key}: this board's preset has no {needed} field"
                )
        if "category" in route.filter.match and "category" not in provided:
            raise ValueError(
                f'{where}: {route.origin}.match: "category": this board\'s preset has no '
                "category field"
            )


def _check_unique(routes: Sequence[Route], where: str) -> None:
    seen: dict[str, Route] = {}
    for route in routes:
        first = seen.setdefault(route.key, route)
        if first is not route:
            topic = "" if route.message_thread_id is None else f" topic {route.message_thread_id}"
            raise ValueError(
                f'{where}: {first.origin} and {route.origin} both send to chat "{route.chat}"'
                f"{topic}: one delivery per post and destination, so merge them or give one "
                "another message_thread_id"
            )


def _tables(value: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list | tuple) or not all(isinstance(t, Mapping) for t in value):
        raise ValueError(f"{where}: must be a list of tables ([[...]])")
    return list(value)


def _no_unknown_keys(table: Mapping[str, Any], known: Collection[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise ValueError(f"{where}.{key}: unknown key (check its spelling)")


def _chat(value: Any, where: str) -> str:
    if value is None:
        raise ValueError(f"{where}: is required")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f'{where}: {value!r} must be "@channel" or a numeric chat id')
    chat = str(value)
    if not chat or "#" in chat or chat != chat.strip() or any(c.isspace() for c in chat):
        raise ValueError(f'{where}: {chat!r} must be "@channel" or a numeric chat id')
    return chat


def _whole(value: Any, where: str, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}: {value!r} must be a whole number >= {minimum}")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {value!r} must be true or false")
    return value


def _choice(kind: type[_Choice], value: Any, where: str) -> _Choice:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(f'"{member.value}"' for member in kind)
        raise ValueError(f"{where}: {value!r} is not one of {choices}") from None


def _strings(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: must be a list of strings")
    return tuple(value)
