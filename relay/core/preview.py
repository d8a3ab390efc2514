"""`relay preview`: what each selector finds on one page, to help write selectors for a new board.

Pure: takes the page's text and a `Selectors`, returns lines. For a list page it shows, per
key, the selector that hit and in how many of the post rows it found something (and what it
missed); for an article page, the body selector, the excerpt and the first image. When no
row selector works it lists the links that carry an id, which is where a custom `row` starts.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from relay.core.engines import HIDDEN, Selectors
from relay.core.errors import LayoutError
from relay.core.parse import base_url, parse_article, parse_list, post_id
from relay.core.report import posts_table

_FIELDS = ("link", "number", "title", "author", "date", "notice", "comments")


def preview_page(
    html: str,
    *,
    url: str,
    selectors: Selectors,
    now: datetime,
    tz: tzinfo,
    excerpt_chars: int = 200,
) -> list[str]:
    lines = [f"page: {url}"]
    lines += _list_report(html, url, selectors, now, tz)
    lines.append("")
    lines += _article_report(html, url, selectors, excerpt_chars)
    return lines


def _list_report(html: str, url: str, selectors: Selectors, now: datetime, tz: tzinfo) -> list[str]:
    tree = LexborHTMLParser(html)
    for node in tree.css(HIDDEN):
        node.decompose()
    lines = ["list rows:"]
    chosen = None
    for selector in selectors.row:
        count = len(tree.css(selector))
        lines.append(f"  row {selector!r}: {count} elements")
        if chosen is None and count:
            chosen = selector
    try:
        posts = parse_list(html, url=url, selectors=selectors, now=now, tz=tz)
    except LayoutError as e:
        lines.append(f"  no post rows: {e}")
        lines += _links_with_ids(tree, url, selectors)
        return lines
    lines.append(f"  {len(posts)} posts parsed")
    rows = []
    for selector in selectors.row:
        rows = [r for r in tree.css(selector) if r.css_first("a[href]") is not None]
        if rows:
            break
    for key in _FIELDS:
        for selector in getattr(selectors, key):
            hits = sum(1 for r in rows if r.css_first(selector) is not None)
            if hits:
                lines.append(f"  {key:9} {selector!r}: found in {hits} of {len(rows)} rows")
                break
        else:
            tried = ", ".join(repr(s) for s in getattr(selectors, key)) or "(no selector)"
            fallback = {
                "link": "first link with an id",
                "title": "the link's text",
                "number": "first cell if numeric",
                "date": "any cell that reads as a date",
            }
            lines.append(
                f"  {key:9} {tried}: missed in every row"
                + (f" -> fallback: {fallback[key]}" if key in fallback else "")
            )
    missing_dates = sum(1 for p in posts if p.published is None)
    if missing_dates:
        lines.append(f"  {missing_dates} posts without a readable date")
    lines.append("")
    lines.append(posts_table("-", posts, tz))
    return lines


def _links_with_ids(tree: LexborHTMLParser, url: str, selectors: Selectors) -> list[str]:
    base = base_url(tree, url)
    patterns = [re.compile(p) for p in selectors.id_pattern]
    found = []
    for anchor in tree.css("a[href]"):
        href = anchor.attributes.get("href") or ""
        post = post_id(urljoin(base, href), patterns)
        if post:
            parent = anchor.parent
            chain: list[str] = []
            while parent is not None and parent.tag not in ("html", "body") and len(chain) < 4:
                classes = (parent.attributes.get("class") or "").split()
                chain.append(f"{parent.tag}" + "".join(f".{c}" for c in classes[:2]))
                parent = parent.parent
            found.append(f"    id {post}: {anchor.text(strip=True)[:40]!r} in {' < '.join(chain)}")
    if not found:
        return ["  no link on this page matches id_pattern " + " | ".join(selectors.id_pattern)]
    return ["  links that carry a post id (a row selector should match their row):", *found[:15]]


def _article_report(html: str, url: str, selectors: Selectors, excerpt_chars: int) -> list[str]:
    tree = LexborHTMLParser(html)
    lines = ["article body:"]
    for selector in selectors.body:
        if tree.css_first(selector) is not None:
            lines.append(f"  body {selector!r}: found")
            article = parse_article(html, url=url, selectors=selectors, excerpt_chars=excerpt_chars)
            lines.append(f"  excerpt: {article.excerpt or '(empty)'}")
            lines.append(f"  image:   {article.image or '(none)'}")
            return lines
    tried = ", ".join(repr(s) for s in selectors.body) or "(no body selector)"
    lines.append(f"  body {tried}: not found (fine on a list page)")
    return lines
