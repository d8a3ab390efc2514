"""`relay preview`: what each selector finds on one page, to help write selectors for a new board.

Pure: takes the page's text and a `Selectors`, returns lines. For a list page it shows, per
key, the selector that hit and in how many of the post rows it found something (and what it
missed); for an article page, the body selector, the excerpt and the first image. When no
row selector works it ranks the page's repeated elements whose links carry a post id
(rowfinder.py) and shows the best three with the posts each would give: where a custom
`row` starts.
"""

from __future__ import annotations

import shlex

from selectolax.lexbor import LexborHTMLParser

from relay.core.engines import HIDDEN, Selectors
from relay.core.errors import LayoutError
from relay.core.parse import ListPage, parse_article, parse_list_page
from relay.core.report import clip, posts_table
from relay.core.rowfinder import RowCandidate as RowCandidate
from relay.core.rowfinder import rank_row_selectors as rank_row_selectors

_FIELDS = ("link", "number", "title", "author", "date", "notice", "comments")
_SHOWN_ROWS = 5

PREVIEW_DESCRIPTION = """\
Fetch one page of a board and show what each selector finds there: on a list page, per
selector key, the selector that hit and in how many post rows (and the fallback used when
none did), then the posts as they would be read; on an article page, the body, its excerpt
and its first image. Nothing is recorded or sent.

On a layout no preset knows (--engine custom, or a preset that finds no rows) it ranks the
page's repeated elements whose links carry a post id: how many rows hold that link at the
same place, and where they sit (the main content, not a sidebar, "latest posts" widget,
menu or footer). The best three are shown with the posts each gives; put the first into
[boards.selectors] as `row` and refine the other keys with --selector KEY=CSS."""

# What each key of [boards.selectors] (and --selector) does: `relay preview --help` prints it.
SELECTOR_HELP: dict[str, str] = {
    "row": "one element per post on the list page (a table row, a list item)",
    "link": "the post's link inside a row (default: the first link whose href carries an id)",
    "number": "the number column (a virtual number: shown, never used as the id)",
    "title": "the title (default: the link's text)",
    "author": "the author's name (a member pop-up menu's text is dropped)",
    "date": "the date or time shown in the row (a title= or <time datetime> refines it)",
    "notice": "a row matching it, or containing a match, is a pinned notice",
    "comments": "the comment count shown beside the title",
    "category": "the 말머리 (default: a cell under a 분류/카테고리/말머리 heading)",
    "views": "the 조회 count (default: the cell under a 조회 heading)",
    "votes": "the 추천 count (default: the cell under a 추천/공감 heading)",
    "body": "the article text on an article page (for excerpts and images)",
    "strip": "elements inside the title to drop: badges, counts, icons",
    "id_pattern": "a regular expression with one group taking the post id from the link",
    "page_param": "the query parameter for page N of the list (default page)",
}


def selector_help(keys: tuple[str, ...]) -> str:
    """The `--help` epilog: every selector key with what it does."""
    width = max(len(key) for key in keys)
    lines = ["selector keys (--selector KEY=CSS, or [boards.selectors] in the config):"]
    lines += [f"  {key:<{width}}  {SELECTOR_HELP.get(key, '')}".rstrip() for key in keys]
    lines += ["", "CSS keys take a selector or a list tried in order; the first that matches wins."]
    return "\n".join(lines)


def preview_page(page: ListPage, selectors: Selectors, *, excerpt_chars: int = 200) -> list[str]:
    """What `relay preview` prints: the page read as a list (and as an article)."""
    lines = [f"page: {page.url}"]
    lines += _list_report(page, selectors)
    lines.append("")
    lines += _article_report(page.html, page.url, selectors, excerpt_chars)
    return lines


def _list_report(page: ListPage, selectors: Selectors) -> list[str]:
    tree = LexborHTMLParser(page.html)
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
        posts = parse_list_page(page, selectors).posts
    except LayoutError as e:
        lines.append(f"  no post rows: {e}")
        lines += _row_candidates(page, selectors)
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
    lines.append(posts_table("-", posts, page.tz))
    return lines


def _row_candidates(page: ListPage, selectors: Selectors) -> list[str]:
    candidates = rank_row_selectors(page, selectors)
    if not candidates:
        patterns = " | ".join(selectors.id_pattern) or "(none)"
        return [f"  no link on this page matches id_pattern {patterns}: set id_pattern first"]
    lines = [
        "  row candidates (repeated elements with links that carry a post id), ranked by how",
        "  many rows hold that link at the same place and by where they sit (main content first):",
    ]
    for rank, candidate in enumerate(candidates, 1):
        marks = "; ".join(candidate.marks)
        lines.append(
            f"  {rank}. row = {candidate.selector!r}  (score {candidate.score:g}: "
            f"{candidate.rows} row{'' if candidate.rows == 1 else 's'}, {candidate.alike} alike"
            f"{'; ' + marks if marks else ''})"
        )
        for post_id_, title in candidate.posts[:_SHOWN_ROWS]:
            lines.append(f"       {post_id_:>10}  {clip(title, 60)}")
        if len(candidate.posts) > _SHOWN_ROWS:
            lines.append(f"       ... {len(candidate.posts) - _SHOWN_ROWS} more")
    best = candidates[0].selector
    lines.append(f"  try: --selector {shlex.quote('row=' + best)}")
    return lines


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
