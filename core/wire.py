"""The backend client's wire: httpx's API over aiohttp's connections, and the direct roads.

The client speaks httpx (requests, streamed responses, its timeouts and exceptions); this
transport carries them on one `aiohttp.ClientSession`. Measured on loopback, httpx's own
HTTP/1.1 stack (httpcore, h11, anyio) spent 1.0-1.9 ms of CPU per request and its pool did work
proportional to its open connections on every request; aiohttp's C parser and connector spend
a third to a fifth of that, which at a thousand concurrent turns is most of the bot's CPU.
The direct roads (the JSON calls and the turn's stream) go on `core.http1`'s pools, a third to
a quarter of aiohttp's CPU again.

Failures are translated by what they mean to the retry rules (`core/client_transport.py`):
a connection that was never made (`ConnectError`, `ConnectTimeout`, `PoolTimeout`) is safe to
try again; silence while reading is `ReadTimeout` (a turn's idle limit); a connection that broke
after the request went out is `RemoteProtocolError` / `ReadError`, which a turn must never
re-send. Under httpx, aiohttp decodes nothing itself (httpx does, once); on the direct roads
(`exchange`, `open_stream`: the JSON calls and the turn's stream, past httpx's objects)
`core.http1` decodes the body, which the reader caps as it comes. It keeps no cookies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver

from core import http1

CHUNK_BYTES = 64 * 1024
CALL_CONNECTIONS = 128  # kept-alive connections for the JSON calls (`exchange`)


def _translated(exc: BaseException) -> httpx.TransportError | None:
    """The httpx error meaning what `exc` means, or None when it is not a transport failure."""
    message = str(exc) or exc.__class__.__name__
    if isinstance(exc, http1.HttpFailure):
        return _translated_own(exc, message)
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


def _translated_own(exc: http1.HttpFailure, message: str) -> httpx.TransportError:
    """`_translated` for the direct roads' failures (`core.http1`)."""
    if isinstance(exc, http1.ConnectTimedOut):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, http1.ConnectFailed):
        return httpx.ConnectError(message)
    if isinstance(exc, http1.PoolTimedOut):
        return httpx.PoolTimeout(message)
    if isinstance(exc, http1.NotBegun):
        return httpx.WriteTimeout(message)
    if isinstance(exc, http1.Silent):
        return httpx.ReadTimeout(message)
    return httpx.RemoteProtocolError(message)


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
        self._session: aiohttp.ClientSession | None = None
        resolve = None if resolver is None else _addresses_by(resolver)
        # the direct roads: a few kept-alive connections that short calls take turns on, where
        # a thousand turns asking at once would each open (and soon drop) one of their own;
        # the streams, which hold theirs for minutes, in a pool of their own
        self._calls = http1.Pool(tls=tls, limit=call_connections, resolve=resolve)
        self._streams = http1.Pool(tls=tls, limit=max_connections, resolve=resolve)

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = self._new_session(self._max_connections)
        return self._session

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
        return await _opened(self._calls, method, url, headers, content, seconds, seconds, seconds)

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
        return await _opened(self._streams, method, url, headers, content, connect, read, write)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None
        await self._calls.aclose()
        await self._streams.aclose()


def _addresses_by(resolver: AbstractResolver) -> http1.Resolve:
    """aiohttp's resolver as the direct roads ask: the addresses a name connects to."""

    async def resolve(host: str, port: int) -> list[str]:
        try:
            return [found["host"] for found in await resolver.resolve(host, port)]
        except OSError as exc:
            raise http1.ConnectFailed(f"could not resolve {host}: {exc}") from None

    return resolve


async def _opened(
    pool: http1.Pool,
    method: str,
    url: str,
    headers: dict[str, str],
    content: bytes | None,
    connect: float,
    read: float,
    write: float,
) -> Streamed:
    """The request sent and its answer begun: connecting within `connect`, each silence
    within `read`, and sent and begun within `write + read`; failures as httpx's errors."""
    limits = http1.Limits(connect=connect, read=read, begin=write + read)
    with _as_httpx():
        answer = await pool.request(method, url, headers.items(), content, limits)
    return Streamed(answer)


class Streamed:
    """An answer read as it comes, on a direct road, with the part of httpx's response a
    stream's reader uses (`status_code`, `headers`, `aiter_bytes`, `aclose`), its failures
    as httpx's. Closing it before the end drops the connection."""

    def __init__(self, answer: http1.Answer) -> None:
        self._answer = answer
        self.status_code = answer.status_code
        self.headers = answer.headers

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        with _as_httpx():
            async for chunk in self._answer.aiter_bytes():
                yield chunk

    async def read(self, limit: int, too_large: Callable[[str], Exception]) -> bytes:
        """The whole body within `limit` (`http1.Answer.read`: no generator per chunk)."""
        with _as_httpx():
            return await self._answer.read(limit, too_large)

    async def aclose(self) -> None:
        await self._answer.aclose()
