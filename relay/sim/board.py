"""One simulated board: its posts, paging, URLs, queued faults and request log.

Knows nothing of HTTP or HTML: the server asks it what a page shows and the engine renderers
turn that into markup. Tests mutate a board from their own thread while the server reads it
from the simulator's thread, so every read and write holds the board's lock.

The number column is virtual (`total - (page-1)*page_size - i`), exactly as both engines print
it; ids are document_srl / wr_id values that only grow and have gaps, because document_srl is
global to a Rhymix site (comments and other boards take numbers too).
"""

from __future__ import annotations

import html
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from relay.sim.records import Fault, PageView, SimPost, SimRequest, utc_now

Engine = Literal["rhymix", "gnuboard"]
UrlStyle = Literal["short", "long"]
CharsetHeader = bool | Literal["wrong"]
# Hostile answers (see faults.py): bombs that inflate to `bomb_bytes`, a body that never ends,
# a Content-Length that promises less than is sent.
HOSTILE_KINDS = frozenset({"gzip_bomb", "deflate_bomb", "endless", "lying_length"})
FAULT_KINDS = (
    frozenset({"slow", "reset", "truncated", "zero_rows", "challenge", "huge"}) | HOSTILE_KINDS
)


@dataclass
class SimBoard:
    """A board with knobs. Create it through `BoardSimulator.add_board`."""

    name: str  # the mid (Rhymix) or bo_table (Gnuboard)
    engine: Engine = "rhymix"
    title: str = ""
    page_size: int = 0  # 0: the engine's default (Rhymix 20, Gnuboard 15)
    url_style: UrlStyle = "short"  # Rhymix only: /{mid}/{srl} or /index.php?mid=..
    encoding: Literal["utf-8", "cp949"] = "utf-8"
    charset_header: CharsetHeader = True  # False: none; "wrong": ISO-8859-1
    meta_charset: bool = True
    validators: bool = True  # ETag + Last-Modified on list pages, 304 on a match
    timezone: str = "Asia/Seoul"
    now: Callable[[], datetime] = utc_now
    first_id: int = 0  # 0: Rhymix 9,300,000 (document_srl is site-global), Gnuboard 1
    id_seed: int = 0
    new_hours: int = 0  # 0: the engine's default (Rhymix 12, Gnuboard 24)
    slow_delay: float = 1.0  # seconds a "slow" fault waits before answering
    challenge_status: int = 403
    huge_bytes: int = 60 * 1024 * 1024
    huge_declares_length: bool = False
    content_encoding: str = ""  # of every page: "gzip", "deflate", "gzip, gzip", or a label
    bomb_bytes: int = 1 << 30  # what a gzip_bomb or deflate_bomb inflates to
    endless_pause: float = 0.0  # seconds between the chunks of an endless body (0: a flood)
    article_list_size: int = 0  # rows of the list under an article; 0: page_size
    list_under_article: bool = True  # Gnuboard's bo_use_list_view (Rhymix always lists)
    sideview: bool = True  # Gnuboard's bo_use_sideview: the pop-up member menu around names
    use_category: bool = True  # Gnuboard's bo_use_category: off, no list shows a 말머리
    feed: Literal["off", "on", "broken", "gone"] = "off"  # its own RSS/Atom: see feeds.py
    feed_entries: int = 0  # entries in that feed; 0: the engine's (Rhymix 15, Gnuboard page_size)
    base_url: str = ""  # set by the simulator
    _posts: dict[int, SimPost] = field(default_factory=dict, repr=False)
    _faults: deque[Fault] = field(default_factory=deque, repr=False)
    _article_faults: deque[Fault] = field(default_factory=deque, repr=False)
    _requests: list[SimRequest] = field(default_factory=list, repr=False)
    _max_id: int = field(default=0, repr=False)
    _changed_at: datetime | None = field(default=None, repr=False)
    _sorted: list[SimPost] | None = field(default=None, repr=False)  # regular, newest first
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        if self.engine not in ("rhymix", "gnuboard"):
            raise ValueError(f"board {self.name!r}: unknown engine {self.engine!r}")
        if not self.page_size:
            self.page_size = 20 if self.engine == "rhymix" else 15
        if not self.new_hours:
            self.new_hours = 12 if self.engine == "rhymix" else 24
        self.title = self.title or self.name
        if not self.first_id:
            self.first_id = 9_300_000 if self.engine == "rhymix" else 1
        # Gaps: other boards and comments take document_srl numbers on Rhymix; on Gnuboard
        # comments are rows of the same write table, so they take wr_id numbers.
        self._gap = (3, 17) if self.engine == "rhymix" else (1, 4)
        self._rng = random.Random(self.id_seed)
        self.tz = ZoneInfo(self.timezone)
        self._changed_at = self.now()

    # ---- posts -------------------------------------------------------------------------

    def add_post(
        self,
        title: str,
        author: str = "익명",
        body: str = "",
        published: datetime | None = None,
        comments: int = 0,
        *,
        image: str | None = None,
        notice: bool = False,
        post_id: int | None = None,
        link: str | None = None,
        category: str = "",
    ) -> SimPost:
        """Add a post with a new id above every id ever used (with a gap, like document_srl).
        `link` replaces the href its row prints (a hostile page's javascript:alert(1)//102)."""
        with self.lock:
            if post_id is None:
                post_id = self._next_id()
            elif post_id in self._posts:
                raise ValueError(f"board {self.name!r}: post {post_id} exists")
            when = published or self.now()
            if when.tzinfo is None:
                raise ValueError("published must be an aware datetime")
            post = SimPost(
                id=post_id,
                title=title,
                author=author,
                published=when,
                body_html=_as_html(body or title, image),
                comments=comments,
                notice=notice,
                image=image,
                link=link,
                category=category,
            )
            self._posts[post_id] = post
            self._max_id = max(self._max_id, post_id)
            self._touch()
            return post

    def add_posts(
        self, count: int, title: str = "글 {n}", published: datetime | None = None
    ) -> None:
        """Add `count` posts at once (titles "글 0", "글 1"... one second apart, oldest first,
        the last at `published` or now): 100,000 take about a second, not ten."""
        with self.lock:
            last = published or self.now()
            if last.tzinfo is None:
                raise ValueError("published must be an aware datetime")
            for n in range(count):
                post_id = self._next_id()
                text = title.format(n=n)
                self._posts[post_id] = SimPost(
                    id=post_id,
                    title=text,
                    author="익명",
                    published=last - timedelta(seconds=count - 1 - n),
                    body_html=f"<p>{html.escape(text)}</p>",
                )
                self._max_id = post_id
            self._touch()

    def _next_id(self) -> int:
        return self._max_id + self._rng.randint(*self._gap) if self._max_id else self.first_id

    def add_notice(
        self, title: str, author: str = "관리자", body: str = "", published: datetime | None = None
    ) -> SimPost:
        return self.add_post(title, author, body, published, notice=True)

    def delete_post(self, post_id: int) -> None:
        """Delete a post: every newer post's virtual number drops by one."""
        with self.lock:
            self._get(post_id)
            del self._posts[post_id]
            self._touch()

    def edit_title(self, post_id: int, title: str) -> None:
        self._change(post_id, title=title)

    def set_category(self, post_id: int, category: str) -> None:
        self._change(post_id, category=category)

    def set_use_category(self, on: bool) -> None:
        """Turn the board's categories on or off (every list page changes)."""
        with self.lock:
            self.use_category = on
            self._touch()

    def set_notice(self, post_id: int, notice: bool = True) -> None:
        self._change(post_id, notice=notice)

    def set_comments(self, post_id: int, comments: int) -> None:
        self._change(post_id, comments=comments)

    def _change(self, post_id: int, **fields: object) -> None:
        """Set fields of one post (its page changes: ETag and Last-Modified move)."""
        with self.lock:
            post = self._get(post_id)
            for name, value in fields.items():
                setattr(post, name, value)
            self._touch()

    def get(self, post_id: int) -> SimPost:
        with self.lock:
            return self._get(post_id)

    @property
    def posts(self) -> list[SimPost]:
        """Regular posts (not notices), newest first."""
        with self.lock:
            return self._regular()

    @property
    def notices(self) -> list[SimPost]:
        with self.lock:
            return sorted((p for p in self._posts.values() if p.notice), key=lambda p: -p.id)

    @property
    def total_pages(self) -> int:
        with self.lock:
            return max(1, -(-len(self._regular()) // self.page_size))

    @property
    def changed_at(self) -> datetime:
        with self.lock:
            assert self._changed_at is not None
            return self._changed_at

    def _get(self, post_id: int) -> SimPost:
        try:
            return self._posts[post_id]
        except KeyError:
            raise KeyError(f"board {self.name!r} has no post {post_id}") from None

    def _regular(self) -> list[SimPost]:
        """Regular posts newest first, sorted once per change (a 100,000-post board is asked
        for it on every request). Every change goes through `_touch`, which forgets it."""
        if self._sorted is None:
            regular = (p for p in self._posts.values() if not p.notice)
            self._sorted = sorted(regular, key=lambda p: -p.id)
        return list(self._sorted)

    def _touch(self) -> None:
        self._changed_at = self.now()
        self._sorted = None

    # ---- what a page shows -------------------------------------------------------------

    def list_view(self, page: int, current: int | None = None, size: int = 0) -> PageView:
        """List page `page` of `size` rows (0: page_size). Rhymix repeats notices on every
        page; Gnuboard 5 shows them on page 1 only (list.php skips notices whose index is below
        the page's first record)."""
        size = size or self.page_size
        with self.lock:
            regular = self._regular()
            total = len(regular)
            pages = max(1, -(-total // size))
            page = max(1, page)
            start = (page - 1) * size
            rows = tuple(
                (total - start - i, post) for i, post in enumerate(regular[start : start + size])
            )
            show_notices = self.engine == "rhymix" or page == 1
            notices = tuple(self.notices) if show_notices else ()
            return PageView(page, pages, total, notices, rows, current)

    def page_of(self, post_id: int, size: int = 0) -> int:
        """The list page (of `size` rows, 0: page_size) a post sits on (Rhymix shows that page
        under an opened article)."""
        with self.lock:
            ids = [p.id for p in self._regular()]
            if post_id not in ids:
                return 1
            return ids.index(post_id) // (size or self.page_size) + 1

    def neighbours(self, post_id: int) -> tuple[SimPost | None, SimPost | None]:
        """(older, newer) regular posts around a post, for an article's prev/next links."""
        with self.lock:
            regular = self._regular()
            ids = [p.id for p in regular]
            if post_id not in ids:
                return None, None
            i = ids.index(post_id)
            older = regular[i + 1] if i + 1 < len(regular) else None
            newer = regular[i - 1] if i > 0 else None
            return older, newer

    # ---- URLs (paths relative to the host, and absolute ones) ---------------------------

    def list_path(self, page: int = 1) -> str:
        if self.engine == "gnuboard":
            query = {"bo_table": self.name} | ({"page": str(page)} if page > 1 else {})
            return "/bbs/board.php?" + urlencode(query)
        if self.url_style == "short":
            return f"/{self.name}" if page <= 1 else f"/{self.name}/page/{page}"
        query = {"mid": self.name} | ({"page": str(page)} if page > 1 else {})
        return "/index.php?" + urlencode(query)

    def article_path(self, post_id: int, page: int | None = None) -> str:
        """The link a list page prints for a post; `page` is the list page it was shown on
        when that page came from a `page` parameter (both engines carry it along)."""
        if self.engine == "gnuboard":
            query = {"bo_table": self.name, "wr_id": str(post_id)}
            return "/bbs/board.php?" + urlencode(query | ({"page": str(page)} if page else {}))
        if self.url_style == "short":
            return f"/{self.name}/{post_id}" + (f"?page={page}" if page and page > 1 else "")
        query = {"mid": self.name} | ({"page": str(page)} if page and page > 1 else {})
        return "/index.php?" + urlencode(query | {"document_srl": str(post_id)})

    def row_path(self, post: SimPost, page: int | None = None) -> str:
        """The href of a post's row on a list page: its `link` when one was given."""
        return post.link if post.link is not None else self.article_path(post.id, page)

    @property
    def list_url(self) -> str:
        return self.base_url + self.list_path(1)

    def page_url(self, page: int) -> str:
        return self.base_url + self.list_path(page)

    def article_url(self, post_id: int) -> str:
        return self.base_url + self.article_path(post_id)

    # ---- faults and the request log ----------------------------------------------------

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `count` requests to this board with `status` (500, 503, 403, 429...)."""
        if not 400 <= status <= 599:
            raise ValueError(f"fail_next wants an error status, not {status}")
        with self.lock:
            self._faults.extend(Fault("status", status, retry_after) for _ in range(count))

    def fail_articles(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `count` article requests with `status`; list pages keep working
        (a post whose page fails must still be announced, and its excerpt fetched later)."""
        if not 400 <= status <= 599:
            raise ValueError(f"fail_articles wants an error status, not {status}")
        with self.lock:
            self._article_faults.extend(Fault("status", status, retry_after) for _ in range(count))

    def slow_articles(self, count: int = 1) -> None:
        """The next `count` article pages take `slow_delay` seconds; list pages stay fast."""
        with self.lock:
            self._article_faults.extend(Fault("slow") for _ in range(count))

    def fault_next(self, kind: str, count: int = 1) -> None:
        """Misbehave on the next `count` requests: slow, reset, truncated, zero_rows, challenge,
        huge, or a hostile answer (HOSTILE_KINDS). Faults and failures are served in the order
        they were queued."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
        with self.lock:
            self._faults.extend(Fault(kind) for _ in range(count))

    def take_fault(self, article: bool = False) -> Fault | None:
        """The fault to play on this request: article-only failures first, then the queue."""
        with self.lock:
            if article and self._article_faults:
                return self._article_faults.popleft()
            return self._faults.popleft() if self._faults else None

    def record(self, request: SimRequest) -> None:
        with self.lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[SimRequest]:
        with self.lock:
            return list(self._requests)

    def count(self, status: int | None = None, path_contains: str = "") -> int:
        """How many logged requests had this status and path fragment."""
        return sum(
            1
            for r in self.requests
            if (status is None or r.status == status) and path_contains in r.path
        )

    def clear_requests(self) -> None:
        with self.lock:
            self._requests.clear()


def _as_html(body: str, image: str | None) -> str:
    """Bodies given as plain text become paragraphs; HTML is kept as given."""
    if body.lstrip().startswith("<"):
        return body
    paragraphs = [f"<p>{html.escape(line)}</p>" for line in body.splitlines() if line.strip()]
    if image:
        paragraphs.insert(0, f'<p><img src="{html.escape(image)}" alt="" /></p>')
    return "\n".join(paragraphs)
