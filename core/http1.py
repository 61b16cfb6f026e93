"""Kept-alive HTTP/1.1 connections for the bot's own calls: the chat platform's JSON POSTs and
the backend's JSON calls and turn streams.

Measured on loopback (one kept-alive connection, a small JSON answer), an aiohttp client
request costs 250-320 µs of CPU, nearly all of it in its request and response objects, timers
and per-request tasks; the same exchange on an `asyncio.Protocol` with httptools' C parser
(llhttp, as aiohttp's own) costs 80-110 µs. A conversation makes a dozen such calls, so this
is the road they take; everything else (files, proxies, the platform library's other calls)
stays on aiohttp.

What it does, and no more: one request at a time per connection, connections kept alive per
origin (scheme, host, port) up to a limit and for `keepalive` seconds idle, TLS through the
loop, an answer's body read as it arrives (gzip and deflate decoded, in bounded pieces), and
each wait bounded. Failures say what they mean to a retry: `ConnectFailed` (nothing was sent),
`Broken` (the connection failed after the request went out), `Silent` (nothing heard within the
read limit), `PoolTimedOut`; the callers translate them into their own libraries' errors.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from core.http1_answer import (
    HIGH_WATER,
    PIECE_BYTES,
    Answer,
    Broken,
    ConnectFailed,
    Connection,
    ConnectTimedOut,
    HttpFailure,
    Limits,
    NotBegun,
    PoolTimedOut,
    Silent,
)

__all__ = [
    "HIGH_WATER",
    "PIECE_BYTES",
    "Answer",
    "Broken",
    "ConnectFailed",
    "ConnectTimedOut",
    "HttpFailure",
    "Limits",
    "NotBegun",
    "Pool",
    "PoolTimedOut",
    "Silent",
]

DNS_SECONDS = 60.0

Resolve = Callable[[str, int], Awaitable[list[str]]]


@lru_cache(maxsize=512)
def _split(url: str) -> tuple[tuple[str, str, int], str, str]:
    """(origin, Host header, request target) of an absolute http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url[:80]!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    header = shown if parts.port is None else f"{shown}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (scheme, host, port), header, target


def _head(
    method: str, target: str, host: str, headers: Iterable[tuple[str, str]], size: int | None
) -> bytes:
    """The request's head. The message's framing (`Host`, `Content-Length`) is this module's
    own: a caller's header of those names is not sent."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in headers:
        if name.lower() not in _FRAMING:
            lines.append(f"{name}: {value}")
    if size is not None:
        lines.append(f"Content-Length: {size}")
    head = "\r\n".join(lines)
    if head.count("\r") + head.count("\n") != 2 * (len(lines) - 1):
        raise ValueError("a header holds a line break")  # no header may start another
    return (head + "\r\n\r\n").encode()


_FRAMING = frozenset({"host", "content-length", "transfer-encoding"})
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "OPTIONS"})


Origin = tuple[str, str, int]


@lru_cache(maxsize=256)
def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Pool:
    """Kept-alive connections to any number of origins, at most `limit` open to each. A
    request waits for a free one (within its connect limit) past that; one kept idle longer
    than `keepalive` is closed instead of used. `resolve(host, port)`: the addresses a name
    connects to (the loop's resolver when None); either's answer is kept a minute."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        limit: int = 100,
        keepalive: float = 30.0,
        resolve: Resolve | None = None,
    ) -> None:
        self._tls = tls
        self._limit = limit
        self._keepalive = keepalive
        self._resolve = resolve
        self._idle: dict[Origin, collections.deque[Connection]] = {}
        self._open: dict[Origin, int] = collections.defaultdict(int)
        self._waiters: dict[Origin, collections.deque[asyncio.Future[Connection | None]]] = {}
        self._names: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self._resolving: dict[tuple[str, int], asyncio.Future[list[str]]] = {}
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | None,
        limits: Limits,
    ) -> Answer:
        """The request sent and its answer's head read; the caller reads the body (or
        closes the answer). `method` is never HEAD (its answer has no body to read)."""
        if method == "HEAD":
            raise ValueError("HEAD is not supported on this road")
        origin, host, target = _split(url)
        content = body or b""
        size = None if body is None and method == "GET" else len(content)  # (a GET has none)
        data = _head(method, target, host, headers, size) + content
        for attempt in (1, 2):
            conn = await self._acquire(origin, limits)
            reused = conn.sent > 0
            conn.sent += 1
            answer = Answer(conn, limits, lambda used, ok: self.release(origin, used, reuse=ok))
            conn.answer = answer
            try:
                assert conn.transport is not None
                conn.transport.write(data)
                await answer.head()
                return answer
            except Broken:
                answer._finish(reuse=False)
                # a kept-alive connection the server closed as this was sent: a request that
                # may be repeated goes once more, on another (RFC 9112, 9.3.1)
                if attempt == 1 and reused and answer.unheard and method in _IDEMPOTENT:
                    continue
                raise
            except BaseException:
                answer._finish(reuse=False)
                raise
        raise AssertionError("unreachable")  # (the second attempt returns or raises)

    async def _acquire(self, origin: Origin, limits: Limits) -> Connection:
        idle = self._idle.get(origin)
        if idle:
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if not conn.closed and now - conn.idle_since < self._keepalive:
                    return conn
                self._drop(origin, conn)
        while self._open[origin] >= self._limit:
            given = await self._wait_for_free(origin, limits.connect)
            if given is None:
                break  # a slot to connect in
            if not given.closed:
                return given
            self._drop(origin, given)  # closed by the server after it was given back
        self._open[origin] += 1
        try:
            return await self._connect(origin, limits.connect)
        except BaseException:
            self._open[origin] -= 1
            self._hand_on(origin, None)
            raise

    async def _wait_for_free(self, origin: Origin, seconds: float) -> Connection | None:
        """A connection given back (or None: a slot to connect in) within `seconds`."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Connection | None] = loop.create_future()
        self._waiters.setdefault(origin, collections.deque()).append(waiter)

        def expire() -> None:
            if not waiter.done():
                waiter.set_exception(PoolTimedOut(f"no connection came free within {seconds:g} s"))

        timer = loop.call_later(seconds, expire)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._hand_on(origin, waiter.result())  # given as this one gave up: pass it on
            raise
        finally:
            timer.cancel()

    def _hand_on(self, origin: Origin, conn: Connection | None) -> None:
        """A connection (or, None, a free slot) to the first request waiting for one, else
        the connection kept idle."""
        waiters = self._waiters.get(origin)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if conn is not None:
            if self._closed:
                self._drop(origin, conn)
                return
            now = conn.idle_since = time.monotonic()
            idle = self._idle.setdefault(origin, collections.deque())
            while idle and (idle[0].closed or now - idle[0].idle_since >= self._keepalive):
                self._drop(origin, idle.popleft())  # the longest idle (taken last) first
            idle.append(conn)

    def release(self, origin: Origin, conn: Connection, *, reuse: bool) -> None:
        conn.answer = None
        if reuse and not conn.closed and not self._closed:
            self._hand_on(origin, conn)
        else:
            self._drop(origin, conn)
            self._hand_on(origin, None)

    def _drop(self, origin: Origin, conn: Connection) -> None:
        conn.close()
        self._open[origin] -= 1

    async def _connect(self, origin: Origin, seconds: float) -> Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = None
        if scheme == "https":
            tls = self._tls = self._tls or ssl.create_default_context()
        error: BaseException | None = None
        try:
            async with asyncio.timeout(seconds):
                for address in await self._addresses(host, port):
                    try:
                        _, conn = await loop.create_connection(
                            lambda: Connection(loop),
                            address,
                            port,
                            ssl=tls,
                            server_hostname=host if tls is not None else None,
                        )
                        return conn
                    except (OSError, ssl.SSLError) as exc:
                        error = exc
        except TimeoutError:
            raise ConnectTimedOut(f"could not connect to {host} within {seconds:g} s") from None
        raise ConnectFailed(f"could not connect to {host}: {error}") from None

    async def _addresses(self, host: str, port: int) -> list[str]:
        """What `host` connects to: an address itself, else the resolver's answer, kept for
        `DNS_SECONDS`; connections asking at the same moment (a burst opening hundreds) share
        one look-up, where each would take a resolver thread of its own."""
        if _is_address(host):
            return [host]
        key = (host, port)
        known = self._names.get(key)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        pending = self._resolving.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(host, port))
            self._resolving[key] = pending
            pending.add_done_callback(lambda done: self._resolved(key, done))
        return await asyncio.shield(pending)

    def _resolved(self, key: tuple[str, int], done: asyncio.Future[list[str]]) -> None:
        self._resolving.pop(key, None)
        if not done.cancelled():
            done.exception()  # (seen: every asker that is still waiting is given it)

    async def _look_up(self, host: str, port: int) -> list[str]:
        if self._resolve is not None:
            addresses = await self._resolve(host, port)
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except OSError as exc:
                raise ConnectFailed(f"could not resolve {host}: {exc}") from None
            addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        self._names[(host, port)] = (time.monotonic() + DNS_SECONDS, addresses)
        return addresses

    async def aclose(self) -> None:
        """Every idle connection closed; one in use is closed when its answer is done."""
        self._closed = True
        for origin, idle in self._idle.items():
            while idle:
                self._drop(origin, idle.pop())
