"""The backend client's wire: httpx's API over aiohttp's connections.

The client speaks httpx (requests, streamed responses, its timeouts and exceptions); this
transport carries them on one `aiohttp.ClientSession`. Measured on loopback, httpx's own
HTTP/1.1 stack (httpcore, h11, anyio) spent 1.0-1.9 ms of CPU per request and its pool did work
proportional to its open connections on every request; aiohttp's C parser and connector spend
a third to a fifth of that, which at a thousand concurrent turns is most of the bot's CPU.

Failures are translated by what they mean to the retry rules (`core/client_transport.py`):
a connection that was never made (`ConnectError`, `ConnectTimeout`, `PoolTimeout`) is safe to
try again; silence while reading is `ReadTimeout` (a turn's idle limit); a connection that broke
after the request went out is `RemoteProtocolError` / `ReadError`, which a turn must never
re-send. Under httpx, aiohttp decodes nothing itself (httpx does, once); on the direct roads
(`exchange`, `open_stream`: the JSON calls and the turn's stream, past httpx's objects) it
decodes the body, which the reader caps as it comes. It keeps no cookies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver

CHUNK_BYTES = 64 * 1024
CALL_CONNECTIONS = 128  # kept-alive connections for the JSON calls (`exchange`)


def _translated(exc: BaseException) -> httpx.TransportError | None:
    """The httpx error meaning what `exc` means, or None when it is not a transport failure."""
    message = str(exc) or exc.__class__.__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.SocketTimeoutError | aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message)
    broken = (
        aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError | aiohttp.ClientPayloadError
    )
    if isinstance(exc, broken):
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.ClientError | ConnectionError):
        return httpx.ReadError(message)
    if isinstance(exc, TimeoutError):  # waiting for a free connection (`pool`)
        return httpx.PoolTimeout(message)
    return None


@contextlib.contextmanager
def _as_httpx() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        translated = _translated(exc)
        if translated is None:
            raise
        raise translated from exc


class _Body(httpx.AsyncByteStream):
    """A streamed aiohttp response as httpx reads it; closing it mid-body drops the connection
    (aiohttp returns only fully read connections to its pool)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx():
            async for chunk in self._response.content.iter_chunked(CHUNK_BYTES):
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


class _Source:
    """A request's body as aiohttp sends it. A streamed body whose source fails (a file that
    turns out larger than announced, a download refused halfway) fails the request with the
    source's own error, as httpx does, not with the broken connection aiohttp reports."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self._error: BaseException | None = None

    def data(self) -> bytes | AsyncIterator[bytes] | None:
        try:
            return self._request.content or None
        except httpx.RequestNotRead:  # streamed: aiohttp sends it as it comes
            return self._streamed()

    async def _streamed(self) -> AsyncIterator[bytes]:
        stream = self._request.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        try:
            async for chunk in stream:
                yield chunk
        except Exception as exc:
            self._error = exc
            raise

    def raise_own(self) -> None:
        if self._error is not None:
            raise self._error


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (and connection pool) under any number of httpx requests."""

    def __init__(
        self,
        tls: ssl.SSLContext,
        *,
        max_connections: int = 2000,
        call_connections: int = CALL_CONNECTIONS,
        resolver: AbstractResolver | None = None,
    ) -> None:
        """`resolver`: what names resolve to for every connection of both pools (the media
        guard's `PublicOnlyResolver` in the bot); aiohttp's own when None."""
        self._tls = tls
        self._resolver = resolver
        self._max_connections = max_connections
        self._call_connections = call_connections
        self._session: aiohttp.ClientSession | None = None
        self._calls: aiohttp.ClientSession | None = None

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = self._new_session(self._max_connections)
        return self._session

    def _calls_session(self) -> aiohttp.ClientSession:
        """`exchange`'s own pool: a few kept-alive connections that short calls take turns on,
        where a thousand turns asking at once would each open (and soon drop) a connection of
        their own; the streams, which hold theirs for minutes, stay in the other pool."""
        if self._calls is None or self._calls.closed:
            self._calls = self._new_session(self._call_connections)
        return self._calls

    def _new_session(self, limit: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=limit,
            ssl=self._tls,
            keepalive_timeout=30,
            ttl_dns_cache=60,
            resolver=self._resolver,
        )
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,  # httpx decodes the body, as it would its own
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,  # aiohttp would read ~/.netrc and the proxy variables per request
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._open_session()
        limits = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=limits.get("pool"),
            sock_connect=limits.get("connect"),
            sock_read=limits.get("read"),
        )
        headers = [(k, v) for k, v in request.headers.multi_items() if k != "transfer-encoding"]
        body = _Source(request)
        # aiohttp has no write timeout: sending the request and hearing its answer begin are
        # bounded by httpx's write and read limits together (a peer that stops reading the body)
        write, read = limits.get("write"), limits.get("read")
        sending = write + read if write is not None and read is not None else None
        try:
            async with asyncio.timeout(sending):
                with _as_httpx():
                    response = await session.request(
                        request.method,
                        str(request.url),
                        headers=headers,
                        data=body.data(),
                        allow_redirects=False,
                        timeout=timeout,
                    )
        except TimeoutError:
            raise httpx.WriteTimeout(f"the request was not taken within {sending:g} s") from None
        except httpx.TransportError:
            body.raise_own()  # the body's source failed, not the connection: its error
            raise
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_Body(response),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode(),
            },
        )

    async def exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        *,
        seconds: float,
    ) -> Streamed:
        """A short call on the calls' own pool, its answer begun (the caller reads it within
        its cap and closes it). The backend's JSON calls take this road, past httpx's request
        and response objects (a third of a call's CPU); the failures raised are the same httpx
        errors as `handle_async_request`'s, and each phase is bounded by `seconds` as httpx's
        `timeout=` bounds it."""
        session = self._calls_session()
        return await _opened(session, method, url, headers, content, seconds, seconds, seconds)

    async def open_stream(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        *,
        connect: float,
        read: float,
        write: float,
    ) -> Streamed:
        """A request whose answer is read as it comes (the turn's event stream), past httpx's
        objects as `exchange` is; `read` bounds each silence, as httpx's read timeout does."""
        session = self._open_session()
        return await _opened(session, method, url, headers, content, connect, read, write)

    async def aclose(self) -> None:
        for session in (self._session, self._calls):
            if session is not None:
                await session.close()
        self._session = self._calls = None


async def _opened(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: dict[str, str],
    content: bytes | None,
    connect: float,
    read: float,
    write: float,
) -> Streamed:
    """The request sent and its answer begun: connecting within `connect`, each silence
    within `read`, and sent and begun within `write + read` (aiohttp has no write timeout:
    see `handle_async_request`); failures as httpx's errors."""
    limits = aiohttp.ClientTimeout(
        total=None, connect=connect, sock_connect=connect, sock_read=read
    )
    bound = write + read
    try:
        async with asyncio.timeout(bound):
            with _as_httpx():
                response = await session.request(
                    method,
                    url,
                    headers=headers,
                    data=content,
                    allow_redirects=False,
                    timeout=limits,
                    auto_decompress=True,
                )
    except TimeoutError:
        raise httpx.WriteTimeout(f"the request was not taken within {bound:g} s") from None
    return Streamed(response)


class Streamed:
    """An answer read as it comes, straight from aiohttp, with the part of httpx's response a
    stream's reader uses (`status_code`, `headers`, `aiter_bytes`, `aclose`). Closing it
    before the end drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._body = _Body(response)
        self.status_code = response.status
        self.headers = response.headers

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._body.__aiter__()

    async def aclose(self) -> None:
        await self._body.aclose()
