"""A digest: many posts for one chat as few Telegram messages (titles with links), not a flood.

Pure: no I/O. It knows nothing of when a digest is due (the pipeline counts the pending
deliveries against `digest_over`) nor of how the messages are sent.

Layout of each part, in Telegram's HTML parse mode:

    <b>header</b> (1/2)
    • <a href="url">title</a>
    • ...

Items keep their input order (oldest first, so the newest is last, as a channel reads).

What is measured: the raw HTML, in UTF-16 units, tags and entities included. Telegram counts
its 4096 limit on the text *after* entity parsing, which the raw HTML never undercounts; the
difference (the hrefs) is not wasted margin but a second, undocumented limit: Telegram refuses
a message whose entities are too large in total ("Entities_too_long", near 9,500 raw
characters per tdlib/telegram-bot-api#165), and a digest is nothing but links. Measuring the
raw HTML keeps a part under both. A third limit: Telegram drops the formatting of every entity
past the 100th, so a part holds at most `MAX_ENTITIES` (the bold header and one link per item).

Nothing is cut in half across parts: an item that fits nowhere else starts a new part, and only
an item too long for a part on its own has its title shortened (as plain text, before
escaping, so a cut never lands in an entity); a URL too long for a link leaves its title
unlinked rather than break the message.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from relay.core.message import LINK_TEXT_FALLBACK, MAX_LENGTH, shorten, utf16_len
from relay.core.text import fold_whitespace

MAX_ENTITIES = 100  # Telegram formats only the first 100 entities of a message
HEADER_MAX = 256  # UTF-16 units of plain header text: the rest of the part is for the posts
BULLET = "• "
_LINK_SCHEMES = ("http://", "https://")  # anything else Telegram refuses in a text link


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One post in a digest: plain scraped text, escaped here."""

    title: str
    url: str  # absolute


@dataclass(frozen=True, slots=True)
class DigestPart:
    """One message of a digest and how many of the input items it carries (in order)."""

    text: str  # Telegram HTML
    count: int


def render_digest(
    items: Sequence[DigestItem], *, header: str, limit: int = MAX_LENGTH
) -> list[str]:
    """The digest's messages, each at most `limit` UTF-16 units of raw HTML. [] for no items."""
    return [part.text for part in digest_parts(items, header=header, limit=limit)]


def digest_parts(
    items: Sequence[DigestItem], *, header: str, limit: int = MAX_LENGTH
) -> tuple[DigestPart, ...]:
    """As `render_digest`, keeping which items each part holds (the first `count` left).

    Greedy filling is optimal here: with the order fixed and items indivisible, putting each
    item in the current part while it fits gives the fewest parts. The header's counter
    "(n/N)" is only known once N is: room for its widest form is reserved and the split redone
    when one message is not enough (at most once per digit of N). Raises ValueError only for a
    `limit` too small to hold a header and one shortened item.
    """
    if not items:
        return ()
    title = shorten(_one_line(header), HEADER_MAX)
    links_per_part = MAX_ENTITIES - (1 if title else 0)
    widest = ""  # the counter room reserved: none until one part turns out not to be enough
    while True:
        head = _header(title, widest)
        # Every line costs its length plus the newline before it; with no header the first
        # line has none, hence the one unit back.
        room = limit - utf16_len(head) if head else limit + 1
        groups = _fill([_item_line(item, room) for item in items], room, links_per_part)
        digits = len(str(len(groups)))
        if len(groups) == 1 or (widest and len(widest) >= 2 * digits + 3):
            break
        widest = f"({'9' * digits}/{'9' * digits})"  # "(99/99)" for 10 to 99 parts
    parts = []
    for number, group in enumerate(groups, start=1):
        counter = f"({number}/{len(groups)})" if len(groups) > 1 else ""
        top = _header(title, counter)
        parts.append(DigestPart(text="\n".join([top, *group] if top else group), count=len(group)))
    return tuple(parts)


def _fill(lines: list[str], room: int, links_per_part: int) -> list[list[str]]:
    """Greedy: each line joins the current group while it fits, else starts the next one."""
    groups: list[list[str]] = []
    used = 0
    for line in lines:
        cost = utf16_len(line) + 1  # the newline before it
        if not groups or used + cost > room or len(groups[-1]) >= links_per_part:
            groups.append([])
            used = 0
        groups[-1].append(line)
        used += cost
    return groups


def _header(title: str, counter: str) -> str:
    """`<b>title</b> (1/2)`; either half may be missing, and then so is the space."""
    bold = f"<b>{html.escape(title, quote=False)}</b>" if title else ""
    return " ".join(part for part in (bold, counter) if part)


def _item_line(item: DigestItem, room: int) -> str:
    """One item's line, its title shortened only if the line alone would exceed `room`."""
    title = _one_line(item.title) or LINK_TEXT_FALLBACK
    url = _one_line(item.url)
    if url.startswith(_LINK_SCHEMES):
        href = html.escape(url, quote=True)

        def linked(text: str) -> str:
            return f'{BULLET}<a href="{href}">{html.escape(text, quote=False)}</a>'

        line = _fitted(linked, title, room)
        if line is not None:
            return line

    def plain(text: str) -> str:
        return BULLET + html.escape(text, quote=False)

    line = _fitted(plain, title, room)
    if line is None:
        raise ValueError(f"digest limit {room} leaves no room for even one shortened title")
    return line


def _fitted(render: Callable[[str], str], title: str, room: int) -> str | None:
    """`render(title)` if it fits in `room` (its newline included), else the longest cut that does.

    Binary search on the plain-text budget, measuring every candidate after escaping ("&"
    grows to five units): None when not even the ellipsis alone fits.
    """
    whole = render(title)
    if utf16_len(whole) + 1 <= room:
        return whole
    low, high, best = 1, utf16_len(title), None
    while low <= high:
        middle = (low + high) // 2
        cut = shorten(title, middle)
        candidate = render(cut) if cut else None
        if candidate is not None and utf16_len(candidate) + 1 <= room:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def _one_line(text: str) -> str:
    """Scraped text on one line: whitespace (newlines too) folded, control characters and
    lone surrogates (which Telegram refuses) dropped."""
    folded = fold_whitespace(text)
    return "".join(ch for ch in folded if unicodedata.category(ch) not in ("Cc", "Cs"))
