"""An article's body as sanitized HTML, for a feed's full-content mode. Pure: no I/O.

Board bodies are written by anyone and pasted from anywhere: they carry scripts, inline event
handlers, tracking iframes, ad slots and `javascript:` links. The safety of what a feed reader
renders rests on nh3 (the binding of the Rust `ammonia` allow-list sanitizer), not on regexes
of ours: it parses like a browser (html5ever), so entity tricks such as `jav&#x61;script:` and
broken nesting are judged on what a browser would see.

Three steps, in this order:
1. selectolax, on the body: drop the ad and navigation blocks that the excerpt drops (the same
   selector list as parse.py, imported), and give lazy-loaded images their real `src`. This
   needs sibling attributes together (`data-src` beside a placeholder `src`), which a
   per-attribute sanitizer callback cannot see.
2. nh3 with an explicit allow-list: text structure, links, images. Every surviving URL is made
   absolute against the page (after `<base href>`) and kept only for an allowed scheme.
3. Only when the result is larger than `max_bytes`: a cut at an element boundary, serialized by
   us from nh3's output with the same allow-list, and a note saying the body was shortened.

Knows nothing of feeds, fetching or storage: it turns one string into a `SanitizedBody`.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import nh3
from selectolax.lexbor import LexborHTMLParser, LexborNode

from relay.core.atom import xml_safe
from relay.core.links import base_url
from relay.core.parse import _NOISE as NOISE  # the excerpt's ad/navigation list: one list

MAX_BODY_BYTES = 200_000
TRUNCATION_NOTE = "(본문이 길어 일부만 실었습니다)"
_NOTE_HTML = f"<p><em>{TRUNCATION_NOTE}</em></p>"

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
IMAGE_SCHEMES = frozenset({"http", "https"})  # no data: (tracking, huge, SVG scripts), no mailto
LINK_REL = "noopener noreferrer nofollow"

ALLOWED_TAGS = frozenset(
    {
        *("p", "br", "hr", "div", "span", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "code", "kbd", "samp"),
        *("table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "colgroup", "col"),
        *("strong", "em", "b", "i", "u", "s", "del", "sub", "sup", "small", "mark", "q"),
        *("a", "img", "figure", "figcaption"),
    }
)
# Dropped with everything inside: their content is code, a widget or a form, never article
# text. (Tags not listed in either set lose the tag and keep the text, like <font>.)
DROPPED_WITH_CONTENT = frozenset(
    {
        *("script", "style", "template", "noscript", "iframe", "frame", "frameset"),
        *("object", "embed", "applet", "svg", "math", "form", "button", "select"),
        *("textarea", "canvas", "audio", "video", "noembed", "noframes", "title"),
    }
)
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href"}),
    "img": frozenset({"src", "alt", "width", "height"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "ol": frozenset({"start"}),
}
# An absolute http(s) URL with a plain host and no whitespace or backslash: urljoin would
# return it unchanged.
_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:[/?#][^\s\\]*)?")
_NUMBER = re.compile(r"\d{1,5}%?")
_VOID = frozenset({"br", "hr", "img", "col"})
# The lazy-loading attributes of the common jQuery/vanilla lazyload plugins, in order of trust.
_LAZY_SOURCES = ("data-src", "data-original", "data-lazy-src")
# What lazy-loading scripts put in `src` until the real image is wanted: a tiny data: GIF or
# a spacer file. Matched on the file name, since the bytes are never fetched here.
_PLACEHOLDER_FILE = re.compile(
    r"(?:^|/)(?:blank|spacer|pixel|1x1|transparent|empty|clear|loading|lazy|placeholder|"
    r"grey|gray|dot)[\w.-]*\.(?:gif|png|svg)$",
    re.I,
)


@dataclass(frozen=True, slots=True)
class SanitizedBody:
    """A body safe to put in a feed's `<content type="html">` or a JSON Feed's content_html.

    `html` is a fragment of at most `max_bytes` UTF-8 bytes; when the body had to be cut it
    ends with a paragraph holding `note`, so a reader knows to open the post for the rest.
    """

    html: str
    truncated: bool
    note: str  # TRUNCATION_NOTE when truncated, else ""


def sanitize_article(
    html: str,
    *,
    base_url: str,
    base_href: str | None = None,
    body_selectors: Sequence[str] = (),
    max_bytes: int = MAX_BODY_BYTES,
) -> SanitizedBody:
    """The sanitized body of `html`, with absolute URLs, capped at `max_bytes`.

    `base_url` is the URL relative links resolve against: the page's URL, or what its
    `<base href>` made of it. `base_href`, when given, is a raw `<base href>` value still to
    apply (resolved against `base_url`). With `body_selectors` (a preset's `body`), `html` is a
    whole page and the body is the first element they find (none found: an empty body), as
    parse_article reads it; without, `html` is the body itself.
    Raises ValueError when max_bytes cannot even hold the truncation note.
    """
    if max_bytes < len(_NOTE_HTML.encode()) + 1:
        raise ValueError(f"max_bytes must be more than {len(_NOTE_HTML.encode())}: {max_bytes}")
    base = urljoin(base_url, base_href.strip()) if base_href and base_href.strip() else base_url
    tree = LexborHTMLParser(xml_safe(html))
    body = _find_body(tree, body_selectors)
    if body is None:
        return SanitizedBody("", False, "")
    for node in body.css(NOISE):
        node.decompose()
    _settle_images(body, base)
    cleaned = _cleaner(base).clean(body.inner_html or "").strip()
    if len(cleaned.encode()) <= max_bytes:
        return SanitizedBody(cleaned, False, "")
    kept = _cut(cleaned, max_bytes - len(_NOTE_HTML.encode()))
    return SanitizedBody(kept + _NOTE_HTML, True, TRUNCATION_NOTE)


def sanitize_page(
    html: str, *, url: str, body_selectors: Sequence[str], max_bytes: int = MAX_BODY_BYTES
) -> SanitizedBody:
    """The sanitized body of a whole article page fetched from `url`: its links resolve
    against the page's own `<base href>`, as parse_article's do."""
    return sanitize_article(
        html,
        base_url=base_url(LexborHTMLParser(xml_safe(html)), url),
        body_selectors=body_selectors,
        max_bytes=max_bytes,
    )


def _find_body(tree: LexborHTMLParser, selectors: Sequence[str]) -> LexborNode | None:
    if not selectors:
        return tree.body
    for selector in selectors:
        found = tree.css_first(selector)
        if found is not None:
            return found
    return None


def web_url(value: str, base: str, schemes: frozenset[str]) -> str | None:
    """`value` made absolute against `base`, or None when its scheme is not in `schemes`.

    urljoin/urlsplit drop tabs and newlines the way browsers do, so "java\\tscript:" is read
    as the javascript: URL a browser would follow, and refused."""
    value = value.strip()
    if _PLAIN_ABSOLUTE.fullmatch(value):  # most URLs: skip urljoin's ~20 µs
        return value if value.partition(":")[0] in schemes else None
    if not value:
        return None
    try:
        absolute = urljoin(base, value)
        parts = urlsplit(absolute)
    except ValueError:  # an unparsable host such as "http://[::1"
        return None
    scheme = parts.scheme.lower()
    if scheme not in schemes or (scheme != "mailto" and not parts.netloc):
        return None
    return absolute


def _settle_images(body: LexborNode, base: str) -> None:
    """Each <img> gets its real, absolute web `src` from the lazy-loading attributes when its
    own is missing or a placeholder; an image left with no web source is removed."""
    for img in body.css("img"):
        attrs = img.attrs
        src = (attrs.get("src") or "").strip()
        if _is_placeholder(src):
            lazy = next((v for k in _LAZY_SOURCES if (v := (attrs.get(k) or "").strip())), "")
            src = lazy or src
        real = web_url(src, base, IMAGE_SCHEMES)
        if real is None:
            img.decompose()
        else:
            attrs["src"] = real


def _is_placeholder(src: str) -> bool:
    return (
        not src
        or src.lower().startswith("data:")
        or bool(_PLACEHOLDER_FILE.search(src.partition("?")[0]))
    )


def _cleaner(base: str) -> nh3.Cleaner:
    """The allow-list, with URLs resolved against this page (hence one cleaner per body)."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        # nh3 calls this after its own scheme check, with entities already decoded.
        if attribute == "href":
            return web_url(value, base, LINK_SCHEMES)
        if attribute == "src":
            return web_url(value, base, IMAGE_SCHEMES)
        if attribute in ("width", "height", "colspan", "rowspan", "span", "start"):
            return value.strip() if _NUMBER.fullmatch(value.strip()) else None
        return value

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        # "*": none on every tag, or ammonia keeps its default generic title and lang.
        attributes={"*": set(), **{tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}},
        attribute_filter=keep,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes=set(LINK_SCHEMES),
    )


# --- the cut ----------------------------------------------------------------------------------


def _cut(cleaned: str, budget: int) -> str:
    """The longest start of `cleaned` that fits in `budget` UTF-8 bytes, as well-formed HTML:
    whole elements, an element cut between its children (and closed), or a text cut at a
    space, never inside a tag, an entity or a character.

    The fragment is re-read and written out by `_Writer`, which knows only the allow-list, so
    the cut cannot let anything through that nh3 removed."""
    tree = LexborHTMLParser(cleaned)
    if tree.body is None:
        return ""
    out, _ = _Writer(budget).children(tree.body)
    return out


class _Writer:
    """Serializes a sanitized tree into a byte budget, greedily, in document order."""

    def __init__(self, budget: int) -> None:
        self.left = budget

    def children(self, parent: LexborNode) -> tuple[str, bool]:
        """The children of `parent` that fit, and whether all of them did."""
        parts: list[str] = []
        for child in parent.iter(include_text=True):
            part, whole = self.node(child)
            parts.append(part)
            if not whole:
                return "".join(parts), False
        return "".join(parts), True

    def node(self, node: LexborNode) -> tuple[str, bool]:
        if node.is_text_node:
            return self.text(node.text_content or "")
        tag = node.tag or ""
        if tag not in ALLOWED_TAGS:  # nh3's output has none; the cut must not add any
            return "", True
        start = self._start_tag(tag, node)
        end = "" if tag in _VOID else f"</{tag}>"
        cost = len(start.encode()) + len(end.encode())
        if cost > self.left:
            return "", False
        self.left -= cost
        if tag in _VOID:
            return start, True
        inner, whole = self.children(node)
        if not whole and not inner.strip():  # nothing of it fitted: leave the empty shell out
            self.left += cost
            return "", False
        return start + inner + end, whole

    def text(self, text: str) -> tuple[str, bool]:
        escaped = html_lib.escape(text, quote=False)
        size = len(escaped.encode())
        if size <= self.left:
            self.left -= size
            return escaped, True
        kept = _text_prefix(text, self.left - len("…".encode()))
        self.left = 0
        return (html_lib.escape(kept, quote=False) + "…" if kept else ""), False

    @staticmethod
    def _start_tag(tag: str, node: LexborNode) -> str:
        allowed = ALLOWED_ATTRIBUTES.get(tag, frozenset())
        attrs = "".join(
            f' {name}="{html_lib.escape(value, quote=True)}"'
            for name, value in node.attributes.items()
            if value is not None and (name in allowed or (tag == "a" and name == "rel"))
        )
        return f"<{tag}{attrs}>"


def _text_prefix(text: str, budget: int) -> str:
    """The longest start of `text` whose escaped UTF-8 form fits `budget`, cut after a space
    when one is in the second half (a word is not split when it can be helped)."""
    size, end = 0, 0
    for i, ch in enumerate(text):
        size += len(html_lib.escape(ch, quote=False).encode())
        if size > budget:
            break
        end = i + 1
    kept = text[:end]
    space = kept.rfind(" ")
    if end < len(text) and space >= len(kept) // 2:
        kept = kept[:space]
    return kept.rstrip()
