"""One board's JSON Feed 1.1 (https://jsonfeed.org/version/1.1) as bytes, beside its Atom file.

Pure, and made from exactly what the Atom feed is made from: the same FeedInfo and posts, and
each entry as atom.py decides it (`_decide_entry`: the id, title, link, author and dates), so a
reader that follows both formats sees one post once, under one id, with one date. Only the
content differs in form: a full sanitized body goes in `content_html`, otherwise the plain text
goes in `content_text` (JSON Feed says which one a string is, where Atom escapes HTML).

Like the Atom feed, the bytes depend on nothing but the inputs (no clock, stable key order), so
an unchanged feed is never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

# The entry decisions and order are atom.py's, shared on purpose: both formats must agree.
from relay.core.atom import _decide_entry, _newest_first, tag_authority, xml_safe
from relay.core.models import FeedInfo, StoredPost

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
JSON_FEED_CONTENT_TYPE = "application/feed+json"


def render_json_feed(
    info: FeedInfo,
    posts: Sequence[StoredPost],
    *,
    max_entries: int,
    tz: tzinfo,
    feed_url: str | None = None,
    bodies: Mapping[str, str] | None = None,
) -> bytes:
    """The JSON Feed for `info`: the newest `max_entries` of `posts`, newest first, UTF-8.

    `feed_url` is where this JSON file is served (FeedInfo.feed_url is the Atom file's).
    `bodies` maps a post id to its sanitized full body (relay.core.sanitize): such an item has
    `content_html`; the others have `content_text` (the article text, else the excerpt).
    Dates are RFC 3339 in `tz` (the board's zone), whole seconds, as in the Atom feed.
    Raises ValueError for a negative max_entries or when no tag authority can be had.
    """
    if max_entries < 0:
        raise ValueError(f"board {info.board_id}: max_entries must be >= 0, not {max_entries}")
    authority = tag_authority(info)
    board_title = xml_safe(info.title).strip() or info.board_id
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": board_title,
        "home_page_url": xml_safe(info.site_url),
    }
    if feed_url:
        feed["feed_url"] = xml_safe(feed_url)
    feed["authors"] = [{"name": xml_safe(info.author).strip() or board_title}]
    if info.language:
        feed["language"] = xml_safe(info.language)
    feed["items"] = [
        _item(post, info, authority, board_title, tz, (bodies or {}).get(post.id))
        for post in _newest_first(posts)[:max_entries]
    ]
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _item(
    post: StoredPost,
    info: FeedInfo,
    authority: str,
    board_title: str,
    tz: tzinfo,
    body: str | None,
) -> dict[str, Any]:
    entry = _decide_entry(post, authority, board_title, info.site_url, tz)
    language = info.language
    item: dict[str, Any] = {"id": entry.id, "url": entry.url, "title": entry.title}
    text = xml_safe(post.text).strip() or entry.summary
    if body:
        item["content_html"] = xml_safe(body)
    else:
        item["content_text"] = text  # "" when nothing was read: the spec wants one present
    if entry.summary and (body or entry.summary != text):
        item["summary"] = entry.summary
    image = xml_safe(post.image or "").strip()
    if image.lower().startswith(("http://", "https://")):
        item["image"] = image
    item["date_published"] = entry.published.isoformat()
    item["date_modified"] = entry.updated.isoformat()
    item["authors"] = [{"name": entry.author}]
    if language:
        item["language"] = xml_safe(language)
    return item
