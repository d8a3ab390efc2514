"""One board's Atom feed (RFC 4287) as bytes, made from the posts the state holds.

Pure: no files, no clock. The same FeedInfo and posts give the same bytes on every rebuild, so
an unchanged feed is never rewritten and readers' ETag/Last-Modified stay useful. Every date in
the feed comes from the posts (feedgen would put *now* in every <updated>).

It knows nothing of where the feed is written (files.py) or of polling; feedgen is used only
here, in `_to_feedgen`, so that replacing it touches one function.

Identity (never changes for a post, whatever happens to its title, dates or the site's URL):
    feed   tag:{authority},2025:{board_id}
    entry  tag:{authority},2025:{board_id}/{post_id}
A tag URI (RFC 4151) rather than the site URL, because boards move from http to https or to a
new path and a reader would then show every post again. The date part is fixed (TAG_DATE), not
the post's date: a post may have no board date, and its first_seen changes if the state is
rebuilt, and either would change the id. The authority is FeedInfo.tag_authority, or the host
of the board's site_url when that is empty.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from urllib.parse import quote, urlsplit

from feedgen.feed import FeedGenerator

from relay import PROJECT_URL, __version__
from relay.core.models import FeedInfo, StoredPost, id_sort_key
from relay.core.text import safe_http_url

TAG_DATE = "2025"
# <updated> of a feed with no entries: a fixed instant, so that an empty feed is byte-stable too.
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)

# XML 1.0 Char excludes C0 controls but \t \n \r, surrogates and U+FFFE/U+FFFF: one of them
# anywhere makes lxml (and so feedgen's atom_str) refuse the whole feed. DEL and the C1 controls
# are allowed but discouraged (XML 1.0 section 2.2), and readers do not keep them: feedparser
# reads U+0091 as cp1252's "‘". In text from a web page they only come from mis-decoding.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry, nor the controls it discourages."""
    return _NOT_XML.sub("", text)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One <entry>, decided: every string XML-safe, every date aware and in the feed's zone."""

    id: str
    title: str
    url: str
    author: str
    published: datetime
    updated: datetime
    summary: str  # "" -> no <summary>
    content_html: str  # "" -> no <content>
    category: str = ""  # the 말머리: <category term>; "" -> none


def render_feed(
    info: FeedInfo, posts: Sequence[StoredPost], *, max_entries: int, tz: tzinfo
) -> bytes:
    """The Atom document for `info`: the newest `max_entries` of `posts`, newest first.

    Dates are shown in `tz` (the board's zone) with their offset, in whole seconds. Posts are
    ordered by id, not by date: ids on these engines grow with time, while board dates may be
    missing or only a day. The feed's <updated> is the latest <updated> of the entries shown
    (an edited older post counts), or EMPTY_FEED_UPDATED when there are none: never the clock.
    Raises ValueError for a negative max_entries or when no tag authority can be had.
    """
    if max_entries < 0:
        raise ValueError(f"board {info.board_id}: max_entries must be >= 0, not {max_entries}")
    authority = tag_authority(info)
    board_title = xml_safe(info.title).strip() or info.board_id
    site_url = _web_url(info.site_url)
    entries = [
        _decide_entry(post, authority, board_title, site_url, tz)
        for post in _newest_first(posts)[:max_entries]
    ]
    updated = max((e.updated for e in entries), default=_in_zone(EMPTY_FEED_UPDATED, tz))
    return _to_feedgen(info, authority, board_title, updated, entries)


def tag_authority(info: FeedInfo) -> str:
    """The DNS name that owns the tag URIs: tag_authority, else the site's host."""
    authority = xml_safe(info.tag_authority).strip().lower() or urlsplit(info.site_url).hostname
    if not authority:
        raise ValueError(
            f"board {info.board_id}: no tag authority: set tag_authority or an absolute site_url"
        )
    return authority


def feed_id(authority: str, board_id: str) -> str:
    return f"tag:{authority},{TAG_DATE}:{quote(board_id, safe='')}"


def entry_id(authority: str, board_id: str, post_id: str) -> str:
    # quote with safe="" so that a "/" in either part cannot make two posts share an id.
    return f"{feed_id(authority, board_id)}/{quote(post_id, safe='')}"


def _newest_first(posts: Sequence[StoredPost]) -> list[StoredPost]:
    """Descending by id; a (board, id) given twice keeps its first occurrence."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for post in posts:
        if (post.board_id, post.id) not in seen:
            seen.add((post.board_id, post.id))
            unique.append(post)
    return sorted(unique, key=lambda p: id_sort_key(p.id), reverse=True)


def _web_url(url: str | None) -> str:
    """`url` if a reader may follow it (http or https, XML-safe), else "". The parser already
    drops other links; this guards the feed against posts stored before it did."""
    return safe_http_url(xml_safe(url or "")) or ""


def _decide_entry(
    post: StoredPost, authority: str, board_title: str, site_url: str, tz: tzinfo
) -> _Entry:
    published = _in_zone(post.published or post.first_seen, tz)
    updated = published
    if post.updated > post.first_seen:  # the title was edited after we first saw it
        # max(): a board clock ahead of ours must not make the edit look older than the post.
        updated = max(published, _in_zone(post.updated, tz))
    excerpt = xml_safe(post.excerpt).strip()
    text = xml_safe(post.text).strip()
    image = _web_url(post.image)  # only web images: no data: or javascript: URLs in readers
    content = ""
    body = xml_safe(post.body_html).strip()  # sanitized when stored (feed_content = "full")
    if body:
        content = body
    elif image or len(text) > len(excerpt):
        content = _content_html(text or excerpt, image)
    return _Entry(
        id=entry_id(authority, post.board_id, post.id),
        title=xml_safe(post.title).strip() or f"#{post.id}",
        # An entry without <content> must have an alternate link: the board's page stands in.
        url=_web_url(post.url) or site_url,
        author=xml_safe(post.author).strip() or board_title,
        published=published,
        updated=updated,
        summary=excerpt,
        content_html=content,
        category=xml_safe(post.category).strip(),
    )


def _content_html(text: str, image: str) -> str:
    """Escaped paragraphs of the plain text (blank lines split, single newlines break), then
    the image."""
    parts = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        lines = [html.escape(line.strip()) for line in paragraph.splitlines() if line.strip()]
        if lines:
            parts.append("<p>" + "<br>".join(lines) + "</p>")
    if image:
        parts.append(f'<p><img src="{html.escape(image)}" alt=""></p>')
    return "\n".join(parts)


def _in_zone(moment: datetime, tz: tzinfo) -> datetime:
    """`moment` in the feed's zone, whole seconds. A naive time (never expected) is read as
    being in `tz` rather than refused, since feedgen would refuse the whole feed."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(tz).replace(microsecond=0)


def _to_feedgen(
    info: FeedInfo,
    authority: str,
    board_title: str,
    updated: datetime,
    entries: Sequence[_Entry],
) -> bytes:
    """The only place feedgen is called."""
    fg = FeedGenerator()
    fg.id(feed_id(authority, info.board_id))
    fg.title(board_title)
    fg.author({"name": xml_safe(info.author).strip() or board_title})
    site_url, feed_url = _web_url(info.site_url), _web_url(info.feed_url)
    if site_url:
        fg.link(href=site_url, rel="alternate", type="text/html")
    if feed_url:
        fg.link(href=feed_url, rel="self", type="application/atom+xml")
    if info.language:
        fg.language(xml_safe(info.language))
    fg.generator("board-relay", version=__version__, uri=PROJECT_URL)
    fg.updated(updated)
    for entry in entries:
        # add_entry prepends by default; `entries` is already newest first.
        fe = fg.add_entry(order="append")
        fe.id(entry.id)
        fe.title(entry.title)
        if entry.url:  # feedgen drops rel on entries: a bare link means alternate
            fe.link(href=entry.url, rel="alternate")
        fe.author({"name": entry.author})
        fe.published(entry.published)
        fe.updated(entry.updated)
        if entry.summary:
            fe.summary(entry.summary)
        if entry.content_html:
            fe.content(entry.content_html, type="html")
        if entry.category:  # readers filter and group on it
            fe.category(term=entry.category)
    data: bytes = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data
