"""The columns of a board's list table, by their headings: 조회 (views), 추천 (votes), 분류
(category); and the counts, also the comment count some skins print bare after the title.
Skins print these counts in cells with no class of their own (Gnuboard5's basic
skin prints views, votes and down-votes all as `td.td_num`, and only when the board enables
them), but every stock skin heads its columns in `<th>`: the heading says what a cell is.

Pure: selectolax nodes in, indexes and values out.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

from relay.core.text import fold_whitespace

# Heading words per field, checked in order: "비추천" (down-votes) is not "추천".
_HEADINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("skip", ("비추천", "반대", "dislike")),
    ("views", ("조회", "hit", "view", "read")),
    ("votes", ("추천", "공감", "좋아요", "vote", "like")),
    ("category", ("분류", "카테고리", "말머리", "category", "구분")),
)
_DIGITS = re.compile(r"\d[\d,]*")
_LEADING_COUNT = re.compile(r"\s*[\[(]\s*\+?(\d{1,6})\s*[\])]")


def header_columns(row: LexborNode | None) -> dict[str, int]:
    """{"views": i, "votes": j, "category": k} for the table holding `row`, from its heading
    row (colspans counted); empty when the table has no headings (lists, galleries)."""
    table = row
    while table is not None and table.tag != "table":
        table = table.parent
    if table is None:
        return {}
    heading_row = next((tr for tr in table.css("tr") if tr.css_first("th") is not None), None)
    if heading_row is None:
        return {}
    found: dict[str, int] = {}
    index = 0
    for cell in cells(heading_row):
        words = fold_whitespace(cell.text(deep=True) or "").replace(" ", "").lower()
        for name, choices in _HEADINGS:
            if any(word in words for word in choices):
                if name != "skip":
                    found.setdefault(name, index)
                break
        index += _span(cell)
    return found


def cells(row: LexborNode) -> list[LexborNode]:
    """The row's own cells (not those of a table nested in one)."""
    return [child for child in row.iter() if child.tag in ("td", "th")]


def cell_at(row_cells: list[LexborNode], column: int | None) -> LexborNode | None:
    """The cell under heading `column`, colspans counted; None past the row's end."""
    if column is None:
        return None
    index = 0
    for cell in row_cells:
        if index == column:
            return cell
        index += _span(cell)
        if index > column:
            return None
    return None


def count(node: LexborNode | None) -> int | None:
    """The number a cell prints ("1,234"), None when it prints none."""
    if node is None:
        return None
    digits = _DIGITS.search(_text(node))
    return int(digits.group().replace(",", "")) if digits else None


def _span(cell: LexborNode) -> int:
    span = (cell.attributes.get("colspan") or "1").strip()
    return int(span) if span.isdigit() and 0 < int(span) < 100 else 1


def count_beside(link: LexborNode) -> int:
    """A comment count printed right after the title link, "(17)" or "[3]", as legacy skins
    (Gnuboard 4, Zeroboard) do without any class to select it by. Only what follows the link
    is read: Gnuboard 4 prints the category before it as "[잡담]", which is no count."""
    cell = link.parent
    while cell is not None and cell.tag not in ("td", "li", "tr", "div"):
        cell = cell.parent
    if cell is None:
        return 0
    rest = _text_after(link, cell)
    for trackbacks in cell.css(".trackbackNum"):  # XE prints "[1]" trackbacks the same way
        rest = rest.replace(_text(trackbacks), "", 1)
    match = _LEADING_COUNT.match(rest)
    return int(match.group(1)) if match else 0


def _text_after(node: LexborNode, cell: LexborNode) -> str:
    """The text that follows `node` inside `cell`, in document order: its later siblings,
    then those of each parent up to the cell."""
    parts: list[str] = []
    at: LexborNode | None = node
    while at is not None and at.mem_id != cell.mem_id:
        sibling = at.next
        while sibling is not None:
            parts.append(sibling.text(deep=True, separator=" ") or "")
            sibling = sibling.next
        at = at.parent
    return fold_whitespace(" ".join(parts))


def _text(node: LexborNode) -> str:
    return fold_whitespace(node.text(deep=True, separator=" ") or "")
