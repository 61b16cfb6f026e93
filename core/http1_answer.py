"""One connection of `core.http1` and the answer read on it: httptools' parser fed as bytes
arrive, the body kept in a bounded buffer (the socket is not read past `HIGH_WATER`), its
content coding undone in bounded pieces, and every wait bounded by the request's `Limits`
(one timer per wait, moved on only when it fires). The failures are `core.http1`'s.
"""

from __future__ import annotations

import asyncio
import collections
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

HIGH_WATER = 1024 * 1024  # buffered body bytes past which the socket is not read
HEAD_MAX_BYTES = 256 * 1024  # bytes an answer may send before its head ends (its headers)
PIECE_BYTES = 64 * 1024  # the most one decoded piece of a compressed body grows to


class HttpFailure(Exception):
    """A request that got no whole answer."""


class ConnectFailed(HttpFailure, ConnectionError):
    """No connection was made: nothing of the request was sent."""


class ConnectTimedOut(ConnectFailed, TimeoutError):
    """Connecting took longer than its limit."""


class PoolTimedOut(HttpFailure, TimeoutError):
    """No connection of the pool came free in time: nothing was sent."""


class Broken(HttpFailure, ConnectionError):
    """The connection failed (or the peer spoke no HTTP) after the request went out."""


class Silent(HttpFailure, TimeoutError):
    """Nothing was heard within the read limit."""


class NotBegun(Silent):
    """The answer did not begin (or end) within `Limits.begin` (`total`), though the server
    was not silent for as long as the read limit."""


@dataclass(frozen=True, slots=True)
class Limits:
    """`connect`: to connect (and to wait for a free connection); `read`: each silence;
    `begin`: the request sent and its answer's head read, whatever the pace; `total`: the
    whole exchange, its body read to the end included (None: no bound past the others)."""

    connect: float
    read: float
    begin: float
    total: float | None = None


class _Decoder:
    """A body's content coding undone in pieces of at most `PIECE_BYTES`."""

    def __init__(self, coding: str) -> None:
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}.get(
            coding, zlib.MAX_WBITS
        )
        self._z = zlib.decompressobj(wbits)
        self._deflate = coding == "deflate"
        self._started = False

    def pieces(self, data: bytes) -> Iterable[bytes]:
        if self._deflate and not self._started and data:
            self._started = True
            if data[0] & 0x0F != 8:  # a raw deflate stream, as some servers send "deflate"
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            while data:
                piece = self._z.decompress(data, PIECE_BYTES)
                data = self._z.unconsumed_tail
                if piece:
                    yield piece
        except zlib.error as exc:
            raise Broken(f"the answer's body does not decode ({exc})") from None


class Connection(asyncio.Protocol):
    """One connection, one exchange at a time; httptools calls the `on_*` methods."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._raw: list[tuple[bytes, bytes]] = []  # the headers of the answer being read
        self._head_bytes = 0  # bytes fed while they were being read
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.sent = 0  # requests sent on it
        self.answer: Answer | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # (uvloop's is not a subclass)

    def data_received(self, data: bytes) -> None:
        answer = self.answer
        if answer is None:  # nothing was asked: a peer that talks out of turn is dropped
            self.close()
            return
        answer.heard = self.loop.time()
        answer.unheard = False
        if answer.in_head:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            answer.fail(Broken("the server switched protocols"))
            self.close()
        except httptools.HttpParserError as exc:
            answer.fail(Broken(f"the server's answer is not HTTP ({exc})"))
            self.close()
        if answer.in_head and self._head_bytes > HEAD_MAX_BYTES:  # (the parser holds them)
            answer.fail(Broken(f"the answer's head is over {HEAD_MAX_BYTES} bytes"))
            self.close()

    def eof_received(self) -> bool:
        return False  # the transport closes itself; `connection_lost` ends the exchange

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        answer, self.answer = self.answer, None
        if answer is not None:
            answer.lost()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw.append((name, value))  # (decoded once, all together, when they are in)

    def on_headers_complete(self) -> None:
        raw, self._raw = self._raw, []
        self._head_bytes = 0
        if self.answer is not None:
            self.answer.began(self._parser.get_status_code(), raw)

    def on_body(self, body: bytes) -> None:
        if self.answer is not None:
            self.answer.took(body)

    def on_message_complete(self) -> None:
        if self.answer is not None:
            self.answer.ended(self._parser.should_keep_alive())

    def pause(self, paused: bool) -> None:
        if self.transport is not None and not self.closed:
            if paused:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Answer:
    """An answer whose head has arrived; its body is read as it comes (`aiter_bytes`, or
    `read` within a bound). `status_code` and `headers` as httpx's response has them. Read
    to its end, the connection is used again; closed before (`aclose`), it is dropped."""

    status_code: int
    headers: CIMultiDictProxy[str]

    def __init__(
        self, conn: Connection, limits: Limits, release: Callable[[Connection, bool], None]
    ) -> None:
        self._conn = conn
        self._limits = limits
        self._release = release
        self.heard = 0.0
        self.unheard = True  # not a byte of it has arrived
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._paused = False
        self._state = "head"  # head → body → done | failed, then released
        self._error: BaseException | None = None
        self._reusable = False
        self._waiter: asyncio.Future[None] | None = None
        self._by_eof = False
        self._decoder: _Decoder | None = None
        now = conn.loop.time()
        self._deadline = float("inf") if limits.total is None else now + limits.total
        self._end = min(now + limits.begin, self._deadline)  # the deadline, once the head is in
        self._timer: asyncio.TimerHandle | None = None

    # -- what the connection reports ------------------------------------------------------

    @property
    def in_head(self) -> bool:
        return self._state == "head"

    def began(self, status: int, raw: list[tuple[bytes, bytes]]) -> None:
        if self._state != "head":  # a second answer to one request: the connection is not kept
            self._reusable = False
            return
        if 100 <= status < 200:  # an interim answer: the real one follows
            return
        self.status_code = status
        headers = CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw)
        self.headers = CIMultiDictProxy(headers)
        self._end = self._deadline
        coding = headers.get("content-encoding", "identity").strip().lower()
        if coding in ("gzip", "x-gzip", "deflate"):
            self._decoder = _Decoder(coding)
        elif coding != "identity":
            self.fail(Broken(f"the answer's content coding {coding[:40]!r} was not asked for"))
            return
        self._by_eof = "content-length" not in headers and "transfer-encoding" not in headers
        self._state = "body"
        self._wake()

    def took(self, body: bytes) -> None:
        if self._state != "body":
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused:
            self._paused = True
            self._conn.pause(True)
        self._wake()

    def ended(self, keep_alive: bool) -> None:
        if self._state == "body":  # (in "head", the end of an interim answer)
            self._state = "done"
            self._reusable = keep_alive
            self._wake()

    def lost(self) -> None:
        if self._state == "body" and self._by_eof:  # a body that ends with the connection
            self._state = "done"
            self._wake()
        else:
            self.fail(Broken("the server closed the connection before its answer ended"))

    def fail(self, error: BaseException) -> None:
        if self._state in ("head", "body"):
            self._state = "failed"
            self._error = error
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- what the caller does ---------------------------------------------------------------

    async def _wait(self) -> None:
        """Until the connection reports something. Silence is counted from the later of the
        last bytes and the wait's start, and bounded by `Limits.read`; the head's arrival by
        `begin`, the whole answer by `total`. One timer per answer, not per wait or packet:
        it is moved on when it fires early, and armed again by the next wait."""
        loop = self._conn.loop
        now = loop.time()
        if self.heard < now:
            self.heard = now
        if self._timer is None:
            self._timer = loop.call_at(min(now + self._limits.read, self._end), self._expire)
        waiter = self._waiter = loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _expire(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # no one is waiting: the next wait arms it again
        loop = self._conn.loop
        due = min(self.heard + self._limits.read, self._end)
        if loop.time() < due:
            self._timer = loop.call_at(due, self._expire)
        elif due == self._deadline:
            waiter.set_exception(NotBegun(f"no whole answer within {self._limits.total:g} s"))
        elif due == self._end:
            waiter.set_exception(NotBegun(f"no answer began within {self._limits.begin:g} s"))
        else:
            waiter.set_exception(Silent(f"nothing was heard within {self._limits.read:g} s"))

    async def head(self) -> None:
        """Until the answer's status and headers are in (`Silent` past the limits)."""
        while self._state == "head":
            await self._wait()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self._state == "failed":
            assert self._error is not None
            raise self._error

    def _take(self) -> list[bytes]:
        """The chunks arrived so far, reading resumed if it was paused."""
        chunks = list(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused:
            self._paused = False
            self._conn.pause(False)
        if self._decoder is None:
            return chunks
        return [piece for chunk in chunks for piece in self._decoder.pieces(chunk)]

    async def _more(self) -> bool:
        """False once the body has ended; else waits until more of it (or its end) is in."""
        if self._state == "done" or self._state == "released":
            return False
        self._raise_failure()
        await self._wait()
        return True

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives, its content coding undone."""
        try:
            while True:
                for piece in self._take():
                    yield piece
                if not self._chunks and not await self._more():
                    break
        except BaseException:
            self._finish(reuse=False)
            raise
        self._finish(reuse=True)

    async def read(self, limit: int, too_large: Callable[[str], Exception]) -> bytes:
        """The whole body, decoded; `too_large(message)` is raised (and the connection
        dropped) as soon as it is declared or grows past `limit` bytes. `aiter_bytes`' loop,
        not a loop over it: an async generator per call cost ~20 µs more (a fifth of a call)."""
        declared = self.headers.get("content-length", "")
        parts: list[bytes] = []
        total = 0
        try:
            if declared.isdigit() and int(declared) > limit:
                raise too_large(f"answer is too large ({declared} bytes declared)")
            while True:
                for piece in self._take():
                    total += len(piece)
                    if total > limit:
                        raise too_large(f"answer is too large (over {limit} bytes)")
                    parts.append(piece)
                if not self._chunks and not await self._more():
                    break
        except BaseException:
            self._finish(reuse=False)
            raise
        self._finish(reuse=True)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def aclose(self) -> None:
        self._finish(reuse=False)

    def _finish(self, *, reuse: bool) -> None:
        if self._state == "released":
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        reuse = reuse and self._reusable and self._state == "done"
        self._state = "released"
        self._release(self._conn, reuse)
