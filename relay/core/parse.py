"""HTML (as str) -> posts and article excerpts, with selectolax. Pure: no I/O.

The parser never turns a broken layout into "no posts": a list page with no post rows raises
`LayoutError` naming the URL and the row selector. Each row gives a post only when a link in it
carries a stable id (document_srl, wr_id, /board/47209): the 번호 column is a virtual number
that shifts when a post is deleted, so it never identifies a post.

What comes from a page is bounded and defused here: at most `max_rows` rows are read, a row
whose post link is not http(s) (javascript:, data:, file: ...) is dropped, and so is such an
image; both are said in `ParsedList.warnings` for the caller to log with the board's id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from relay.core import columns
from relay.core.engines import CSS_KEYS, HIDDEN, Selectors
from relay.core.errors import LayoutError
from relay.core.links import base_url, canonical_post_url, post_id
from relay.core.models import Article, Post
from relay.core.rowdate import row_date
from relay.core.text import excerpt, fold_whitespace, safe_http_url

__all__ = [
    "MAX_ROWS",
    "ParsedList",
    "base_url",
    "canonical_post_url",
    "check_selectors",
    "parse_article",
    "ListPage",
    "parse_list_page",
    "post_id",
]

_CURRENT_MARKS = ("»", "열람중", "현재글", "&raquo;")
_NOTICE_WORDS = ("공지", "notice", "공지사항", "필독")
# `<span class="sound_only">댓글</span>3<span class="sound_only">개</span>` inside the title
# link (Gnuboard5's older and mobile skins): the 3 is the comment count, not the title's.
_BARE_COMMENT_COUNT = re.compile(
    r'<span class="sound_only">\s*댓글\s*</span>\s*(\d{1,6})\s*(?=<span class="sound_only">)'
)
_TRAILING_COUNT = re.compile(r"\s*[\[(]\s*\+?(\d{1,6})\s*[\])]\s*$")
_NOISE = (
    "script, style, noscript, iframe, ins, object, embed, form, button, nav, aside, template, "
    ".adsbygoogle, [class~=ad], [class~=ads], [class~=advert], [class*=adsense], "
    "[class*=advertis], [class^=ad-], [class*=' ad-'], [class^=ad_], [class*=' ad_'], "
    "[id^=ad-], [id^=ad_], [id^=div-gpt-ad], [id*=google_ads], .revenue_unit_wrap, "
    "[class*=_ad_], [class*=-ad-], [class$=_ad], [class$=-ad], [class*=sponsor], "
    "a[rel~=sponsored], "
    ".document_popup_menu, .sound_only, .blind, [hidden], [style*='display:none'], "
    "[style*='display: none']"
)
_BLOCKS = "br, p, div, li, tr, h1, h2, h3, h4, h5, h6, blockquote, pre, table, ul, ol, figure"
ARTICLE_TEXT_CHARS = 4000
# Rows read from one list page: boards show 15 to 100 posts a page; a page listing 100,000
# must not cost a parse of 100,000 rows (nor, later, 100,000 article fetches).
MAX_ROWS = 500
_SHOWN_URL_CHARS = 80


@dataclass(frozen=True, slots=True)
class ParsedList:
    """One list page, read: its posts in page order (top first), and what was left out and why
    (rows beyond the cap, rows with a link that is not http(s)). The warnings name the page's
    URL but not the board, which the parser does not know: the caller adds it."""

    posts: tuple[Post, ...]
    warnings: tuple[str, ...] = ()
    row_selector: str = ""  # the preset's layout that matched: see engines.layout_name


@dataclass(frozen=True, slots=True)
class ListPage:
    """A list page to read: its decoded HTML, the URL it came from (relative links resolve
    against it, warnings name it), and the poll's moment and the board's zone (a row that
    shows only "15:32" or "3분 전" is dated against them)."""

    html: str
    url: str
    now: datetime
    tz: tzinfo


def parse_list_page(
    page: ListPage, selectors: Selectors, *, max_rows: int = MAX_ROWS
) -> ParsedList:
    """The posts of one list page and the warnings about rows left out. At most `max_rows`
    rows (of the first row selector that gives posts) are read. Raises LayoutError when no
    row gives a post, ValueError for a `max_rows` below 1."""
    html, url, now, tz = page.html, page.url, page.now, page.tz
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, not {max_rows}")
    if "sound_only" in html:  # Gnuboard's older skins: a count with no element of its own
        html = _BARE_COMMENT_COUNT.sub(r'<span class="cnt_cmt">\1</span>', html)
    tree = LexborHTMLParser(html)
    base = base_url(tree, url)
    _drop_hidden(tree, selectors.number)
    dropped: list[str] = []
    for row_selector in selectors.row:
        rows = tree.css(row_selector)
        if not rows:
            continue
        listed = len(rows)
        if listed > max_rows:
            # Rows past the cap are never read: removed, they no longer make every
            # whole-page lookup below (_Page's narrowing) walk 100,000 rows. (A later row
            # selector, tried only if these rows gave no post, sees the page without them.)
            for extra in rows[max_rows:]:
                extra.decompose()
            del rows[max_rows:]
        reader = _Page(tree, base, selectors, now, tz, columns.header_columns(rows[0]))
        posts = _merge_repeats(post for row in rows if (post := reader.read_row(row)) is not None)
        warnings = [_unsafe_warning(url, found, link) for found, link in reader.unsafe]
        if posts:
            if listed > max_rows:
                warnings.append(
                    f"{url}: the page has {listed:,} rows; only the first {max_rows:,} "
                    "were read (the cap on rows per list page)"
                )
            return ParsedList(tuple(posts), tuple(warnings), row_selector)
        dropped += warnings
    if dropped:  # every row links elsewhere than http(s): say so, not "the layout changed"
        raise LayoutError(
            f"{url}: no post rows with an http(s) link; " + "; ".join(dropped[:3]),
            url=url,
            selector=", ".join(selectors.row),
        )
    raise LayoutError(
        f"{url}: no post rows (row selector {' | '.join(selectors.row) or '(none)'}): "
        "the layout changed or this is not the list page",
        url=url,
        selector=", ".join(selectors.row),
    )


def parse_article(html: str, *, url: str, selectors: Selectors, excerpt_chars: int) -> Article:
    """Excerpt, capped plain text and first image of an article's body (empty if not found)."""
    tree = LexborHTMLParser(html)
    base = base_url(tree, url)
    body = _first(tree.root, selectors.body) if tree.root is not None else None
    if body is None:
        return Article(excerpt="", text="")
    for node in body.css(_NOISE):
        node.decompose()
    image = _first_image(body, base)
    for node in body.css(_BLOCKS):
        node.insert_after("\n")
    lines = [fold_whitespace(line) for line in (body.text(deep=True) or "").split("\n")]
    text = "\n".join(line for line in lines if line)
    return Article(
        excerpt=excerpt(text, excerpt_chars),
        text=excerpt(text, ARTICLE_TEXT_CHARS) if len(text) > ARTICLE_TEXT_CHARS else text,
        image=image,
    )


def check_selectors(selectors: Selectors) -> None:
    """Raise ValueError naming the key of a selector or pattern that cannot be used."""
    probe = LexborHTMLParser("<html><body><p>x</p></body></html>")
    for key in CSS_KEYS:
        for selector in getattr(selectors, key):
            try:
                probe.css(selector)
            except Exception as e:  # selectolax raises its own error types for bad CSS
                raise ValueError(f'{key} "{selector}" is not a CSS selector: {e}') from None
    for pattern in selectors.id_pattern:
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f'id_pattern "{pattern}" is not a regular expression: {e}') from None


class _Page:
    """What one list page's rows share: its base URL, the id patterns, and each field's
    selectors narrowed to those present on the page.

    selectolax re-parses a selector on every query, so a row trying seven author selectors
    that this skin never uses costs seven queries; narrowing once per page keeps the
    selectors' order of preference and drops the misses.
    """

    def __init__(
        self,
        tree: LexborHTMLParser,
        base: str,
        selectors: Selectors,
        now: datetime,
        tz: tzinfo,
        headed: dict[str, int],
    ) -> None:
        self.base, self.now, self.tz, self.headed = base, now, tz, headed
        parts = urlsplit(base)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.patterns = [re.compile(p) for p in selectors.id_pattern]
        root = tree.root

        def present(choices: tuple[str, ...]) -> tuple[str, ...]:
            if root is None:
                return ()
            return tuple(s for s in choices if root.css_first(s) is not None)

        self.link = present(selectors.link)
        self.title = present(selectors.title)
        self.number = present(selectors.number)
        self.author = present(selectors.author)
        self.date = present(selectors.date)
        self.comments = present(selectors.comments)
        self.category = present(selectors.category)
        self.views = present(selectors.views)
        self.votes = present(selectors.votes)
        self.notice = ", ".join(present(selectors.notice))
        self.strip = ", ".join(selectors.strip)
        self.unsafe: list[tuple[str, str]] = []  # (post id, link) of rows dropped for their link

    def read_row(self, row: LexborNode) -> Post | None:
        link, found_id, url = self._post_link(row)
        if link is None or found_id is None:
            if found_id is not None:  # its only post link is javascript:alert(1)//102 or such
                self.unsafe.append((found_id, url))
            return None
        title_node = _first(row, self.title) or link
        comments = (columns.count(_first(row, self.comments)) or 0) or columns.count_beside(link)
        title = self._clean_title(title_node)
        trailing = _TRAILING_COUNT.search(title)
        if trailing and comments == 0:
            comments = int(trailing.group(1))
            title = title[: trailing.start()].rstrip()
        number_text = _text(_first(row, self.number)) or _first_cell_text(row)
        notice = (bool(self.notice) and row.css_matches(self.notice)) or (
            number_text.strip().lower() in _NOTICE_WORDS
        )
        number = None
        if not notice and not any(mark in number_text for mark in _CURRENT_MARKS):
            digits = number_text.replace(",", "")
            number = int(digits) if digits.isdigit() else None
        cells = columns.cells(row) if self.headed else []
        category = _first(row, self.category) or columns.cell_at(cells, self.headed.get("category"))
        views = _first(row, self.views) or columns.cell_at(cells, self.headed.get("views"))
        votes = _first(row, self.votes) or columns.cell_at(cells, self.headed.get("votes"))
        return Post(
            id=found_id,
            url=canonical_post_url(url),
            title=title or f"#{found_id}",
            number=number,
            author=_text(_first(row, self.author)),
            published=row_date(row, self.date, self.now, self.tz),
            notice=notice,
            comments=comments,
            category=_text(category),
            views=columns.count(views),
            votes=columns.count(votes),
        )

    def _post_link(self, row: LexborNode) -> tuple[LexborNode | None, str | None, str]:
        """The post's link: the first the preset's link selectors find whose href has an id;
        else the first such link that has text (a gallery's thumbnail link has none).

        Only http(s) links count, as cleaned by safe_http_url. When the row has none but has
        an id-bearing link of another scheme (javascript:, data:, file:), the node is None and
        that id and link are returned, for the row to be dropped with a warning."""
        bare: tuple[LexborNode, str, str] | None = None
        unsafe: tuple[str, str] | None = None
        for selector in (*self.link, "a[href]"):
            for anchor in row.css(selector):
                href = (anchor.attributes.get("href") or "").strip()
                if not href or href.startswith(("#", "mailto:")):
                    continue
                url = self._resolve(href)
                found = post_id(url, self.patterns)
                if not found:
                    continue
                safe = safe_http_url(url)
                if safe is None:
                    unsafe = unsafe or (found, url)
                    continue
                if selector != "a[href]" or (anchor.text(deep=True) or "").strip():
                    return anchor, found, safe
                bare = bare or (anchor, found, safe)
        if bare is not None:
            return bare
        return (None, *unsafe) if unsafe is not None else (None, None, "")

    def _resolve(self, href: str) -> str:
        """urljoin, with the common cases done directly (urljoin costs ~15 µs a row)."""
        if href.startswith(("http://", "https://", "javascript:")):
            return href  # (urljoin keeps a URL of another scheme as it is anyway)
        if href.startswith("/") and not href.startswith("//") and "/." not in href:
            return self.origin + href
        return urljoin(self.base, href)

    def _clean_title(self, node: LexborNode) -> str:
        if self.strip:
            node = node.clone()
            for junk in node.css(self.strip):
                junk.decompose()
        return fold_whitespace(node.text(deep=True, separator=" ") or "")


def _drop_hidden(tree: LexborHTMLParser, number: tuple[str, ...]) -> None:
    """Remove what no reader sees, except where a number selector points: Gnuboard's gallery
    prints the virtual number only in a screen-reader `.sound_only` span."""
    kept = {n.mem_id for s in number for n in tree.css(s)} if number else set()
    for node in tree.css(HIDDEN):
        if node.mem_id not in kept:
            node.decompose()


def _first_cell_text(row: LexborNode) -> str:
    cell = row.css_first("td")
    text = _text(cell)
    return text if text.replace(",", "").isdigit() or text in _CURRENT_MARKS else ""


def _first_image(body: LexborNode, base: str) -> str | None:
    """The first visible image with an http(s) URL (it becomes the link preview and the feed's
    <img>): data:, javascript: and other schemes are passed over."""
    for img in body.css("img"):
        attrs = img.attributes
        src = attrs.get("data-original") or attrs.get("data-src") or attrs.get("src") or ""
        if not src.strip() or attrs.get("width") in ("0", "1"):
            continue
        image = safe_http_url(urljoin(base, src.strip()))
        if image is not None:
            return image
    return None


def _unsafe_warning(url: str, found: str, link: str) -> str:
    shown = link if len(link) <= _SHOWN_URL_CHARS else link[: _SHOWN_URL_CHARS - 1] + "…"
    return f"{url}: row of post {found} dropped: its link {shown!r} is not http(s)"


def _first(scope: LexborNode, selectors: Iterable[str]) -> LexborNode | None:
    for selector in selectors:
        node = scope.css_first(selector)
        if node is not None:
            return node
    return None


def _text(node: LexborNode | None) -> str:
    return fold_whitespace(node.text(deep=True, separator=" ") or "") if node is not None else ""


def _merge_repeats(posts: Iterable[Post]) -> list[Post]:
    """One post per id: a notice may also be listed as a plain row (XE lists it twice)."""
    merged: dict[str, Post] = {}
    for post in posts:
        first = merged.get(post.id)
        if first is None:
            merged[post.id] = post
        else:
            merged[post.id] = replace(
                first,
                number=first.number if first.number is not None else post.number,
                author=first.author or post.author,
                published=first.published or post.published,
                notice=first.notice or post.notice,
                comments=max(first.comments, post.comments),
                category=first.category or post.category,
                views=first.views if first.views is not None else post.views,
                votes=first.votes if first.votes is not None else post.votes,
            )
    return list(merged.values())
