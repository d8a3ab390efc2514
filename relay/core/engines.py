"""Engine presets as data: which CSS selectors and id patterns read each board engine's list.

Pure: no I/O, no parsing. The parser (parse.py) applies a `Selectors`; the config merges a
board's `[boards.selectors]` overrides onto its engine's preset.

A selector field holds one or more CSS selectors tried in order (the first that matches in a
row wins), so one preset covers an engine's common skins: Rhymix's default skin and
sketchbook5, Gnuboard5's basic skin and the legacy Gnuboard4 one. A field left empty falls back
to the parser's heuristics (a cell that reads like a date, a number, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PageStyle = Literal["rhymix", "query"]


@dataclass(frozen=True, slots=True)
class Selectors:
    """How to read one engine's list and article pages. CSS selectors, tried in order."""

    row: tuple[str, ...] = ()
    link: tuple[str, ...] = ()  # the post's link inside a row; default: first link with an id
    number: tuple[str, ...] = ()
    title: tuple[str, ...] = ()  # default: the link's text
    author: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    notice: tuple[str, ...] = ()  # a row matching this, or containing a match, is a notice
    comments: tuple[str, ...] = ()  # the comment count element
    category: tuple[str, ...] = ()  # 말머리; default: the column headed 분류/카테고리/말머리
    views: tuple[str, ...] = ()  # 조회; default: the column headed 조회
    votes: tuple[str, ...] = ()  # 추천; default: the column headed 추천/공감/좋아요
    body: tuple[str, ...] = ()  # article body on an article page
    strip: tuple[str, ...] = ()  # elements inside the title to drop (badges, counts, icons)
    id_pattern: tuple[str, ...] = ()  # regexes with one group, applied to the link href
    page_param: str = "page"
    page_style: PageStyle = "query"

    def merged(self, overrides: dict[str, str | tuple[str, ...]]) -> Selectors:
        """This preset with single keys replaced by a board's `[boards.selectors]`."""
        changes: dict[str, object] = {}
        for key, value in overrides.items():
            if key in ("page_param", "page_style"):
                changes[key] = value
            else:
                changes[key] = (value,) if isinstance(value, str) else tuple(value)
        # dataclasses.replace cannot be typed for a dict of field values: checked by key above
        return replace(self, **changes)  # type: ignore[arg-type]


SELECTOR_KEYS = tuple(f.name for f in fields(Selectors) if f.name != "page_style")
CSS_KEYS = tuple(k for k in SELECTOR_KEYS if k not in ("id_pattern", "page_param"))

# Elements no reader sees: screen-reader-only labels (Gnuboard's "새글", "댓글"), the
# Gnuboard sideview member menu, scripts. Removed from every row before reading text.
HIDDEN = "script, style, noscript, template, .sound_only, .blind, .sv, .sv_nojs, [hidden]"

_SHORT_URL_ID = r"(?<!/page)(?<!/category)/(\d+)/?(?:[?#]|$)"
_SEO_SLUG = r"/[A-Za-z0-9_]+/([^/?#.]*[^\d/?#.][^/?#.]*)/(?:#.*)?$"


def _cells(*names: str) -> tuple[str, ...]:
    """Selectors of a field by its class names: table cells first (`td.author`), then any
    element (`.author`, the list styles without a table): a td is the surer match."""
    return tuple(f"td.{name}" for name in names) + tuple(f".{name}" for name in names)


RHYMIX = Selectors(
    # Default skin: .board_list table; sketchbook5: table.bd_lst. Rows without a post link
    # (headers, "no posts" rows) are skipped by the parser.
    row=(
        "div.board_list tbody tr",
        "table.bd_lst tbody tr",
        "#board_list tbody tr",
        "tbody tr",
        # list styles without a table: sketchbook5 webzine/gallery, list-skinned boards
        "ol.bd_lst li",
        "ul.bd_lst li",
        ".board_list li",
    ),
    link=("td.title a.hx", "td.title a", "li > a.hx"),
    # sketchbook5's webzine and card styles: the title is an <h3>, the only link "Read More"
    title=("h3.ngeb",),
    number=("td.no", "td.num", "td.notice", ".no", ".num"),
    author=(*_cells("author", "nick", "writer"), "div.info a[class^=member_]"),
    date=_cells("time", "date", "regdate"),
    notice=(
        "tr.notice",
        "li.notice",
        "tr.notice_row",
        ".notice_icon",
        "span.notice",
        "strong.notice",
        "img[src*=notice]",
    ),
    comments=(
        "a.replyNum",
        "span.replyNum",
        ".comment_count",
        "span.cmt_count",
        "div.info span:has(> i.fa-comment) > b",  # sketchbook5 webzine: icon, label, count
    ),
    category=(
        "td.cate",
        "td.category",
        "span.category",
        "strong.category",
        "div.info span:has(> i.fa-bars) > b",
    ),
    views=("div.info span:has(> i.fa-eye) > b",),
    votes=("div.info span:has(> i.fa-heart) > b",),
    body=("div.xe_content", "div.rd_body", "div.read_body", "article"),
    strip=(".replyNum", ".trackbackNum", "img", ".new", ".hot", ".icon", "i", ".cmt_count"),
    id_pattern=(r"[?&]document_srl=(\d+)", _SHORT_URL_ID),
    page_style="rhymix",
)

GNUBOARD = Selectors(
    # Gnuboard5 basic skin: #bo_list; the legacy Gnuboard4 basic skin has no classes, so its
    # rows are any table row holding a wr_id link and its cells are found by heuristics.
    row=(
        "#bo_list tbody tr",
        "#bo_list tr",
        "form[name=fboardlist] tr",
        "tr",
        # the gallery and webzine skins list posts as <li>
        "#bo_gall li.gall_li",
        "#bo_gall li",
        "#bo_list li",
    ),
    link=("div.bo_tit a", "td.td_subject a", "td.subject a", "a.bo_tit", ".gall_text_href a"),
    number=(
        "td.td_num2",
        "td.td_num",
        "td.num",
        # the gallery skin: the number only in a screen-reader span of the item
        ".gall_box > span.sound_only",
        "li.bo_img_list_li > span.sound_only",
    ),
    title=(),
    author=(
        "td.td_name .sv_member",
        "td.td_name .sv_guest",
        "td.td_name",
        "td.name",
        "span.member",
        "span.guest",
        "a[onclick*=showSideView]",
        ".sv_member",
        ".sv_guest",
    ),
    date=(
        "td.td_datetime",
        "td.td_date",
        "td.datetime",
        ".gall_date",
        ".bo_date",
        ".datetime",
        ".date",
    ),
    notice=(
        "tr.bo_notice",
        "li.bo_notice",
        "strong.notice_icon",
        ".gall_img strong.is_notice",  # the gallery: "공지" where the thumbnail would be
        ".bo_img_href strong",
        ".notice_icon",
        "img[src*=notice]",
    ),
    comments=("span.cnt_cmt", "span.comment", ".cnt_cmt"),
    # Gnuboard 4's basic skin prints "[<a href='...&sca=잡담'>잡담</a>]" before the title, in a
    # span.small; the title link itself may carry sca= too (a list filtered by category).
    category=("a.bo_cate_link", ".bo_cate_link", "span.small a[href*='sca=']"),
    views=(".gall_view",),
    body=("#bo_v_con", "#writeContents", "div.view_content", "#view_content", "article"),
    strip=(".cnt_cmt", ".new_icon", ".hot_icon", ".fa", "i", "img", ".comment", ".sound_only"),
    # Short URLs (cf_bbs_rewrite): /{bo_table}/{wr_id}, and the SEO form /{bo_table}/{slug}/
    # where the title's slug, unique in its board, is all the link names the post by.
    id_pattern=(r"[?&]wr_id=(\d+)", _SHORT_URL_ID, _SEO_SLUG),
    page_style="query",
)

CUSTOM = Selectors(
    strip=("img", "script", "style"),
    id_pattern=(
        r"[?&](?:document_srl|wr_id|no|idx|id|num|number)=(\d+)",
        _SHORT_URL_ID,
        _SEO_SLUG,
    ),
)

PRESETS: dict[str, Selectors] = {
    "rhymix": RHYMIX,
    "xe": RHYMIX,
    "gnuboard": GNUBOARD,
    "custom": CUSTOM,
}


# The layouts a preset's row selectors stand for, as `relay check` names them.
LAYOUTS = {
    "div.board_list tbody tr": "Rhymix/XE default skin (table)",
    "table.bd_lst tbody tr": "sketchbook5 list",
    "#board_list tbody tr": "XE board list (table)",
    "ol.bd_lst li": "sketchbook5 webzine / gallery / card",
    "ul.bd_lst li": "sketchbook5 webzine / gallery / card",
    ".board_list li": "list-styled board (no table)",
    "#bo_list tbody tr": "Gnuboard5 basic / mobile skin",
    "#bo_list tr": "Gnuboard5 basic skin (no tbody)",
    "form[name=fboardlist] tr": "Gnuboard4 basic skin",
    "#bo_gall li.gall_li": "Gnuboard5 gallery skin",
    "#bo_gall li": "Gnuboard5 gallery skin",
    "#bo_list li": "Gnuboard5 webzine / list skin",
}


def layout_name(row_selector: str) -> str:
    """What `relay check` says about the layout that matched: its name and its selector."""
    name = LAYOUTS.get(row_selector)
    return f"{name} (row {row_selector})" if name else f"row {row_selector}"


def page_url(list_url: str, page: int, selectors: Selectors) -> str:
    """The URL of page `page` (1-based) of a board whose page 1 is `list_url`.

    Rhymix short URLs page as /{mid}/page/{n}; its long form and every other engine take a
    query parameter (Gnuboard: page=N).
    """
    if page == 1:
        return list_url
    parts = urlsplit(list_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    if selectors.page_style == "rhymix" and not any(k == "mid" for k, _ in query):
        path = re.sub(r"/page/\d+/?$", "", parts.path.rstrip("/"))
        return urlunsplit(parts._replace(path=f"{path}/page/{page}"))
    query = [(k, v) for k, v in query if k != selectors.page_param]
    query.append((selectors.page_param, str(page)))
    return urlunsplit(parts._replace(query=urlencode(query)))
