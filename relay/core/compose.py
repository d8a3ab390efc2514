"""The messages of one delivery: a post as its route wants it, or a digest of many posts.

Pure: no I/O. The delivery worker (relay.pipeline.deliver) decides when; this module decides
what: the route's template, notification, preview and topic over the board's, a photo with a
caption when the route asks for one and the article has an image (the text message is always
made too: it is what goes when Telegram refuses the photo), the "원문 보기" button.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from relay.core.digest import DigestItem, digest_parts
from relay.core.message import MAX_LENGTH, MessageSettings, format_message
from relay.core.models import OutgoingMessage, StoredPost
from relay.core.routes import MessageFormat, Route, carried_over_keys
from relay.core.text import safe_http_url

CAPTION_LENGTH = 1024  # Telegram's caption limit, UTF-16 units after entity parsing


@dataclass(frozen=True, slots=True)
class Composed:
    """What to send for one delivery: `photo` first when there is one, else `text`."""

    text: OutgoingMessage
    photo: OutgoingMessage | None = None


def route_index(routes: Sequence[Route]) -> dict[str, Route]:
    """Stored route key -> route. A key stored before routes (a topic's bare chat) names the
    route it carried over to (`routes.carried_over_keys`)."""
    by_key = {route.key: route for route in routes}
    for old, new in carried_over_keys(routes).items():
        by_key.setdefault(old, by_key[new])
    return by_key


def find_route(routes: Sequence[Route], key: str) -> Route | None:
    """The route a stored key names (see `route_index`)."""
    return route_index(routes).get(key)


def route_settings(board: MessageSettings, route: Route) -> MessageSettings:
    """The board's message settings with the route's own (the route has them resolved)."""
    return replace(
        board,
        template=route.template,
        link_preview=route.link_preview,
        disable_notification=route.disable_notification,
        message_thread_id=route.message_thread_id,
    )


def compose(post: StoredPost, *, chat: str, board: MessageSettings, route: Route) -> Composed:
    """The messages for `post` on `route`. Raises ValueError when no layout fits."""
    settings = route_settings(board, route)
    button = safe_http_url(post.url) if route.buttons else None
    text = replace(format_message(post, chat=chat, settings=settings), button_url=button)
    image = safe_http_url(post.image) if post.image else None
    if route.format is not MessageFormat.PHOTO or image is None:
        return Composed(text)
    caption = format_message(post, chat=chat, settings=settings, limit=CAPTION_LENGTH)
    photo = replace(caption, photo_url=image, preview_url=None, button_url=button)
    return Composed(text, photo)


def compose_edit(
    post: StoredPost, *, chat: str, board: MessageSettings, route: Route, caption: bool
) -> OutgoingMessage:
    """The current text of a sent message (its caption, for a photo)."""
    settings = route_settings(board, route)
    limit = CAPTION_LENGTH if caption else MAX_LENGTH
    message = format_message(post, chat=chat, settings=settings, limit=limit)
    button = safe_http_url(post.url) if route.buttons else None
    return replace(message, button_url=button)


def digest_header(board_titles: set[str], count: int) -> str:
    """ "랭크뉴스 · 새 글 45" for one board, "새 글 45" for a route of several."""
    one = next(iter(board_titles)) if len(board_titles) == 1 else ""
    return f"{one} · 새 글 {count}" if one else f"새 글 {count}"


def compose_digest(
    posts: Sequence[StoredPost], *, chat: str, header: str, route: Route
) -> list[tuple[OutgoingMessage, int]]:
    """A digest of `posts` (oldest first, so newest last): each message, and how many of the
    posts (in order) it carries. As few messages as Telegram's limits allow; no preview."""
    items = [DigestItem(title=p.title, url=safe_http_url(p.url) or "") for p in posts]
    return [
        (
            OutgoingMessage(
                chat=chat,
                text=part.text,
                disable_notification=route.disable_notification,
                message_thread_id=route.message_thread_id,
            ),
            part.count,
        )
        for part in digest_parts(items, header=header)
    ]
