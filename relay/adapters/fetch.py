"""Fetching pages with one shared httpx.AsyncClient: polite, bounded, conditional.

The one module that imports httpx for scraping (python-telegram-bot keeps its own client).
Every failure is classified in one place, `_classify`, into a `FetchError` with a short
stable reason: "http 503", "blocked", "network", "timeout", "too large", "bad encoding".

The body is read raw and decoded by `inflate.BoundedDecoder`, not by httpx: httpx inflates a
whole network chunk at once (a 64 KB chunk of `gzip, gzip` can become gigabytes), so the cap
on decoded bytes would only be checked after the memory was spent.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from relay.adapters.inflate import (
    ACCEPT_ENCODING,
    BodyTooLarge,
    BoundedDecoder,
    DecodeError,
    UnsupportedEncoding,
)
from relay.core.errors import FetchError

# Statuses that mean "you are being kept out", not "the board is down".
_BLOCKING = {403, 429, 430}
# Markers of an anti-bot interstitial served in place of the page (often with 200 or 503).
_CHALLENGE_MARKERS = (
    b"cf-chl-",
    b"challenge-platform",
    b"Just a moment...",
    b"cf_chl_opt",
    b"Attention Required! | Cloudflare",
    b"DDoS protection by",
    b"captcha-delivery",
)


@dataclass(frozen=True, slots=True)
class Page:
    """One HTTP answer: the body as bytes (decoding is text.decode_html's job)."""

    url: str  # final URL, after redirects
    status: int  # 200, or 304 when the validators matched
    body: bytes
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class Fetcher:
    """GETs pages one at a time per host, with a pause between requests to the same host.

    Several boards of one site thus never hit it in parallel. Bounds: a whole-request
    deadline (httpx timeouts are per phase only), so an endless trickle ends, and a maximum
    body size, checked against Content-Length and again while streaming, on the bytes received
    and on the bytes each Content-Encoding layer gives: neither a 50 MB page nor a few KB that
    inflate to gigabytes are ever held in memory.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float = 30.0,
        max_bytes: int = 10 * 1024 * 1024,
        host_delay: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = httpx.AsyncClient(
            headers={
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                "Accept-Language": "ko,en;q=0.5",
                # Said explicitly: httpx would also offer br and zstd once their packages are
                # installed, and only what inflate.py decodes with a bound may be asked for.
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            timeout=httpx.Timeout(min(timeout, 15.0), connect=min(timeout, 10.0)),
            follow_redirects=True,
            max_redirects=5,
            transport=transport,
            # Few requests are ever in flight (the callers bound them); a small pool keeps
            # httpcore's per-event bookkeeping cheap.
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self._deadline = timeout
        self._max_bytes = max_bytes
        self._host_delay = host_delay
        self._clock = clock
        self._hosts: dict[str, asyncio.Lock] = {}
        self._last_request: dict[str, float] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Page:
        """Fetch `url`; 304 is a normal answer when validators are given. Raises FetchError."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        host = urlsplit(url).netloc.lower()
        lock = self._hosts.setdefault(host, asyncio.Lock())
        async with lock:
            wait = self._last_request.get(host, -1e18) + self._host_delay - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await self._get(url, headers)
            finally:
                self._last_request[host] = self._clock()

    async def _get(self, url: str, headers: dict[str, str]) -> Page:
        try:
            async with asyncio.timeout(self._deadline):
                async with self._stream(url, headers) as response:
                    body = await self._read_bounded(response, url)
                    page = Page(
                        url=str(response.url),
                        status=response.status_code,
                        body=body,
                        content_type=response.headers.get("content-type"),
                        etag=response.headers.get("etag"),
                        last_modified=response.headers.get("last-modified"),
                    )
                    retry_after = response.headers.get("retry-after")
        except FetchError:
            raise
        except (TimeoutError, httpx.TimeoutException) as e:
            raise FetchError(
                f"{url}: timed out after {self._deadline:g}s", url=url, reason="timeout"
            ) from e
        except httpx.TooManyRedirects as e:
            raise FetchError(f"{url}: too many redirects", url=url, reason="redirects") from e
        except (httpx.TransportError, httpx.StreamError) as e:
            raise FetchError(
                f"{url}: network error: {type(e).__name__}: {e}", url=url, reason="network"
            ) from e
        except httpx.InvalidURL as e:
            raise FetchError(f"{url}: invalid URL: {e}", url=url, reason="invalid url") from e
        _classify(page, retry_after)
        return page

    @contextlib.asynccontextmanager
    async def _stream(self, url: str, headers: dict[str, str]) -> AsyncIterator[httpx.Response]:
        """The answer's head, the body left to stream. A GET that got no answer at all for a
        protocol error is sent once more: a kept-alive connection can hold bytes that an
        earlier answer sent past its Content-Length (a hostile or broken server), or be closed
        by the server as the request went out. httpcore then drops that connection, so the
        second try goes out on another. An error in the body is not retried."""
        request = self._client.build_request("GET", url, headers=headers)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.RemoteProtocolError:
            response = await self._client.send(request, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def _read_bounded(self, response: httpx.Response, url: str) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise _too_large(url, self._max_bytes, f"Content-Length {int(declared):,}")
        try:
            decoder = BoundedDecoder(response.headers.get("content-encoding"), self._max_bytes)
            chunks: list[bytes] = []
            async for raw in response.aiter_raw():
                chunks.extend(decoder.feed(raw))
        except BodyTooLarge as e:
            raise _too_large(url, self._max_bytes, str(e)) from None
        except UnsupportedEncoding as e:
            raise FetchError(f"{url}: {e}", url=url, reason="bad encoding") from None
        except DecodeError as e:
            raise FetchError(
                f"{url}: the body does not decode: {e}", url=url, reason="bad encoding"
            ) from None
        return b"".join(chunks)


def _too_large(url: str, limit: int, what: str) -> FetchError:
    return FetchError(
        f"{url}: response too large ({what}; limit {limit:,} bytes)", url=url, reason="too large"
    )


def _classify(page: Page, retry_after_header: str | None) -> None:
    """Raise FetchError for anything but a usable 200 or a 304: the one place that decides."""
    status = page.status
    if status == 304:
        return
    challenge = any(marker in page.body[:65536] for marker in _CHALLENGE_MARKERS)
    retry_after = parse_retry_after(retry_after_header)
    if challenge or status in _BLOCKING:
        what = f"an anti-bot challenge page (HTTP {status})" if challenge else f"HTTP {status}"
        raise FetchError(
            f"{page.url}: blocked: {what}",
            url=page.url,
            reason="blocked",
            status=status,
            retry_after=retry_after,
        )
    if status >= 400 or status < 200:
        raise FetchError(
            f"{page.url}: HTTP {status}",
            url=page.url,
            reason=f"http {status}",
            status=status,
            retry_after=retry_after,
        )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
