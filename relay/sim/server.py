"""The simulator's HTTP side: one aiohttp server on loopback hosting several boards.

It routes a request to a board, plays the board's next queued fault if any, renders the page
in the board's encoding, answers 304 to a matching If-None-Match / If-Modified-Since on list
pages, and logs every request. Run it in a background thread (`start`/`stop`, for sync tests
and subprocesses) or on the current loop (`start_async`/`stop_async`).
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any

from aiohttp import web

from relay.sim import feeds, render_gnuboard, render_gnuboard_view, render_rhymix
from relay.sim.board import HOSTILE_KINDS, SimBoard
from relay.sim.faults import content_encode, cut, hostile, huge
from relay.sim.pages import CHALLENGE_HEADERS, challenge_page, error_page
from relay.sim.records import Fault, SimRequest, utc_now

GIF_1X1 = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
LOGGED_HEADERS = (
    "User-Agent",
    "If-None-Match",
    "If-Modified-Since",
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
)


@dataclass(frozen=True, slots=True)
class Target:
    """What a request asks for: a list page or an article of one board."""

    board: SimBoard
    post_id: int | None  # None: a list page
    page: int | None  # the `page` parameter (or /page/N), None when absent


class BoardSimulator:
    """Several boards on one host (127.0.0.1, port 0 by default)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, now: Callable[[], datetime] | None = None
    ) -> None:
        self.now = now or utc_now
        self.boards: dict[str, SimBoard] = {}
        self.requests: list[SimRequest] = []  # every request, assets and 404s included
        # (path, User-Agent) of each request as it arrives, before any answer (a slow one
        # is logged in `requests` only once answered): to act while a client waits.
        self.arrivals: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        bound_host, bound_port = self._sock.getsockname()[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def add_board(self, name: str, engine: str = "rhymix", **knobs: Any) -> SimBoard:
        """Host a new board. Knobs are SimBoard fields (page_size, url_style, encoding...)."""
        if name in self.boards:
            raise ValueError(f"board {name!r} exists")
        knobs.setdefault("now", self.now)
        # Knobs are SimBoard's own fields, passed through by name: mypy cannot follow **knobs.
        board = SimBoard(name, engine, **knobs)  # type: ignore[arg-type]
        board.base_url = self.base_url
        self.boards[name] = board
        return board

    # ---- lifecycle ---------------------------------------------------------------------

    async def start_async(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    async def stop_async(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._sock.close()

    def start(self) -> None:
        """Serve from a background thread with its own event loop."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="relay-sim", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start_async(), loop).result(timeout=10)

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            self._sock.close()
            return
        asyncio.run_coroutine_threadsafe(self.stop_async(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> BoardSimulator:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> BoardSimulator:
        await self.start_async()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop_async()

    # ---- routing -----------------------------------------------------------------------

    def _resolve(self, request: web.Request) -> Target | None:
        path, query = request.path, request.query
        page = _int(query.get("page"))
        if path == "/bbs/board.php":
            board = self.boards.get(query.get("bo_table", ""))
            if board is None or board.engine != "gnuboard":
                return None
            return Target(board, _int(query.get("wr_id")), page)
        if path in ("/", "/index.php") and "mid" in query:
            board = self.boards.get(query["mid"])
            if board is None or board.engine != "rhymix":
                return None
            return Target(board, _int(query.get("document_srl")), page)
        parts = path.strip("/").split("/")
        board = self.boards.get(parts[0])
        if board is None or board.engine != "rhymix" or board.url_style != "short":
            return None
        if len(parts) == 1:
            return Target(board, None, page)
        if len(parts) == 2 and parts[1].isdigit():
            return Target(board, int(parts[1]), page)
        if len(parts) == 3 and parts[1] == "page" and parts[2].isdigit():
            return Target(board, None, int(parts[2]))
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = self.now()
        self.arrivals.append((request.path_qs, request.headers.get("User-Agent", "")))
        if (fed := feeds.answer(self.boards, request, arrived, self.requests)) is not None:
            return fed
        target = self._resolve(request)
        fault: Fault | None = None
        if target is None:
            response: web.StreamResponse = self._asset(request)
        else:
            fault = target.board.take_fault(article=target.post_id is not None)
            response = await self._serve(request, target, fault)
        entry = SimRequest(
            method=request.method,
            path=request.path_qs,
            headers={h: request.headers[h] for h in LOGGED_HEADERS if h in request.headers},
            status=response.status,
            board=target.board.name if target else None,
            fault=fault.kind if fault and fault.kind != "status" else None,
            at=arrived,
            list_page=target is not None and target.post_id is None,
        )
        self.requests.append(entry)
        if target is not None:
            target.board.record(entry)
        return response

    def _asset(self, request: web.Request) -> web.Response:
        if request.path.lower().endswith((".gif", ".png", ".jpg", ".jpeg", ".webp")):
            return web.Response(body=GIF_1X1, content_type="image/gif")
        return web.Response(status=404, text=error_page(404, "Not Found"), content_type="text/html")

    # ---- pages and faults --------------------------------------------------------------

    async def _serve(
        self, request: web.Request, target: Target, fault: Fault | None
    ) -> web.StreamResponse:
        board = target.board
        kind = fault.kind if fault else None
        if fault is not None and kind == "status":
            return _status_response(fault)
        if kind == "challenge":
            return web.Response(
                status=board.challenge_status,
                body=challenge_page(request.host).encode(),
                headers=CHALLENGE_HEADERS,
            )
        if kind == "huge":
            return await huge(request, board, _content_type(board))
        if kind in HOSTILE_KINDS:
            return await hostile(request, board, kind, _content_type(board))
        if kind == "slow":
            await asyncio.sleep(board.slow_delay)
        host = f"{request.scheme}://{request.host}"
        status, text, is_list = _render(board, host, request.path_qs, target, kind == "zero_rows")
        body = text.encode("cp949" if board.encoding == "cp949" else "utf-8", "xmlcharrefreplace")
        headers = {"Content-Type": _content_type(board), "Server": "nginx"}
        if is_list and board.validators and status == 200:
            etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
            changed = board.changed_at.astimezone(UTC).replace(microsecond=0)
            headers |= {
                "ETag": etag,
                "Last-Modified": format_datetime(changed, usegmt=True),
                "Cache-Control": "no-cache",
            }
            if _not_modified(request, etag, changed):
                del headers["Content-Type"]
                return web.Response(status=304, headers=headers)
        else:
            headers |= {
                "Expires": "Thu, 19 Nov 1981 08:52:00 GMT",
                "Cache-Control": "no-store, no-cache, must-revalidate",
                "Pragma": "no-cache",
            }
        if kind == "reset":
            return await cut(request, status, headers, body, reset=True)
        if kind == "truncated":
            return await cut(request, status, headers, body, reset=False)
        if board.content_encoding:  # after the ETag, which names the page, not its coding
            body = content_encode(body, board.content_encoding)
            headers["Content-Encoding"] = board.content_encoding
        return web.Response(status=status, body=body, headers=headers)


def _render(
    board: SimBoard, host: str, path: str, target: Target, zero_rows: bool
) -> tuple[int, str, bool]:
    """(status, page text, is a list page). The board's lock is held so tests that mutate
    the board from their own thread never see half a change."""
    gnu = board.engine == "gnuboard"
    with board.lock:
        if zero_rows:
            if gnu:
                return 200, render_gnuboard.zero_rows_page(board, host), True
            return 200, render_rhymix.zero_rows_page(board, host, path), True
        if target.post_id is None:
            view = board.list_view(target.page or 1)
            if gnu:
                return 200, render_gnuboard.list_page(board, host, view, target.page), True
            return 200, render_rhymix.list_page(board, host, path, view, target.page), True
        try:
            post = board.get(target.post_id)
        except KeyError:
            if gnu:
                return 200, render_gnuboard_view.missing_page(board, host), False
            return 404, render_rhymix.missing_page(board, host, path), False
        if gnu:
            below = (
                board.list_view(target.page or 1, current=post.id, size=board.article_list_size)
                if board.list_under_article
                else None
            )
            neighbours = board.neighbours(post.id)
            text = render_gnuboard_view.article_page(
                board, host, post, below, target.page, neighbours
            )
            return 200, text, False
        # Rhymix lists the page the opened post sits on, unless a page was asked for
        size = board.article_list_size
        page = target.page or board.page_of(post.id, size)
        view = board.list_view(page, current=post.id, size=size)
        return 200, render_rhymix.article_page(board, host, path, post, view, target.page), False


def _content_type(board: SimBoard) -> str:
    if board.charset_header == "wrong":
        return "text/html; charset=ISO-8859-1"
    if not board.charset_header:
        return "text/html"
    return "text/html; charset=" + ("EUC-KR" if board.encoding == "cp949" else "UTF-8")


def _not_modified(request: web.Request, etag: str, changed: datetime) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since when both are sent."""
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request.headers.get("If-Modified-Since")
    if ims is None:
        return False
    try:
        since = parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False
    return since.tzinfo is not None and changed <= since


def _status_response(fault: Fault) -> web.Response:
    try:
        reason = HTTPStatus(fault.status).phrase
    except ValueError:
        reason = ""
    headers = {"Server": "nginx"}
    if fault.retry_after is not None:
        value = fault.retry_after
        headers["Retry-After"] = str(int(value)) if float(value).is_integer() else str(value)
    return web.Response(
        status=fault.status,
        text=error_page(fault.status, reason),
        content_type="text/html",
        headers=headers,
    )


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value)
