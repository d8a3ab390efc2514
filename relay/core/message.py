"""Telegram HTML for one post: the layout, Telegram's length rule and the template check.

Pure: stdlib only. It knows nothing of how a message is sent (courier) or when (cycle).

Telegram counts the 4096-character limit in UTF-16 code units of the text *after* entity
parsing: tags vanish, `&amp;` counts as one, an astral-plane emoji counts as two. Everything
scraped is cut as plain text first and escaped afterwards, so a cut can never land inside a
tag or an entity.

Notices (`post.notice`) get a "[공지] " prefix on their title, in the default layout and in
the `{title}` placeholder alike, so a pinned board notice never reads like a new post.
"""

from __future__ import annotations

import html
import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from relay.core.models import LinkPreview, OutgoingMessage, StoredPost
from relay.core.text import safe_http_url, strip_bidi

MAX_LENGTH = 4096  # Telegram's limit for a text message, UTF-16 units after entity parsing
ELLIPSIS = "…"
NOTICE_PREFIX = "[공지] "
DATE_FORMAT = "%Y-%m-%d %H:%M"
DATE_ONLY_FORMAT = "%Y-%m-%d"
LINK_TEXT_FALLBACK = "원문"  # link text when the board has no title: a link must show something
AUTHOR_MAX = 64  # UTF-16 units; an author cell sometimes carries a whole pop-up menu's text
CATEGORY_MAX = 20  # a 말머리 is a word or two; a longer one is cut, not the title
TEMPLATE_TEXT_MAX = 2048  # a template's own text: leave the other half for the post
PLACEHOLDERS = ("title", "excerpt", "url", "board", "author", "date", "number", "id")

# Telegram's HTML subset (core.telegram.org/bots/api#html-style).
_TAGS = frozenset(
    "b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji".split()
)
_REQUIRED_ATTR = {"a": "href", "tg-emoji": "emoji-id", "span": "class"}

# A tag as Telegram reads it: quoted attribute values may hold ">".
_TAG_RE = re.compile(r"<[^<>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^<>\"']*)*>")
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# Tokens for the template check: a whole tag, a valid entity, or a stray "<" / "&".
_CHECK_RE = re.compile(
    r"<(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9-]*)"
    r"(?P<attrs>(?:\s+[^\s=<>/\"']+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'<>]+))?)*)"
    r"\s*(?P<selfclose>/?)>"
    r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);)"
    r"|(?P<bare>[<&])"
)
_ATTR_RE = re.compile(r"([^\s=<>/\"']+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'<>]+)))?")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of every Telegram limit."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def telegram_length(html_text: str) -> int:
    """How long Telegram says `html_text` is: tags removed, entities decoded, UTF-16 units."""
    return utf16_len(_plain(html_text))


def _plain(html_text: str) -> str:
    return _ENTITY_RE.sub(_decode_entity, _TAG_RE.sub("", html_text))


def _decode_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _NAMED:
        return _NAMED[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    return chr(code) if 0 < code <= 0x10FFFF else match.group(0)


def shorten(text: str, budget: int) -> str:
    """Cut plain `text` to at most `budget` UTF-16 units, at a word boundary, ending in "…".

    Falls back to a cut between characters when the last space is in the first half (a long
    Korean run with no spaces must still be shortened); returns "" rather than a lone "…".
    """
    if utf16_len(text) <= budget:
        return text
    room = budget - utf16_len(ELLIPSIS)
    units = end = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > room:
            break
        end = index + 1
    head = text[:end]
    if end < len(text) and not text[end].isspace():
        space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if space >= len(head) // 2:
            head = head[:space]
    head = head.rstrip().rstrip("\u200d\ufe0f")  # no dangling emoji joiner or selector
    return head + ELLIPSIS if head else ""


def _clean(text: str) -> str:
    """Drop control characters (but newline and tab), lone surrogates Telegram rejects, and
    bidi controls (also for posts stored before the parser removed them)."""
    return "".join(
        ch
        for ch in strip_bidi(text)
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )


def _when(post: StoredPost, tz: tzinfo) -> str:
    moment: datetime = post.published or post.first_seen
    if moment.tzinfo is None:  # never expected: models promise aware times
        moment = moment.replace(tzinfo=tz)
    local = moment.astimezone(tz)
    if post.published is not None and (local.hour, local.minute, local.second) == (0, 0, 0):
        return local.strftime(DATE_ONLY_FORMAT)  # the board printed a date without a time
    return local.strftime(DATE_FORMAT)


def _preview_url(post: StoredPost, mode: LinkPreview) -> str | None:
    """Only http(s) is previewed, whatever an older state holds."""
    if mode is LinkPreview.POST:
        return safe_http_url(post.url)
    if mode is LinkPreview.IMAGE and post.image:
        return safe_http_url(post.image)
    return None


@dataclass(frozen=True, slots=True)
class MessageSettings:
    """How one board's posts read in Telegram: one record, so a new setting is one field.

    The template is checked when the record is made: a record that exists can be rendered.
    """

    board_title: str  # the link text of every message
    tz: tzinfo  # dates are shown in the board's zone
    template: str | None = None  # None: the default layout
    link_preview: LinkPreview = LinkPreview.POST
    disable_notification: bool = False
    message_thread_id: int | None = None  # a forum group's topic
    category_prefix: bool = False  # "[말머리] " before the title, where the post has one

    def __post_init__(self) -> None:
        if self.template is not None:
            validate_template(self.template)


def format_message(
    post: StoredPost, *, chat: str, settings: MessageSettings, limit: int = MAX_LENGTH
) -> OutgoingMessage:
    """The message announcing `post` in `chat`, within Telegram's limits (`limit` UTF-16 units
    after entity parsing: a photo's caption has 1024).

    Raises ValueError when the template's own text leaves no room for the post. A template
    that renders to nothing for this post (only `{excerpt}`, and no excerpt) falls back to
    the default layout.
    """
    template = settings.template
    prefix = NOTICE_PREFIX if post.notice else ""
    if settings.category_prefix and (category := _clean(post.category).strip()):
        prefix += f"[{shorten(category, CATEGORY_MAX)}] "
    fixed = {
        "url": safe_http_url(post.url) or "",  # never a javascript: link, even from old state
        "board": _clean(settings.board_title),
        "author": shorten(_clean(post.author), AUTHOR_MAX),
        "date": _when(post, settings.tz),
        "number": "" if post.number is None else str(post.number),
        "id": post.id,
    }

    def renderer(layout: str | None) -> Callable[[str, str], str]:
        def render(title: str, excerpt: str) -> str:
            values = {**fixed, "title": prefix + title if title else "", "excerpt": excerpt}
            if layout is None:
                return _default_layout(values)
            escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
            return layout.format_map(escaped)

        return render

    title, excerpt = _clean(post.title).strip(), _clean(post.excerpt).strip()
    text = _fit(renderer(template), title, excerpt, limit)
    if not _plain(text).strip():
        # Telegram refuses an empty message ("{excerpt}" alone, for a post with none).
        text = _fit(renderer(None), title, excerpt, limit)
    return OutgoingMessage(
        chat=chat,
        text=text,
        disable_notification=settings.disable_notification,
        preview_url=_preview_url(post, settings.link_preview),
        message_thread_id=settings.message_thread_id,
    )


def _default_layout(values: dict[str, str]) -> str:
    """Bold title, excerpt, then `<a>board</a> · author · date`: empty parts left out."""
    esc = html.escape
    blocks = []
    if values["title"]:
        blocks.append(f"<b>{esc(values['title'])}</b>")
    if values["excerpt"]:
        blocks.append(esc(values["excerpt"]))
    link_text = values["board"] or LINK_TEXT_FALLBACK
    meta = esc(link_text)
    if values["url"]:
        meta = f'<a href="{esc(values["url"], quote=True)}">{meta}</a>'
    for extra in (values["author"], values["date"]):
        if extra:
            meta += f" · {esc(extra)}"
    blocks.append(meta)
    return "\n\n".join(blocks)


def _fit(
    render: Callable[[str, str], str], title: str, excerpt: str, limit: int = MAX_LENGTH
) -> str:
    """Render, shortening the excerpt first and then the title until Telegram's limit holds."""
    text = render(title, excerpt)
    if telegram_length(text) <= limit:
        return text
    fitted = _largest_fit(lambda budget: render(title, shorten(excerpt, budget)), excerpt, limit)
    if fitted is None:
        fitted = _largest_fit(lambda budget: render(shorten(title, budget), ""), title, limit)
    if fitted is None:
        raise ValueError(f"the message layout alone is over Telegram's {limit} characters")
    return fitted


def _largest_fit(make: Callable[[int], str], source: str, limit: int = MAX_LENGTH) -> str | None:
    """Binary search for the largest budget whose rendering fits; None if none does.

    Each candidate is measured, so the answer fits even where a word-boundary cut makes the
    length not quite monotonic in the budget.
    """
    low, high, best = 0, utf16_len(source), None
    while low <= high:
        middle = (low + high) // 2
        candidate = make(middle)
        if telegram_length(candidate) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def validate_template(template: str) -> None:
    """Raise ValueError, saying why, if Telegram would reject messages made from `template`.

    Stricter than Telegram in three places, on purpose: a format spec or conversion
    (`{title:.20}`) is refused because it would cut text after escaping, possibly inside an
    entity; a bare "&" is refused although Telegram shows it literally; and a template with
    no placeholder at all is refused as surely a mistake.
    """
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ValueError(f"template: {e} (write a literal brace as {{{{ or }}}})") from None
    names: set[str] = set()
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise ValueError("template: positional {} placeholders are not supported; use names")
        if name not in PLACEHOLDERS:
            known = " ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            raise ValueError(f"template: unknown placeholder {{{name}}}; known: {known}")
        if spec or conversion:
            raise ValueError(
                f"template: placeholder {{{name}}} must not have a format spec or conversion"
            )
        names.add(name)
    if not names:
        raise ValueError("template: it has no placeholder, so every post would read the same")
    # Placeholders stand for themselves, so an error quotes the template as the user wrote it.
    sample = template.format_map({name: f"{{{name}}}" for name in PLACEHOLDERS})
    _check_html(sample)
    if telegram_length(template.format_map(dict.fromkeys(PLACEHOLDERS, ""))) > TEMPLATE_TEXT_MAX:
        raise ValueError(f"template: its own text is over {TEMPLATE_TEXT_MAX} characters")


def _check_html(text: str) -> None:
    """Raise ValueError if Telegram's HTML parse mode would refuse `text` (or misrender it)."""
    stack: list[str] = []
    for match in _CHECK_RE.finditer(text):
        if match["bare"]:
            char = match["bare"]
            escape = "&lt;" if char == "<" else "&amp;"
            at = match.start()
            raise ValueError(
                f"template: bare {char!r} at {text[at : at + 12]!r}: write it as {escape}"
            )
        if match["entity"]:
            continue
        name = match["name"].lower()
        if match["close"]:
            if not stack:
                raise ValueError(f"template: </{name}> closes nothing")
            if stack[-1] != name:
                raise ValueError(f"template: </{name}> is misnested: <{stack[-1]}> is still open")
            stack.pop()
            continue
        _check_start_tag(name, match["attrs"], bool(match["selfclose"]), stack)
        stack.append(name)
    if stack:
        raise ValueError(f"template: <{stack[-1]}> is never closed")


def _check_start_tag(name: str, attr_text: str, self_closing: bool, stack: list[str]) -> None:
    if name not in _TAGS:
        raise ValueError(f"template: <{name}> is not in Telegram's HTML subset")
    if self_closing:
        raise ValueError(f"template: <{name}/>: Telegram has no self-closing tags")
    found = list(_ATTR_RE.finditer(attr_text))
    for m in found:
        if m[4] is not None:
            raise ValueError(f'template: <{name} {m[1]}=...>: quote the value ("...")')
    attrs = {m[1].lower(): m[2] or m[3] or "" for m in found}
    required = _REQUIRED_ATTR.get(name)
    if required and not attrs.get(required):
        raise ValueError(f'template: <{name}> needs a {required}="..." attribute')
    if name == "span" and attrs["class"] != "tg-spoiler":
        raise ValueError('template: <span> is only allowed as <span class="tg-spoiler">')
    if stack and (stack[-1] == "code" or (stack[-1] == "pre" and name != "code")):
        raise ValueError(f"template: <{name}> inside <{stack[-1]}> is not formatted")
    if name in ("a", "blockquote") and name in stack:
        raise ValueError(f"template: <{name}> cannot be nested in another <{name}>")
