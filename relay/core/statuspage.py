"""The operator's pages: `/` (every board at a glance) and `/boards/<id>` (one board's last posts
and where each delivery stands), as server-rendered HTML strings. Pure: records in, text out.

Written for a phone on the way to fix something: one column of cards under 40 rem, a viewport
meta, a few lines of inline CSS, and no script at all (nothing to build, nothing to block, no
console to check). The sparkline of new posts per hour is inline SVG, one `<rect>` per hour with
its count in `data-count` and a `<title>` a finger or a mouse can bring up.

Nothing secret reaches the page: the records carry no token, and chat ids are written only with
`show_chats=True` (routes are named by their route name instead). Every scraped or configured
string is escaped here, once, at the point it becomes HTML. Links are relative ("boards/x",
"feeds/x.atom") so the pages keep working behind a reverse proxy that mounts them under a path.

It knows nothing of the state, the listener or polling: the web layer fills the records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from html import escape
from itertools import chain
from typing import Literal
from urllib.parse import quote

from relay.core.atom import xml_safe
from relay.core.coordination import InstanceInfo
from relay.core.instances import instances_html
from relay.core.sparkline import SPARK_HOURS, Sparklines, hourly_counts

__all__ = [
    "SPARK_HOURS",
    "BoardRow",
    "DeliveryRow",
    "PostRow",
    "RoutePending",
    "hourly_counts",
    "render_board",
    "render_index",
]

Lang = Literal["ko", "en"]
DeliveryState = Literal["sent", "pending", "failed"]
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")  # needs no percent-encoding (RFC 3986)
# What escaping or xml_safe would change: most strings (ids, names, numbers) have none, and one
# search is cheaper than five replaces and a substitution, a few thousand times a page.
_UNSAFE = re.compile("[&<>\"'\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class RoutePending:
    """Deliveries waiting on one route to one chat."""

    route: str  # the route's name, safe to show ("telegram", "admin"): never the chat id
    chat: str  # the chat id or @name: shown only with show_chats
    pending: int
    failed: int = 0


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One board as the status page shows it. Times are aware (any zone; shown in `tz`)."""

    id: str
    title: str
    url: str  # the board's list page
    feed_name: str  # the Atom file's name in feeds_dir, served at feeds/<feed_name>
    json_feed_name: str = ""  # the JSON Feed's file name, "" when there is none
    ok: bool = True  # what /healthz says for this board
    problem: str = ""  # why not ok: "layout", "no successful poll for 700s (limit 360s)"
    backing_off_until: datetime | None = None  # no poll before this (a failure's backoff)
    quiet_since: datetime | None = None  # the quiet-board verdict's `since`, if quiet
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_new: datetime | None = None
    failures: int = 0  # consecutive
    posts_known: int = 0
    pending: tuple[RoutePending, ...] = ()
    source: str = ""  # the source in use: the list URL, a mirror, an RSS feed...
    # Recent posts' first-seen times: the last 48 hours suffice, oldest first is fastest.
    first_seen: tuple[datetime, ...] = ()
    last_outcome: str = ""  # the last poll's outcome in a line, for the board's page


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """Where one post's message to one route stands."""

    route: str
    chat: str  # shown only with show_chats
    state: DeliveryState
    reason: str = ""  # why pending (waiting for rate limit, retry after 30 s) or failed
    at: datetime | None = None  # when sent, or the next attempt


@dataclass(frozen=True, slots=True)
class PostRow:
    id: str
    title: str
    url: str
    first_seen: datetime
    deliveries: tuple[DeliveryRow, ...] = ()


# Each label as (Korean, English), one row per label: a label cannot be missing in one
# of the two languages.
_LABEL_ROWS: dict[str, tuple[str, str]] = {
    "boards": ("게시판", "boards"),
    "ok": ("정상", "ok"),
    "failing": ("실패", "failing"),
    "quiet": ("조용함", "quiet"),
    "backoff": ("대기", "backing off"),
    "until": ("까지 쉼", "until"),
    "quiet since": ("부터 새 글 없음", "no new post since"),
    "last poll": ("마지막 확인", "Last poll"),
    "last success": ("마지막 성공", "Last success"),
    "last new": ("마지막 새 글", "Last new post"),
    "failures": ("연속 실패", "Failures in a row"),
    "posts": ("저장된 글", "Posts known"),
    "pending": ("전송 대기", "Pending"),
    "source": ("소스", "Source"),
    "board": ("게시판 열기", "Open board"),
    "all boards": ("← 전체 게시판", "← All boards"),
    "updated": ("갱신", "Updated"),
    "never": ("없음", "never"),
    "none": ("없음", "none"),
    "failed": ("실패", "failed"),
    "spark": ("최근 48시간 시간별 새 글", "New posts per hour, last 48 hours"),
    "count": ("건", ""),
    "id": ("번호", "Id"),
    "title": ("제목", "Title"),
    "first seen": ("처음 본 시각", "First seen"),
    "deliveries": ("전송", "Deliveries"),
    "sent": ("보냄", "sent"),
    "waiting": ("대기", "pending"),
    "last outcome": ("마지막 확인 결과", "Last poll's outcome"),
    "no posts": ("저장된 글이 없습니다.", "No posts stored."),
    "just now": ("방금", "just now"),
    "ago": ("전", "ago"),
    "later": ("후", "in"),
    "min": ("분", " min"),
    "h": ("시간", " h"),
    "d": ("일", " d"),
}
LANGUAGES = ("ko", "en")
LABELS: dict[str, dict[str, str]] = {
    lang: {key: row[i] for key, row in _LABEL_ROWS.items()} for i, lang in enumerate(LANGUAGES)
}

_CSS = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:40rem;padding:.5rem;"
    "color:#222;background:#fafafa;word-break:keep-all;overflow-wrap:anywhere}"
    "h1{font-size:1.3rem;margin:.4rem 0}"
    "h2{font-size:1.05rem;margin:0;flex:1 1 12rem}a{color:#0550ae}"
    ".board{background:#fff;border:1px solid #ddd;border-left:5px solid #2da44e;"
    "border-radius:6px;padding:.5rem .7rem;margin:.6rem 0}"
    ".board.failing{border-left-color:#cf222e}.board.quiet{border-left-color:#bf8700}"
    ".board header{display:flex;flex-wrap:wrap;gap:.1rem .6rem;align-items:baseline}"
    ".health{font-size:.85rem;font-weight:600}.failing .health{color:#cf222e}"
    ".quiet .health{color:#9a6700}dl{display:grid;grid-template-columns:auto 1fr;"
    "gap:.1rem .7rem;margin:.4rem 0;font-size:.9rem}dt{color:#666}dd{margin:0;"
    "overflow-wrap:anywhere}.spark{display:block;margin:.3rem 0}.spark rect{fill:#2da44e}"
    ".spark .base{stroke:#ccc}.links a{margin-right:.8rem}.scroll{overflow-x:auto}"
    "table{border-collapse:collapse;font-size:.9rem;width:100%}td,th{text-align:left;"
    "vertical-align:top;padding:.25rem .4rem;border-bottom:1px solid #eee}"
    ".s-failed{color:#cf222e}.s-pending{color:#9a6700}"
)


def render_index(
    boards: Sequence[BoardRow],
    *,
    now: datetime,
    tz: tzinfo,
    lang: Lang = "ko",
    show_chats: bool = False,
    title: str = "board-relay",
    instances: Sequence[InstanceInfo] = (),
) -> str:
    """The page at `/`: a summary line, the instances sharing the state (only for a shared
    state), then one card per board in the given order."""
    page = _Page(now, tz, lang, show_chats, prefix="")
    failing = sum(1 for b in boards if not b.ok)
    quiet = sum(1 for b in boards if b.ok and b.quiet_since is not None)
    t = page.t
    summary = (
        f"{len(boards)} {t['boards']} · {t['ok']} {len(boards) - failing - quiet} · "
        f"{t['failing']} {failing} · {t['quiet']} {quiet}"
    )
    head = (
        f"<h1>{_text(title)}</h1><p>{summary} · {t['updated']} {page.when(now)}</p>"
        '<p class="links"><a href="feeds.opml">OPML</a><a href="healthz">healthz</a>'
        '<a href="metrics">metrics</a></p>'
    )
    cards = chain.from_iterable(page.card(b, link=True) for b in boards)
    return page.document(title, [head, instances_html(instances, lang), *cards])


def render_board(
    board: BoardRow,
    posts: Sequence[PostRow],
    *,
    now: datetime,
    tz: tzinfo,
    lang: Lang = "ko",
    show_chats: bool = False,
) -> str:
    """The page at `/boards/<id>`: the board's card, its last poll's outcome, and `posts` (the
    caller picks them, e.g. the last 50) with each delivery's state and reason."""
    page = _Page(now, tz, lang, show_chats, prefix="../")
    t = page.t
    parts = [f'<p><a href="../">{t["all boards"]}</a></p>', *page.card(board, link=False)]
    if board.last_outcome:
        parts.append(f"<p><b>{t['last outcome']}</b>: {_text(board.last_outcome)}</p>")
    if not posts:
        parts.append(f"<p>{t['no posts']}</p>")
    else:
        head = "".join(f"<th>{t[k]}</th>" for k in ("id", "title", "first seen", "deliveries"))
        rows = "".join(page.post_row(post) for post in posts)
        parts.append(
            f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
        )
    return page.document(board.title or board.id, parts)


class _Page:
    """What every part of one page shares: the clock, the zone, the labels, the sparklines'
    caches (bars repeat from board to board)."""

    def __init__(self, now: datetime, tz: tzinfo, lang: Lang, show_chats: bool, prefix: str):
        if lang not in LABELS:
            raise ValueError(f'lang must be "ko" or "en", not {lang!r}')
        self.now, self.tz, self.lang, self.t = now, tz, lang, LABELS[lang]
        self.show_chats, self.prefix = show_chats, prefix
        local_now = now.astimezone(tz)
        self.today, self.year = local_now.date(), local_now.year
        self.sparklines = Sparklines(now, tz, title=self.t["spark"], unit=self.t["count"])

    def document(self, title: str, body: Iterable[str]) -> str:
        """The whole page around `body`'s parts, joined once (a 1,000-board page is a few
        megabytes: each extra concatenation is another copy)."""
        start = (
            f'<!DOCTYPE html>\n<html lang="{self.lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            # An empty icon: browsers ask for /favicon.ico otherwise, a 404 in every console.
            '<link rel="icon" href="data:,">'
            f"<title>{_text(title)}</title><style>{_CSS}</style></head><body>"
        )
        return "".join([start, *body, "</body></html>\n"])

    def card(self, board: BoardRow, *, link: bool) -> tuple[str, str, str]:
        t = self.t
        board_id = _path_part(board.id)
        name = _text(board.title or board.id)
        heading = f'<a href="{self.prefix}boards/{board_id}">{name}</a>' if link else name
        state, health = self.health(board)
        feeds = f'<a href="{self.prefix}feeds/{_path_part(board.feed_name)}">Atom</a>'
        if board.json_feed_name:
            feeds += f'<a href="{self.prefix}feeds/{_path_part(board.json_feed_name)}">JSON</a>'
        site = _web(board.url)
        if site:
            feeds += f'<a href="{site}" rel="noopener noreferrer">{t["board"]}</a>'
        fields = (
            ("last poll", self.when(board.last_poll)),
            ("last success", self.when(board.last_success)),
            ("last new", self.when(board.last_new)),
            ("failures", str(board.failures)),
            ("posts", str(board.posts_known)),
            ("pending", self.pending(board.pending)),
            ("source", _text(board.source) or "-"),
        )
        facts = "".join(f"<dt>{t[key]}</dt><dd>{value}</dd>" for key, value in fields)
        # Three parts, not one string: the page joins every part once, so the chart (most of a
        # card's bytes, and ASCII) is copied into the page without first widening into the
        # card's Korean text.
        return (
            f'<article class="board {state}" id="board-{_attr(board.id)}" '
            f'data-board="{_attr(board.id)}"><header><h2>{heading}</h2>'
            f'<span class="health">{health}</span></header>',
            self.sparklines.svg(hourly_counts(board.first_seen, self.now)),
            f'<dl>{facts}</dl><p class="links">{feeds}</p></article>',
        )

    def health(self, board: BoardRow) -> tuple[str, str]:
        """(css class, label): ok, failing with the reason, quiet since, backing off until."""
        t = self.t
        if not board.ok:
            state, label = (
                "failing",
                t["failing"] + (f": {_text(board.problem)}" if board.problem else ""),
            )
        elif board.quiet_since is not None:
            state, label = "quiet", self._quiet(board.quiet_since)
        else:
            state, label = "ok", t["ok"]
        if board.backing_off_until is not None and board.backing_off_until > self.now:
            until = self.when(board.backing_off_until)
            label += " · " + (
                f"{until} {t['until']}"
                if self.lang == "ko"
                else f"{t['backoff']} {t['until']} {until}"
            )
        return state, label

    def _quiet(self, since: datetime) -> str:
        t = self.t
        if self.lang == "ko":
            return f"{t['quiet']}: {self.when(since)}{t['quiet since']}"
        return f"{t['quiet']}: {t['quiet since']} {self.when(since)}"

    def pending(self, routes: Sequence[RoutePending]) -> str:
        if not routes:
            return self.t["none"]
        merged: dict[str, list[int]] = {}
        for route in routes:
            key = f"{route.route} → {route.chat}" if self.show_chats else route.route
            counts = merged.setdefault(key, [0, 0])
            counts[0] += route.pending
            counts[1] += route.failed
        return " · ".join(
            f"{_text(key)} {pending}" + (f" (+{failed} {self.t['failed']})" if failed else "")
            for key, (pending, failed) in merged.items()
        )

    def post_row(self, post: PostRow) -> str:
        link = _web(post.url)
        title = _text(post.title or post.id)
        title = f'<a href="{link}" rel="noopener noreferrer">{title}</a>' if link else title
        deliveries = "<br>".join(self.delivery(d) for d in post.deliveries) or "-"
        return (
            f"<tr><td>{_text(post.id)}</td><td>{title}</td><td>{self.when(post.first_seen)}</td>"
            f"<td>{deliveries}</td></tr>"
        )

    def delivery(self, delivery: DeliveryRow) -> str:
        t = self.t
        where = _text(delivery.route) + (f" → {_text(delivery.chat)}" if self.show_chats else "")
        word = {"sent": t["sent"], "pending": t["waiting"], "failed": t["failed"]}[delivery.state]
        detail = f" {self.when(delivery.at)}" if delivery.at is not None else ""
        reason = f" ({_text(delivery.reason)})" if delivery.reason else ""
        return f'<span class="s-{delivery.state}">{where}: {word}{detail}{reason}</span>'

    def when(self, moment: datetime | None) -> str:
        """A time as people read it here: HH:MM today, MM-DD HH:MM this year, with its age."""
        if moment is None:
            return self.t["never"]
        local = moment.astimezone(self.tz)
        shown = f"{local.hour:02}:{local.minute:02}"  # f-strings: a third of strftime's cost
        if local.year != self.year:
            shown = f"{local.year}-{local.month:02}-{local.day:02} {shown}"
        elif local.date() != self.today:
            shown = f"{local.month:02}-{local.day:02} {shown}"
        iso = moment.astimezone(UTC).isoformat(timespec="seconds")
        return f'<time datetime="{iso}">{shown} ({self.age(moment)})</time>'

    def age(self, moment: datetime) -> str:
        t = self.t
        seconds = (self.now - moment).total_seconds()
        later, seconds = seconds < 0, abs(seconds)
        if seconds < 60:
            return t["just now"]
        if seconds < 3600:
            amount = f"{int(seconds // 60)}{t['min']}"
        elif seconds < 86400:
            amount = f"{int(seconds // 3600)}{t['h']}"
        else:
            amount = f"{int(seconds // 86400)}{t['d']}"
        if self.lang == "ko":
            return f"{amount} {t['later'] if later else t['ago']}"
        return f"{t['later']} {amount}" if later else f"{amount} {t['ago']}"


def _text(value: str) -> str:
    """`value` as HTML text: markup escaped, control characters dropped."""
    return escape(xml_safe(value), quote=False) if _UNSAFE.search(value) else value


def _attr(value: str) -> str:
    """`value` inside a double-quoted attribute."""
    return escape(xml_safe(value), quote=True) if _UNSAFE.search(value) else value


def _path_part(value: str) -> str:
    """`value` as one segment of a relative URL path (a "/" in a board id stays in it)."""
    return value if _PLAIN_SEGMENT.fullmatch(value) else quote(value, safe="")


def _web(url: str) -> str:
    """An http(s) URL escaped for an attribute, or "" (no javascript: link on the page)."""
    url = url.strip()
    return _attr(url) if url.lower().startswith(("http://", "https://")) else ""
