"""Guessing the `row` selector of an unknown board: which repeated element holds its posts.

Pure: a page's text in, ranked candidates out (`relay preview` prints the top three).

A board's rows are siblings of one tag under one parent, each holding a link that carries a
post id, placed alike in every row (`td.title > a`). Most pages have several such groups:
the board, and around it "latest posts" and "popular" widgets, the menu, the footer — and a
widget may well hold *more* id links than the board (a sidebar listing 15 posts of every
board beside a list of 10). So a group's score is how many of its rows hold their id link at
the same place, scaled by:

- one id per row: a group whose rows hold many posts each is a level too high (two columns
  of widgets), one whose rows share their ids a level too low (a row's cells);
- where it sits: inside `aside`, `nav`, `header`, `footer`, or under a class or id named
  side, widget, latest, recent, popular, rank, menu, banner... it is marked down hard;
  inside `main`, `article` or a container named content, board or bbs it gains;
- what it is: table bodies and lists gain a little (boards are tables and lists).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from relay.core.engines import HIDDEN, Selectors
from relay.core.errors import LayoutError
from relay.core.parse import ListPage, base_url, parse_list_page, post_id

SIDE_WORDS = frozenset(
    {
        "side",
        "sidebar",
        "aside",
        "widget",
        "latest",
        "recent",
        "popular",
        "rank",
        "ranking",
        "hot",
        "nav",
        "navi",
        "navigation",
        "gnb",
        "lnb",
        "snb",
        "menu",
        "footer",
        "header",
        "banner",
    }
)
MAIN_WORDS = frozenset({"content", "contents", "main", "board", "bbs", "bo", "bd", "list", "lst"})
SIDE_TAGS = ("aside", "nav", "header", "footer")
_SIDE_FACTOR = 0.15
_MAIN_FACTOR = 1.5
_CONTAINER_FACTOR = {"tbody": 1.3, "table": 1.2, "ul": 1.1, "ol": 1.1}
_MAX_DEPTH = 8
_TRIED = 12  # candidates read with parse_list_page, best first, to find `limit` distinct ones
_IDENT = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")
_GENERATED = re.compile(r"\d{3}")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@dataclass(frozen=True, slots=True)
class RowCandidate:
    """One repeated element that may be the board's rows, with what it yields."""

    selector: str  # a CSS selector for `[boards.selectors] row`
    rows: int  # elements it selects that hold a link with a post id
    alike: int  # of those, rows whose id link sits at the same place
    score: float
    marks: tuple[str, ...] = ()  # why it was marked down or up: "inside <aside>", ...
    posts: tuple[tuple[str, str], ...] = ()  # (id, title) of the posts parse_list_page reads


@dataclass
class _Group:
    parent: LexborNode
    tag: str
    rows: dict[int, tuple[LexborNode, set[str], str]] = field(default_factory=dict)


def rank_row_selectors(
    page: ListPage, selectors: Selectors, *, limit: int = 3
) -> list[RowCandidate]:
    """The best `limit` row selectors for this page, best first; each with the posts it
    yields (its rows read with `selectors`' other keys). Candidates that yield no post are
    dropped."""
    tree = LexborHTMLParser(page.html)
    for node in tree.css(HIDDEN):
        node.decompose()
    patterns = [re.compile(p) for p in selectors.id_pattern]
    groups, carriers = _groups(tree, base_url(tree, page.url), patterns)
    scored: dict[str, RowCandidate] = {}
    for group in groups:
        candidate = _score(tree, group, carriers)
        if candidate is not None and (
            candidate.selector not in scored or scored[candidate.selector].score < candidate.score
        ):
            scored[candidate.selector] = candidate
    ranked: list[RowCandidate] = []
    yielded: set[tuple[str, ...]] = set()
    for candidate in sorted(scored.values(), key=lambda c: -c.score)[:_TRIED]:
        try:
            posts = parse_list_page(page, replace(selectors, row=(candidate.selector,))).posts
        except LayoutError:
            continue
        ids = tuple(p.id for p in posts)
        if ids in yielded:  # the same rows by another path (tbody > tr, table tr): one is enough
            continue
        yielded.add(ids)
        ranked.append(replace(candidate, posts=tuple((p.id, p.title) for p in posts)))
        if len(ranked) == limit:
            break
    return ranked


def _groups(
    tree: LexborHTMLParser, base: str, patterns: list[re.Pattern[str]]
) -> tuple[list[_Group], set[int]]:
    """Every (parent, child tag) pair whose children hold id links, with the ids each
    child holds and where its first id link sits inside it; and every element that holds
    an id link (by mem_id)."""
    groups: dict[tuple[int, str], _Group] = {}
    carriers: set[int] = set()
    for anchor in tree.css("a[href]"):
        href = (anchor.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        found = post_id(urljoin(base, href), patterns)
        if found is None:
            continue
        below: list[str] = []  # from the row's child down to the link, with classes
        element: LexborNode | None = anchor
        for _ in range(_MAX_DEPTH):
            if element is None or element.tag in ("body", "html"):
                break
            parent = element.parent
            if parent is None:
                break
            carriers.add(element.mem_id)
            tag = element.tag or ""
            # the row by its tag only: rows alternate classes (even, notice, select)
            place = " > ".join([tag, *below])
            group = groups.setdefault((parent.mem_id, tag), _Group(parent, tag))
            row = group.rows.get(element.mem_id)
            if row is None:
                group.rows[element.mem_id] = (element, {found}, place)
            else:
                row[1].add(found)
            below.insert(0, _describe(element, with_id=False))
            element = parent
    # A board with one post has one row: kept where a board's rows would be (a table body,
    # a list), where it still outranks a widget marked down for its place.
    kept = [
        g
        for g in groups.values()
        if len(g.rows) >= 2 or (g.parent.tag in _CONTAINER_FACTOR and g.tag in ("tr", "li"))
    ]
    return kept, carriers


def _score(tree: LexborHTMLParser, group: _Group, carriers: set[int]) -> RowCandidate | None:
    rows = list(group.rows.values())
    alike = Counter(place for _, _, place in rows).most_common(1)[0][1]
    distinct = len({post for _, ids, _ in rows for post in ids})
    if distinct == 1 and len(rows) > 1:
        return None  # the links of one post: the inside of one row (title and comments)
    share = distinct / len(rows)  # 1: one post per row
    score = alike * min(share, 1 / share)
    factor, marks = _where(rows[0][0])
    score *= factor * _CONTAINER_FACTOR.get(group.parent.tag or "", 1.0)
    if share > 1.5:
        marks.append(f"{share:.0f} posts per row")
    elif share < 0.75:
        marks.append("rows share their posts")
    selector = _selector(tree, group, carriers)
    if selector is None:
        return None
    return RowCandidate(selector, len(rows), alike, round(score, 2), tuple(marks))


def _where(row: LexborNode) -> tuple[float, list[str]]:
    """How much the place of the rows is worth, and why (see the module docstring)."""
    factor, marks, main = 1.0, [], False
    seen: set[str] = set()
    node: LexborNode | None = row
    while node is not None and node.tag not in ("body", "html"):
        tag = node.tag or ""
        reasons = [f"inside <{tag}>"] if tag in SIDE_TAGS else []
        words = _words(node)
        reasons += [f"under {w!r}" for w in sorted(words & SIDE_WORDS)]
        for reason in reasons:
            if reason not in seen:
                seen.add(reason)
                factor *= _SIDE_FACTOR
                marks.append(reason)
        if tag in ("main", "article") or node.attributes.get("role") == "main":
            main = True
        main = main or bool(words & MAIN_WORDS)
        node = node.parent
    if main:
        factor *= _MAIN_FACTOR
        marks.append("in the main content")
    return factor, marks


def _words(node: LexborNode) -> set[str]:
    """The words of an element's class and id: `side_latest` -> side, latest; `sideBar`
    -> side, bar. A board named `ranknews` stays one word (not "rank")."""
    attrs = node.attributes
    text = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    return {w.lower() for w in _WORDS.findall(text) if not w.isdigit()}


def _selector(tree: LexborHTMLParser, group: _Group, carriers: set[int]) -> str | None:
    """A selector that selects the group's rows and no other element holding an id link
    (rows without one, such as spacer rows, are harmless): the parent and the row, anchored
    at the nearest ancestor with an id when there is one (`#bo_list tbody > tr` outlives a
    layout change better than `tbody > tr`), else with as many ancestors as it takes; None
    when no chain of ancestors tells the rows apart."""
    elements = [element for element, _, _ in group.rows.values()]
    # Classes every row has (li.gall_li); one row alone cannot say which of its are shared.
    shared = set(_classes(elements[0])) if len(elements) > 1 else set()
    for element in elements[1:]:
        shared &= set(_classes(element))
    kept = [c for c in _classes(elements[0]) if c in shared][:2]
    row = group.tag + "".join(f".{c}" for c in kept)
    wanted = {e.mem_id for e in elements}
    base = f"{_describe(group.parent)} > {row}"
    table = group.parent.parent
    if group.parent.tag == "tbody" and table is not None and _describe(table) != "table":
        base = f"{_describe(table)} {base}"  # table.bd_lst tbody > tr says more than tbody

    def exact(selector: str) -> bool:
        return {m.mem_id for m in tree.css(selector)} & carriers == wanted

    anchor = _id_ancestor(group.parent)
    if anchor is not None and exact(f"{_describe(anchor)} {base}"):
        return f"{_describe(anchor)} {base}"
    chain, node = base, group.parent.parent
    for _ in range(4):
        if exact(chain):
            return chain
        if node is None or node.tag in ("body", "html"):
            break
        chain = f"{_describe(node)} {chain}"
        node = node.parent
    # Twin lists (two columns alike): tell them apart by position.
    chain, node = f"{_describe(group.parent, at=True)} > {row}", group.parent.parent
    for _ in range(4):
        if exact(chain):
            return chain
        if node is None or node.tag in ("body", "html"):
            return None
        chain = f"{_describe(node, at=True)} > {chain}"
        node = node.parent
    return None


def _id_ancestor(node: LexborNode) -> LexborNode | None:
    """The nearest ancestor (within four levels above `node`) with a usable id."""
    ancestor = node.parent
    for _ in range(4):
        if ancestor is None or ancestor.tag in ("body", "html"):
            return None
        if _usable_id(ancestor):
            return ancestor
        ancestor = ancestor.parent
    return None


def _usable_id(node: LexborNode) -> str | None:
    """An id a selector can rely on: a CSS identifier, and not generated per page
    (sketchbook5's `bd_150_48213` carries the open post's document_srl)."""
    ident = (node.attributes.get("id") or "").strip()
    return ident if _IDENT.match(ident) and not _GENERATED.search(ident) else None


def _describe(node: LexborNode, *, with_id: bool = True, at: bool = False) -> str:
    """`#id`, else `tag.class1.class2`; `at`: with `:nth-child(n)` when a sibling has the
    same description."""
    ident = _usable_id(node)
    if with_id and ident:
        return f"#{ident}"
    described = (node.tag or "") + "".join(f".{c}" for c in _classes(node)[:2])
    parent = node.parent
    if not at or parent is None:
        return described
    siblings = [child for child in parent.iter() if child.tag and not child.tag.startswith("-")]
    twins = [c for c in siblings if _describe(c) == described]
    if len(twins) < 2:
        return described
    position = next(i for i, c in enumerate(siblings, 1) if c.mem_id == node.mem_id)
    return f"{described}:nth-child({position})"


def _classes(node: LexborNode) -> list[str]:
    return [c for c in (node.attributes.get("class") or "").split() if _IDENT.match(c)]
