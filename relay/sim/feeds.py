"""The simulated boards' own feeds, as the engines render them.

Rhymix: `index.php?mid={mid}&act=rss|atom` (and `/{mid}/rss|atom` with short URLs), from
rhymix/rhymix modules/rss/tpl/format/rss20.html and atom10.html: entities escaped, no
CDATA, `date('r')` and `date('c')` in the server's zone, the module's name as the first
`<category>`, the whole article (open_rss = Y), at most feed_document_count (15) entries,
newest first. Gnuboard: `bbs/rss.php?bo_table={table}`, from gnuboard5 bbs/rss.php:
`<dc:date>` instead of `<pubDate>`, bodies in CDATA, `&` in links escaped, bo_page_rows
entries; a cp949 board declares `encoding="euc-kr"` as Gnuboard 4 does.

A board's `feed` knob says what its feed does:
    "off"     the default, as on many sites: Rhymix answers an empty channel saying the feed
              is locked, Gnuboard a line of text ("RSS 보기가 금지되어 있습니다.")
    "on"      the feed above
    "broken"  a PHP fatal error where the XML should be (200, text/html)
    "gone"    404 (a plugin removed, a rewrite rule lost)
`feed_entries` caps the entries (0: the engine's default).

Feed requests are logged like page requests but take no queued fault: faults are for the
list and article pages the tests already script.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web

from relay.sim.board import SimBoard
from relay.sim.pages import error_page
from relay.sim.records import SimPost, SimRequest

FEED_MODES = ("off", "on", "broken", "gone")
RHYMIX_LOCKED = "피드(Feed) 기능이 잠겨 있습니다"
GNUBOARD_LOCKED = "RSS 보기가 금지되어 있습니다."
FATAL = (
    "<br />\n<b>Fatal error</b>:  Uncaught Error: Call to a member function get() on null in "
    "/var/www/html/modules/rss/rss.view.php:142\nStack trace:\n#0 {main}\n  thrown in "
    "<b>/var/www/html/modules/rss/rss.view.php</b> on line <b>142</b><br />\n"
)
_LOGGED = ("User-Agent", "If-None-Match", "If-Modified-Since", "Accept", "Accept-Encoding")


def feed_target(boards: dict[str, SimBoard], request: web.Request) -> tuple[SimBoard, str] | None:
    """(board, "rss" | "atom") when the request asks for a board's feed."""
    path, query = request.path, request.query
    if path == "/bbs/rss.php":
        board = boards.get(query.get("bo_table", ""))
        return (board, "rss") if board is not None and board.engine == "gnuboard" else None
    if path in ("/", "/index.php") and query.get("act") in ("rss", "atom") and "mid" in query:
        board = boards.get(query["mid"])
        act = query["act"]
    else:
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[1] not in ("rss", "atom"):
            return None
        board, act = boards.get(parts[0]), parts[1]
        if board is not None and board.url_style != "short":
            return None
    return (board, act) if board is not None and board.engine == "rhymix" else None


def answer(
    boards: dict[str, SimBoard], request: web.Request, arrived: datetime, log: list[SimRequest]
) -> web.Response | None:
    """The feed response for a feed request (logged in `log` and the board's log), or None
    when the request is not for a feed."""
    target = feed_target(boards, request)
    if target is None:
        return None
    board, kind = target
    host = f"{request.scheme}://{request.host}"
    with board.lock:
        response = _respond(board, kind, host)
    entry = SimRequest(
        method=request.method,
        path=request.path_qs,
        headers={h: request.headers[h] for h in _LOGGED if h in request.headers},
        status=response.status,
        board=board.name,
        fault=None,
        at=arrived,
    )
    log.append(entry)
    board.record(entry)
    return response


def _respond(board: SimBoard, kind: str, host: str) -> web.Response:
    mode = board.feed
    headers = {"Server": "nginx", "Cache-Control": "no-cache, must-revalidate"}
    if mode == "gone":
        return web.Response(status=404, text=error_page(404, "Not Found"), content_type="text/html")
    if mode == "broken":
        return web.Response(text=FATAL, content_type="text/html", headers=headers)
    gnu = board.engine == "gnuboard"
    if mode != "on" and gnu:
        return web.Response(text=GNUBOARD_LOCKED, content_type="text/html", headers=headers)
    posts = _entries(board) if mode == "on" else []
    if gnu:
        text = gnuboard_rss(board, host, posts)
    elif kind == "atom":
        text = rhymix_atom(board, host, posts)
    else:
        text = rhymix_rss(board, host, posts, locked=mode != "on")
    codec = "cp949" if board.encoding == "cp949" else "utf-8"
    headers["Content-Type"] = "text/xml" if gnu else "text/xml; charset=UTF-8"
    return web.Response(body=text.encode(codec, "xmlcharrefreplace"), headers=headers)


def _entries(board: SimBoard) -> list[SimPost]:
    default = 15 if board.engine == "rhymix" else board.page_size  # feed_document_count
    limit = board.feed_entries or default
    every = sorted([*board.posts, *board.notices], key=lambda p: -p.id)
    return every[:limit]


def _declaration(board: SimBoard) -> str:
    label = "euc-kr" if board.encoding == "cp949" else "UTF-8"
    return f'<?xml version="1.0" encoding="{label}" ?>\n'


def rhymix_rss(board: SimBoard, host: str, posts: list[SimPost], *, locked: bool = False) -> str:
    channel = host + board.list_path(1)
    description = RHYMIX_LOCKED if locked else f"{board.title} 게시판"
    items = "".join(
        f"""
		<item>
			<title>{escape(post.title)}</title>
			<link>{escape(host + board.article_path(post.id))}</link>
			<description>{escape(post.body_html)}</description>
			<category>{escape(board.title)}</category>
			<dc:creator>{escape(post.author)}</dc:creator>
			<guid isPermaLink="true">{escape(host + board.article_path(post.id))}</guid>
			<comments>{escape(host + board.article_path(post.id))}#comment</comments>
			<pubDate>{format_datetime(post.published.astimezone(board.tz))}</pubDate>
		</item>"""
        for post in posts
    )
    return (
        _declaration(board)
        + f"""
<rss xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
	<channel>
		<title>{escape(board.title)}</title>
		<link>{escape(channel)}</link>
		<description>{escape(description)}</description>
		<atom:link href="{escape(channel)}" rel="self" type="application/rss+xml" />
		<language>ko</language>
		<pubDate>{format_datetime(board.changed_at.astimezone(board.tz))}</pubDate>
		<generator>Rhymix</generator>{items}
	</channel>
</rss>
"""  # noqa: E501
    )


def rhymix_atom(board: SimBoard, host: str, posts: list[SimPost]) -> str:
    channel = host + board.list_path(1)
    entries = "".join(
        f"""
	<entry>
		<title>{escape(post.title)}</title>
		<link rel="alternate" type="text/html" href="{escape(host + board.article_path(post.id))}"/>
		<id>{escape(host + board.article_path(post.id))}</id>
		<published>{post.published.astimezone(board.tz).isoformat(timespec="seconds")}</published>
		<updated>{post.published.astimezone(board.tz).isoformat(timespec="seconds")}</updated>
		<author>
			<name>{escape(post.author)}</name>
		</author>
		<content type="html">{escape(post.body_html)}</content>
	</entry>"""
        for post in posts
    )
    updated = board.changed_at.astimezone(board.tz).isoformat(timespec="seconds")
    return (
        _declaration(board)
        + f"""
<feed xmlns="http://www.w3.org/2005/Atom">
	<title>{escape(board.title)}</title>
	<link rel="alternate" type="text/html" hreflang="ko" href="{escape(channel)}"/>
	<updated>{updated}</updated>
	<id>{escape(channel)}</id>
	<generator>Rhymix</generator>{entries}
</feed>
"""
    )


def gnuboard_rss(board: SimBoard, host: str, posts: list[SimPost]) -> str:
    items = "".join(
        f"""

<item>
<title>{escape(post.title)}</title>
<link>{escape(host + board.article_path(post.id))}</link>
<description><![CDATA[{post.body_html}]]></description>
<dc:creator>{escape(post.author)}</dc:creator>
<dc:date>{format_datetime(post.published.astimezone(board.tz))}</dc:date>
</item>
"""
        for post in posts
    )
    return (
        _declaration(board).replace("UTF-8", "utf-8")
        + f"""<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>{escape(board.title)}</title>
<link>{escape(host + board.list_path(1))}</link>
<description>테스트 버전 0.2 (2004-04-26)</description>
<language>ko</language>
{items}</channel>
</rss>
"""
    )
