"""The board's own feed: where it is, and its entries read as the list parser reads rows.

Rhymix and XE serve `index.php?mid={mid}&act=rss` and `act=atom` (with rewrites on also
`/{mid}/rss`), Gnuboard `bbs/rss.php?bo_table={table}`, when the board enables them; many
sites turn them off, and then answer with an empty channel (Rhymix: "피드(Feed) 기능이 잠겨
있습니다") or a line of text (Gnuboard: "RSS 보기가 금지되어 있습니다."). Both are errors
here, never "no new posts".

An entry's id is taken from its link with the board's own id patterns, and its URL is made
canonical the way the list parser makes a row's: switching a board between its list and its
feed must never re-announce a post.

Pure: bytes and URLs in, records out. feedparser reads the XML (RSS 2.0 and Atom, loose
about the broken markup PHP templates emit); this module knows what each engine puts where.
"""

from __future__ import annotations

import calendar
import html
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

import feedparser
from selectolax.lexbor import LexborHTMLParser

from relay.core.decoding import decode_xml
from relay.core.engines import Selectors
from relay.core.errors import RelayError
from relay.core.models import Article
from relay.core.parse import base_url, canonical_post_url, parse_article, post_id
from relay.core.text import fold_whitespace

_FEED_TYPES = ("application/atom+xml", "application/rss+xml")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")
_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_SHORT_POST = re.compile(r"/([A-Za-z0-9_-]*[A-Za-z_-][A-Za-z0-9_-]*)/\d+/?$")
_BODY_CLASS = "relay-feed-body"


class BoardFeedError(RelayError):
    """A board's feed cannot be used: not a feed, an empty (disabled) one, or one whose
    entries carry no post id. `reason` is short and stable: "not a feed", "empty", "no ids".
    The caller falls back to the list page."""

    def __init__(self, message: str, *, url: str, reason: str) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One post as the board's feed states it."""

    id: str  # document_srl / wr_id from the entry's link: the id the list parser gives
    url: str  # absolute, canonical like a list row's URL
    title: str  # plain text, whitespace folded
    author: str
    category: str  # 말머리: Rhymix Atom's labelled <category>; "" when the feed names none
    published: datetime | None  # aware, with the offset the feed printed; None if undated
    body_html: str  # the article (or the summary the board publishes), sanitised by feedparser
    comments: int | None = None  # XE's <slash:comments>; None where the feed prints no count


# --- where the feed is -------------------------------------------------------------------


_BOARD_PARAMS = {"rhymix": "mid", "xe": "mid", "gnuboard": "bo_table"}  # query key naming a board


def board_key(url: str, engine: str) -> str | None:
    """The board's name in a list or post URL: the Rhymix/XE `mid` or the Gnuboard
    `bo_table`, from the query or from a short URL (`/{mid}`, `/{mid}/page/2`,
    `/{bo_table}/{wr_id}`); None when the URL does not show it."""
    return _board_name(url, engine, _board_in_path)


def _named_board(post_url: str, engine: str) -> str | None:
    """The board a post URL names without doubt: `mid=` / `bo_table=`, or `/{name}/{id}`.
    `/{bo_table}/{slug}` (Gnuboard's SEO titles) could as well be `/{folder}/{bo_table}`."""
    return _board_name(post_url, engine, _board_of_short_post)


def _board_name(
    url: str, engine: str, in_path: Callable[[str, dict[str, list[str]], str], str | None]
) -> str | None:
    """The board the query names (`mid=` / `bo_table=`), else what `in_path` reads from the
    path; None for engines that name no board."""
    param = _BOARD_PARAMS.get(engine)
    if param is None:
        return None
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if query.get(param):
        return query[param][0]
    return in_path(parts.path, query, param)


def _board_in_path(path: str, query: dict[str, list[str]], param: str) -> str | None:
    if path.endswith(".php") or param in query or "document_srl" in query:
        return None
    segments = [s for s in path.split("/") if s]
    if len(segments) >= 2 and segments[-2] in ("page", "category") and segments[-1].isdigit():
        segments = segments[:-2]
    if segments and segments[-1].isdigit():
        segments = segments[:-1]
    if segments and segments[-1] in ("rss", "atom"):
        segments = segments[:-1]
    if segments and _KEY.match(segments[-1]) and not segments[-1].isdigit():
        return segments[-1]
    return None


def _board_of_short_post(path: str, _query: dict[str, list[str]], _param: str) -> str | None:
    match = _SHORT_POST.search(path)
    return match.group(1) if match else None


def feed_candidates(list_url: str, list_html: str, engine: str) -> list[str]:
    """The URLs where the board's own feed may be, best first.

    First what the list page advertises: `<link rel="alternate">` feeds (Rhymix prints the
    board's RSS and Atom, and on the front page also the whole site's, which is skipped: it
    holds other boards' posts) and Gnuboard's RSS button (printed only when the board
    enables RSS). Then the engine's known URL, derived from the list URL. Atom comes before
    RSS: Rhymix's Atom marks the category with a label, its RSS prints it like a tag.
    """
    key = board_key(list_url, engine)
    tree = LexborHTMLParser(list_html)
    base = base_url(tree, list_url)
    advertised: list[str] = []
    for link in tree.css("link[rel][href]"):
        rels = (link.attributes.get("rel") or "").lower().split()
        kind = (link.attributes.get("type") or "").strip().lower()
        if "alternate" in rels and kind in _FEED_TYPES:
            advertised.append(urljoin(base, (link.attributes.get("href") or "").strip()))
    if engine == "gnuboard":
        for anchor in tree.css("a[href*='rss.php']"):
            advertised.append(urljoin(base, (anchor.attributes.get("href") or "").strip()))
    if key is not None:
        advertised = [url for url in advertised if board_key(url, engine) == key]
    advertised.sort(key=lambda url: 0 if _looks_atom(url) else 1)
    found: list[str] = []
    for url in advertised + _known_urls(list_url, engine, key):
        if url not in found:
            found.append(url)
    return found


def _looks_atom(url: str) -> bool:
    return "act=atom" in url or url.rstrip("/").endswith("/atom")


def _known_urls(list_url: str, engine: str, key: str | None) -> list[str]:
    if key is None:
        return []
    parts = urlsplit(list_url)
    if engine in ("rhymix", "xe"):
        folder = _folder(parts.path, key)
        index = folder + "index.php"
        return [
            urlunsplit((parts.scheme, parts.netloc, index, f"mid={key}&act={act}", ""))
            for act in ("atom", "rss")
        ]
    if engine == "gnuboard":
        if parts.path.endswith(".php"):  # bbs/board.php -> bbs/rss.php
            folder = parts.path.rsplit("/", 1)[0] + "/"
        else:  # short URL /{bo_table}: bbs/ sits where the board's name does
            folder = _folder(parts.path, key) + "bbs/"
        query = f"bo_table={key}"
        return [urlunsplit((parts.scheme, parts.netloc, folder + "rss.php", query, ""))]
    return []


def _folder(path: str, key: str) -> str:
    """The install folder of a site: the path before the board's name (`/xe/` for
    `/xe/freeboard/page/2`), or the folder of `index.php`."""
    if path.endswith(".php") or not path.strip("/"):
        return path.rsplit("/", 1)[0] + "/"
    segments = path.split("/")
    if key in segments:
        return "/".join(segments[: segments.index(key)]) + "/"
    return "/"


# --- what the feed says ------------------------------------------------------------------


def parse_board_feed(
    data: bytes,
    *,
    engine: str,
    board_url: str,
    id_pattern: Sequence[str],
    content_type: str | None = None,
    feed_url: str | None = None,
) -> list[FeedEntry]:
    """The entries of a board's RSS 2.0 or Atom feed, in feed order (newest first).

    `id_pattern` are the board's patterns (its preset's, or its own): the same ids as its
    list rows. Entries without an id, and entries that name another board (a site-wide
    feed), are skipped. Raises BoardFeedError when the bytes are not a feed, when the feed
    has no entries (a disabled feed), or when no entry carries an id.
    """
    where = feed_url or board_url
    decoded = decode_xml(data, content_type)
    text = _XML_DECLARATION.sub('<?xml version="1.0" encoding="utf-8"?>', decoded.text, count=1)
    parsed = feedparser.parse(
        io.BytesIO(text.encode("utf-8")),
        response_headers={
            "content-type": "application/xml; charset=utf-8",
            "content-location": board_url,
        },
    )
    entries: list[Any] = list(parsed.entries)
    if not parsed.version and not entries:
        sample = fold_whitespace(LexborHTMLParser(decoded.text[:2000]).text() or "")[:80]
        raise BoardFeedError(
            f"{where}: not a feed (neither RSS nor Atom): {sample or '(empty answer)'}",
            url=where,
            reason="not a feed",
        )
    if not entries:
        said = fold_whitespace(_text(parsed.feed.get("subtitle") or ""))
        raise BoardFeedError(
            f"{where}: the feed has no entries (disabled?)" + (f": {said}" if said else ""),
            url=where,
            reason="empty",
        )
    patterns = [re.compile(p) for p in id_pattern]
    key = board_key(board_url, engine)
    found: dict[str, FeedEntry] = {}
    for raw in entries:
        entry = _entry(raw, engine, board_url, patterns, key)
        if entry is not None and entry.id not in found:
            found[entry.id] = entry
    if not found:
        raise BoardFeedError(
            f"{where}: none of the feed's {len(entries)} entries links to a post id "
            f"(id_pattern {' | '.join(id_pattern)})",
            url=where,
            reason="no ids",
        )
    return list(found.values())


def entry_article(entry: FeedEntry, *, excerpt_chars: int) -> Article:
    """The excerpt, text and first image of an entry's body, cleaned like an article page
    (ads, scripts and sharing buttons dropped): no article fetch needed."""
    page = f'<html><body><div class="{_BODY_CLASS}">{entry.body_html}</div></body></html>'
    selectors = Selectors(body=(f"div.{_BODY_CLASS}",))
    return parse_article(page, url=entry.url, selectors=selectors, excerpt_chars=excerpt_chars)


def _entry(
    raw: Any, engine: str, board_url: str, patterns: list[re.Pattern[str]], key: str | None
) -> FeedEntry | None:
    link = str(raw.get("link") or raw.get("id") or "").strip()
    if not link:
        return None
    url = urljoin(board_url, link)
    found = post_id(url, patterns)
    if found is None:
        return None
    other = _named_board(url, engine)
    if key is not None and other is not None and other != key:
        return None  # another board's post in a site-wide feed
    return FeedEntry(
        id=found,
        url=canonical_post_url(url),
        title=_title(raw, engine),
        author=_plain(str(raw.get("author") or "")),
        category=_category(raw),
        published=_published(raw),
        body_html=_body(raw),
        comments=_int(raw.get("slash_comments")),
    )


def _title(raw: Any, engine: str) -> str:
    """XE wraps an HTML-escaped title in CDATA (`<![CDATA[Tom&apos;s &amp; 팁]]>`), so its
    entities survive the XML parser; feedparser types such a title text/html only now and
    then. A text/html title is read as HTML; an XE/Rhymix one that still holds entities is
    unescaped once, as the list page's HTML would be."""
    detail = raw.get("title_detail") or {}
    value = str(raw.get("title") or "")
    if detail.get("type") == "text/html":
        return fold_whitespace(_text(value))
    return _plain(value) if engine in ("rhymix", "xe") else fold_whitespace(value)


def _plain(value: str) -> str:
    """Names in XE's CDATA carry entities (`&apos;`), unescaped here once."""
    return fold_whitespace(html.unescape(value) if _ENTITY.search(value) else value)


def _category(raw: Any) -> str:
    """Rhymix's Atom prints the category as `<category term="{srl}" label="{title}">` and
    tags without a label. RSS 2.0 prints the module's name, the category and the tags all
    as bare `<category>` elements, so a post without a category would show a tag: RSS
    entries get none rather than a guess (feed_candidates puts Atom first)."""
    for tag in raw.get("tags") or []:
        label = tag.get("label")
        if label:
            return fold_whitespace(str(label))
    return ""


def _published(raw: Any) -> datetime | None:
    """The time as printed, offset kept: `date('r')` (RSS pubDate, Gnuboard's dc:date) or
    `date('c')` (Atom). feedparser's own parsed times are UTC struct_times: only a
    fallback for forms the standard library does not read."""
    for key in ("published", "updated"):
        printed = str(raw.get(key) or "").strip()
        if not printed:
            continue
        for read in (parsedate_to_datetime, datetime.fromisoformat):
            try:
                moment = read(printed)
            except (TypeError, ValueError, IndexError):
                continue
            if moment.tzinfo is not None:
                return moment
        parsed = raw.get(f"{key}_parsed")
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def _body(raw: Any) -> str:
    """Atom's <content> (the whole article, when the board publishes it), else the RSS
    <description> or Atom <summary>; a plain-text summary is escaped into HTML."""
    for content in raw.get("content") or []:
        value = str(content.get("value") or "")
        if value.strip():
            return value if content.get("type") != "text/plain" else _as_html(value)
    summary = str(raw.get("summary") or "")
    detail = raw.get("summary_detail") or {}
    return _as_html(summary) if detail.get("type") == "text/plain" else summary


def _as_html(text: str) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line.strip())


def _text(markup: str) -> str:
    if "<" not in markup and "&" not in markup:
        return markup
    return LexborHTMLParser(f"<div>{markup}</div>").text(deep=True) or ""


def _int(value: object) -> int | None:
    text = str(value or "").strip().replace(",", "")
    return int(text) if text.isdigit() else None
