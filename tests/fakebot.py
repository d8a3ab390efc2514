"""A fake Telegram Bot API server on loopback, for tests and for a `relay` subprocess.

It runs aiohttp in a background thread with its own event loop, so synchronous tests, async
tests (whatever their loop) and child processes can all reach `api_url`. It answers the way
the real Bot API does -- `{"ok": false, "error_code": 400, "description": "Bad Request: ..."}`
-- and reads python-telegram-bot's form-encoded bodies, where nested objects are JSON strings
and `chat_id` is a string.

Its HTML check is written apart from relay/message.py on purpose: the two must agree by
meeting Telegram's rules, not by sharing code. It is stricter than Telegram in one place: a
bare "&" is refused (Telegram shows it literally; its docs say to escape it).

Methods: getMe, sendMessage, sendPhoto (a photo by URL, its caption at most 1024 units),
editMessageText and editMessageCaption (of a message it accepted; refused when the message
is unknown or the text is unchanged, as Telegram does). Forum topics: `message_thread_id` is
recorded. Every accepted message answers with its `message_id`.

Knobs: `fail_next`, `fail_always` / `recover`, `drop_after_accept`, `stall_next`, `kick`,
`migrate`, `add_chat`, `set_flood`, `refuse_photos`. A failure can carry any `retry_after`
JSON can hold (`1e308`, `NaN`, `-5`, `"soon"`) or a `raw` body sent verbatim (`b'[1]'` with
status 200): the malformed answers a proxy, an outage or a buggy API gives.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

DEFAULT_TOKEN = "123456789:AAFakeTokenForTestsOnly-abcdefghijk"
MAX_TEXT = 4096
MAX_CAPTION = 1024
_SUPPORTED = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del",
    "span", "tg-spoiler", "a", "code", "pre", "blockquote", "tg-emoji",
}  # fmt: skip
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTRIBUTE = re.compile(r"""([\w-]+)\s*(?:=\s*("[^"]*"|'[^']*'|[^\s"']+))?""")


class EntityError(ValueError):
    """What Telegram would put after "Bad Request: can't parse entities: "."""


def parse_entities(text: str) -> str:
    """The plain text Telegram would show for HTML `text`; EntityError if it would refuse it."""
    out: list[str] = []
    open_tags: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            end = text.find(";", i + 1, i + 12)
            decoded = _entity(text[i + 1 : end]) if end != -1 else None
            if decoded is None:
                raise EntityError(f"Unescaped '&' at byte offset {_offset(text, i)}")
            out.append(decoded)
            i = end + 1
        elif char == "<":
            i = _tag(text, i, open_tags)
        else:
            out.append(char)
            i += 1
    if open_tags:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(out)


def telegram_units(text: str) -> int:
    """Telegram's length of HTML `text`: UTF-16 code units of the parsed plain text."""
    return sum(2 if ord(c) >= 0x10000 else 1 for c in parse_entities(text))


def _units(plain: str) -> int:
    return sum(2 if ord(c) >= 0x10000 else 1 for c in plain)


def _offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _entity(body: str) -> str | None:
    if body in _NAMED:
        return _NAMED[body]
    try:
        if body[:2] in ("#x", "#X"):
            code = int(body[2:], 16)
        elif body[:1] == "#" and body[1:].isdigit():
            code = int(body[1:])
        else:
            return None
    except ValueError:
        return None
    return chr(code) if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000 else None


def _tag(text: str, start: int, open_tags: list[str]) -> int:
    """Read the tag at `start`, update `open_tags`, return the index after it."""
    end, quote = start + 1, ""
    while end < len(text):  # find the closing ">" outside any quoted attribute value
        c = text[end]
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == ">":
            break
        elif c == "<":
            end = len(text)
        end += 1
    offset = _offset(text, start)
    if end >= len(text):
        raise EntityError(f"Unclosed start tag at byte offset {offset}")
    inner = text[start + 1 : end]
    closing = inner.startswith("/")
    body = inner[1:] if closing else inner
    words = body.split(None, 1) if body[:1].strip() else []  # "< b>" is not a tag
    name = words[0].lower() if words else ""
    if not name or not (name[0].isalpha() and name.replace("-", "").isalnum()):
        raise EntityError(f'Unsupported start tag "{name}" at byte offset {offset}')
    if closing:
        if not open_tags:
            raise EntityError(f"Unexpected end tag at byte offset {offset}")
        if open_tags[-1] != name:
            raise EntityError(
                f'Unmatched end tag at byte offset {offset}, expected "</{open_tags[-1]}>", '
                f'found "</{name}>"'
            )
        open_tags.pop()
        return end + 1
    if name not in _SUPPORTED:
        raise EntityError(f'Unsupported start tag "{name}" at byte offset {offset}')
    attrs = _attributes(words[1] if len(words) > 1 else "")
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityError('Tag "span" must have class "tg-spoiler"')
    if name == "a" and "href" not in attrs:
        raise EntityError(f'Tag "a" must have attribute "href" at byte offset {offset}')
    open_tags.append(name)
    return end + 1


def _attributes(source: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(source):
        value = match[2] or ""
        if value and value[0] in "\"'":
            value = value[1:-1]
        attrs[match[1].lower()] = value
    return attrs


@dataclass(frozen=True)
class Received:
    """One sendMessage the fake accepted (as Telegram would have shown it)."""

    chat_id: str
    text: str
    parse_mode: str | None
    disable_notification: bool
    link_preview_options: dict[str, Any] | None
    message_thread_id: int | None
    time: float  # time.monotonic() when it arrived
    message_id: int
    params: dict[str, str]  # every form field as received
    method: str = "sendMessage"  # or "sendPhoto" (then `text` is the caption)
    photo: str | None = None  # sendPhoto's photo URL


@dataclass(frozen=True)
class Edited:
    """One edit the fake accepted: the message's new text (or caption)."""

    method: str  # "editMessageText" or "editMessageCaption"
    chat_id: str
    message_id: int
    text: str
    params: dict[str, str]


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: Any  # any JSON value; None: no parameters
    raw: bytes | None  # the body verbatim, instead of a Bot API error object


_DESCRIPTIONS = {
    400: "Bad Request: something went wrong",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class FakeBot:
    """The fake server. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        chats: tuple[str, ...] = ("@relay_test", "-1001234567890", "42"),
        username: str = "relay_test_bot",
    ) -> None:
        self.token = token
        self.username = username
        self._lock = threading.Lock()
        self._chats = set(chats)
        self._kicked: set[str] = set()
        self._migrated: dict[str, int] = {}
        self._failures: deque[_Failure] = deque()
        self._always: _Failure | None = None
        self._always_method: str | None = None
        self._drops = 0
        self._stalls: deque[float] = deque()
        self._flood: tuple[int, float, int | None] | None = None
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._messages: list[Received] = []
        self._edits: list[Edited] = []
        self._refuse_photos = False
        self._ids = itertools.count(1)
        self._requests: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.api_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    # -- knobs (thread-safe) ---------------------------------------------------------------

    def add_chat(self, chat: str) -> None:
        with self._lock:
            self._chats.add(chat)

    def fail_next(
        self, status: int, count: int = 1, retry_after: Any = None, *, raw: bytes | None = None
    ) -> None:
        """The next `count` requests (any method) answer `status`: a Bot API error object
        (with `retry_after`, any JSON value, in its parameters), or the bytes `raw`."""
        with self._lock:
            self._failures.extend(_Failure(status, retry_after, raw) for _ in range(count))

    def fail_always(
        self,
        status: int,
        retry_after: Any = None,
        *,
        raw: bytes | None = None,
        method: str | None = None,
    ) -> None:
        """Every request (of `method`, when given) answers like `fail_next` says, until
        `recover()`."""
        with self._lock:
            self._always = _Failure(status, retry_after, raw)
            self._always_method = method

    def recover(self) -> None:
        with self._lock:
            self._always = None

    def drop_after_accept(self, count: int = 1) -> None:
        """The next `count` sendMessage calls are recorded, then the connection is dropped."""
        with self._lock:
            self._drops += count

    def stall_next(self, seconds: float, count: int = 1) -> None:
        """The next `count` requests wait `seconds` before being handled (client timeouts)."""
        with self._lock:
            self._stalls.extend(seconds for _ in range(count))

    def kick(self, chat: str) -> None:
        with self._lock:
            self._kicked.add(chat)

    def migrate(self, chat: str, new_id: int) -> None:
        with self._lock:
            self._migrated[chat] = new_id
            self._chats.add(str(new_id))

    def set_flood(self, limit: int, per: float, retry_after: int | None = None) -> None:
        """More than `limit` messages to one chat within `per` seconds get a 429."""
        with self._lock:
            self._flood = (limit, per, retry_after)

    def refuse_photos(self, refuse: bool = True) -> None:
        """sendPhoto answers 400 "wrong file identifier/HTTP URL specified" (an image that
        Telegram cannot fetch)."""
        with self._lock:
            self._refuse_photos = refuse

    @property
    def edits(self) -> list[Edited]:
        with self._lock:
            return list(self._edits)

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    @property
    def requests(self) -> list[str]:
        """Method names of every request received, in order."""
        with self._lock:
            return list(self._requests)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeBot:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fakebot did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeBot:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._loop.run_until_complete(self._runner.setup())
        site = web.SockSite(self._runner, self._sock)
        self._loop.run_until_complete(site.start())
        ready.set()
        self._loop.run_forever()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the API ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()  # before the body is read: when the request came
        token, _, method = request.path.removeprefix("/bot").partition("/")
        if not request.path.startswith("/bot") or not method:
            return _error(404, "Not Found")
        params = await _params(request)
        with self._lock:
            stall = self._stalls.popleft() if self._stalls else 0.0
        if stall:
            await asyncio.sleep(stall)
        with self._lock:
            self._requests.append(method)
            if token != self.token:
                return _error(401, "Unauthorized")
            failure = self._failures.popleft() if self._failures else None
            if failure is None and self._always_method in (None, method):
                failure = self._always
            if failure is not None:
                if failure.raw is not None:
                    return web.Response(
                        body=failure.raw, status=failure.status, content_type="application/json"
                    )
                return _error(failure.status, None, retry_after=failure.retry_after)
            if method == "getMe":
                return _ok(self._me())
            if method in ("sendMessage", "sendPhoto"):
                return self._send(request, params, method, arrived)
            if method in ("editMessageText", "editMessageCaption"):
                return self._edit(params, method)
            return _error(404, "Not Found")

    def _me(self) -> dict[str, Any]:
        bot_id = int(self.token.split(":")[0])
        return {"id": bot_id, "is_bot": True, "first_name": "Relay Test", "username": self.username}

    def _edit(self, params: dict[str, str], method: str) -> web.StreamResponse:
        chat, number = params.get("chat_id", ""), params.get("message_id", "")
        field = "caption" if method == "editMessageCaption" else "text"
        sent = [m for m in self._messages if m.chat_id == chat and str(m.message_id) == number]
        if not sent or (field == "caption") != (sent[0].method == "sendPhoto"):
            return _error(400, "Bad Request: message to edit not found")
        text = params.get(field, "")
        number_id = sent[0].message_id
        current = [e.text for e in self._edits if (e.chat_id, e.message_id) == (chat, number_id)]
        if text == (current[-1] if current else sent[0].text):
            return _error(400, "Bad Request: message is not modified")
        try:
            plain = parse_entities(text) if params.get("parse_mode") == "HTML" else text
        except EntityError as e:
            return _error(400, f"Bad Request: can't parse entities: {e}")
        if _units(plain) > (MAX_CAPTION if field == "caption" else MAX_TEXT):
            return _error(400, f"Bad Request: message {field} is too long")
        self._edits.append(Edited(method, chat, sent[0].message_id, text, dict(params)))
        return _ok({"message_id": sent[0].message_id, "date": int(time.time()), field: plain})

    def _send(
        self,
        request: web.Request,
        params: dict[str, str],
        method: str = "sendMessage",
        arrived: float | None = None,
    ) -> web.StreamResponse:
        chat = params.get("chat_id", "")
        if chat in self._migrated:
            return _error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self._migrated[chat],
            )
        if chat not in self._chats:
            return _error(400, "Bad Request: chat not found")
        if chat in self._kicked:
            return _error(403, "Forbidden: bot was kicked from the channel chat")
        flooded = self._flooded(chat)
        if flooded is not None:
            return _error(429, None, retry_after=flooded)
        photo = params.get("photo") if method == "sendPhoto" else None
        if method == "sendPhoto" and (self._refuse_photos or not photo):
            return _error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        text = params.get("caption" if photo else "text", "")
        mode = params.get("parse_mode")
        try:
            plain = parse_entities(text) if mode == "HTML" else text
        except EntityError as e:
            return _error(400, f"Bad Request: can't parse entities: {e}")
        if not plain.strip() and not photo:
            return _error(400, "Bad Request: message text is empty")
        if sum(2 if ord(c) >= 0x10000 else 1 for c in plain) > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        if photo and _units(plain) > MAX_CAPTION:
            return _error(400, "Bad Request: message caption is too long")
        preview = params.get("link_preview_options")
        thread = params.get("message_thread_id")
        received = Received(
            chat_id=chat,
            text=text,
            parse_mode=mode,
            disable_notification=params.get("disable_notification") == "true",
            link_preview_options=json.loads(preview) if preview else None,
            message_thread_id=int(thread) if thread else None,
            time=time.monotonic() if arrived is None else arrived,
            message_id=next(self._ids),
            params=dict(params),
            method=method,
            photo=photo,
        )
        self._messages.append(received)
        self._recent[chat].append(received.time)
        if self._drops:
            self._drops -= 1
            if request.transport is not None:
                request.transport.abort()  # accepted, but the answer never arrives
            raise asyncio.CancelledError
        return _ok(
            {
                "message_id": received.message_id,
                "date": int(time.time()),
                "chat": {"id": _chat_number(chat), "type": "channel", "title": "Relay Test"},
                "text": plain,
            }
        )

    def _flooded(self, chat: str) -> int | None:
        if self._flood is None:
            return None
        limit, per, retry_after = self._flood
        recent, now = self._recent[chat], time.monotonic()
        while recent and recent[0] <= now - per:
            recent.popleft()
        if len(recent) < limit:
            return None
        return retry_after or max(1, int(recent[0] + per - now + 0.999))


def _chat_number(chat: str) -> int:
    if chat.lstrip("-").isdigit():
        return int(chat)
    return -1000000000000 - sum(map(ord, chat))


async def _params(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        body = await request.json()
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
    form = await request.post()
    merged = {k: v for k, v in request.query.items()}
    merged.update({k: v for k, v in form.items() if isinstance(v, str)})
    return merged


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(
    status: int,
    description: str | None,
    *,
    retry_after: Any = None,
    migrate_to_chat_id: int | None = None,
) -> web.Response:
    if description is None:
        template = _DESCRIPTIONS.get(status, f"Error {status}")
        description = template.format(retry_after=retry_after)
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    parameters: dict[str, Any] = {}
    if retry_after is not None:
        parameters["retry_after"] = retry_after
    if migrate_to_chat_id is not None:
        parameters["migrate_to_chat_id"] = migrate_to_chat_id
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


if __name__ == "__main__":  # a server for trying `relay` by hand: prints its URL and token
    with FakeBot() as server:
        print(f"api_url = {server.api_url}\ntoken = {server.token}", flush=True)
        threading.Event().wait()
