"""The URLs of a list page: what relative links resolve against, the stable id a post link
carries, and one canonical URL per post. Pure: string work and selectolax's tree only.

Whether a URL may reach a reader at all (http and https only) is text.safe_http_url's call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

# Query parameters that only say where the list was when the link was made.
_LIST_STATE_PARAMS = {
    "page",
    "cpage",
    "listStyle",
    "sort_index",
    "order_type",
    "spt",
    "sst",
    "sod",
    "sop",
    "sfl",
    "stx",
    "sca",
    "search_target",
    "search_keyword",
    "division",
    "last_division",
}
_LIST_STATE_KEY = re.compile(r"[?&](?:" + "|".join(sorted(_LIST_STATE_PARAMS)) + r")=")


def base_url(tree: LexborHTMLParser, url: str) -> str:
    """The URL relative links resolve against: <base href> (itself relative to the page)."""
    base = tree.css_first("base[href]")
    href = (base.attributes.get("href") or "").strip() if base is not None else ""
    return urljoin(url, href) if href else url


def post_id(href: str, patterns: Iterable[re.Pattern[str]]) -> str | None:
    """The stable id in a link, from the first pattern that matches (path and query only)."""
    scheme_end = href.find("://")
    target = href
    if scheme_end != -1:  # keep path, query and fragment: a port or host is no id
        slash = href.find("/", scheme_end + 3)
        target = href[slash:] if slash != -1 else ""
    for pattern in patterns:
        match = pattern.search(target)
        if match and match.group(1):
            return match.group(1)
    return None


def canonical_post_url(url: str) -> str:
    """The post URL without list state (page, search) or fragment: one URL per post.

    The query is filtered as text, not decoded and re-encoded: what stays is byte for byte
    what the board wrote (an EUC-KR board's percent-escapes included)."""
    if "#" not in url and ("?" not in url or not _LIST_STATE_KEY.search(url)):
        return url
    without_fragment = url.partition("#")[0]
    path, _, query = without_fragment.partition("?")
    kept = [
        part
        for part in query.split("&")
        if part and part.partition("=")[0] not in _LIST_STATE_PARAMS
    ]
    return path + ("?" + "&".join(kept) if kept else "")
