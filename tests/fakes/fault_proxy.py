"""A small asyncio TCP proxy on 127.0.0.1 that makes the road to a server go bad on demand.

Put it in front of the local backend or the fake Slack API and point the client at `url`:

    async with FaultProxy(sim.base_url) as proxy:
        proxy.latency = 0.05          # seconds added to every chunk, each way (order kept)
        proxy.bandwidth = 64_000      # bytes per second, each way, per connection
        proxy.reset_after(300, after=b"text/event-stream")  # RST once 300 more bytes went down
        proxy.blackhole = True        # accept, then forward nothing either way (a stall)
        proxy.fail_next(2, status=503, path="/run_sse")     # answered by the proxy itself
        proxy.hold_next(1, path="/api/credits")             # swallowed: never answered

Knobs apply from the moment they are set, to open connections too. The request rules
(`fail_next`, `hold_next`) read the HTTP/1.1 request heads going up (Content-Length framed
bodies); a connection whose framing it cannot follow (chunked) is piped raw from then on.
Every connection and request is counted, and `wait_for` waits on those counts with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CHUNK = 64 * 1024
MAX_HEAD = 64 * 1024
_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}
_REASONS |= {503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class _Rule:
    count: int
    status: int | None  # None: hold the request, never answer it
    path: str | None
    body: bytes = b""

    def matches(self, path: str) -> bool:
        return self.count > 0 and (self.path is None or path.startswith(self.path))


@dataclass
class _Reset:
    budget: int
    after: bytes | None
    generation: int


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    down_bytes: int = 0  # counted towards the reset rule, from its arming
    armed: bool = False  # the reset rule's marker was seen on this connection
    seen: bytes = b""  # the tail of what went down, to find a marker split across reads
    generation: int = -1
    held: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    answered_by_proxy: int | None = None  # the status the proxy answered, or 0 when held


class FaultProxy:
    def __init__(self, upstream: str, *, host: str = "127.0.0.1") -> None:
        parts = urlsplit(upstream if "://" in upstream else f"tcp://{upstream}")
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fault proxy only forwards to loopback")
        self._upstream = (parts.hostname, parts.port or 80)
        self._host = host
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._rules: list[_Rule] = []
        self._reset: _Reset | None = None
        self._changed = asyncio.Condition()
        self.latency = 0.0
        self.bandwidth: int | None = None
        self.blackhole = False
        self.url = ""
        self.connections = 0
        self.resets = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.requests: list[Request] = []

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, self._host, 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://{self._host}:{port}"
        return self

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = [t for t in self._handlers if not t.done()]
        for connection in list(self._connections):
            self._close(connection)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # -- knobs --------------------------------------------------------------------------------

    def fail_next(
        self, count: int = 1, *, status: int = 503, path: str | None = None, body: bytes = b""
    ) -> None:
        """The next `count` requests (whose path starts with `path`) get `status` from the proxy."""
        self._rules.append(_Rule(count, status, path, body))

    def hold_next(self, count: int = 1, *, path: str | None = None) -> None:
        """The next `count` requests are swallowed: never forwarded, never answered."""
        self._rules.append(_Rule(count, None, path))

    def reset_after(self, budget: int | None, *, after: bytes | None = None) -> None:
        """Reset each connection once `budget` more bytes went down it (counted from `after`,
        when given, on the connections where that marker goes down). None switches it off."""
        generation = (self._reset.generation + 1) if self._reset else 0
        self._reset = None if budget is None else _Reset(budget, after, generation)

    async def cut_all(self) -> None:
        """Reset every open connection (idle pooled ones included); returns once they are shut."""
        connections = list(self._connections)
        for connection in connections:
            self._abort(connection)
        for connection in connections:
            with contextlib.suppress(ConnectionError, OSError):
                await connection.client.wait_closed()

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:  # noqa: ASYNC109
        """Until `predicate()` is truthy; checked after every connection, request and reset."""
        async with asyncio.timeout(timeout), self._changed:
            while not (value := predicate()):
                await self._changed.wait()
            return value

    async def _touch(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- plumbing -----------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(writer)
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        self._connections.add(connection)
        self.connections += 1
        await self._touch()
        try:
            if self.blackhole:
                await self._discard(reader)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self._upstream)
            except OSError:
                self._abort(connection)
                return
            connection.upstream = up_writer
            up = asyncio.create_task(self._pump_up(reader, up_writer, connection))
            down = asyncio.create_task(self._pump_down(up_reader, writer, connection))
            connection.tasks = [up, down]
            done, _ = await asyncio.wait(connection.tasks, return_when=asyncio.FIRST_COMPLETED)
            if down in done or connection.held:
                # the server hung up, or the client gave up on a held request: end both ways
                for task in connection.tasks:
                    task.cancel()
            # else the client finished sending: let the answer drain, then close
            await asyncio.gather(*connection.tasks, return_exceptions=True)
        except asyncio.CancelledError:
            for task in connection.tasks:
                task.cancel()
            await asyncio.gather(*connection.tasks, return_exceptions=True)
        finally:
            self._close(connection)
            await self._touch()

    async def _discard(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(CHUNK):
            pass

    async def _pump_up(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: _Connection
    ) -> None:
        """Client to server: one request head at a time, so the rules can answer or hold one."""
        buffer = b""
        body_left = 0
        raw = False
        try:
            while True:
                chunk = await reader.read(CHUNK)
                if not chunk:
                    break
                if connection.held:
                    continue
                if raw:
                    await self._send(writer, chunk, up=True)
                    continue
                buffer += chunk
                while buffer and not raw and not connection.held:
                    if body_left:
                        piece, buffer = buffer[:body_left], buffer[body_left:]
                        body_left -= len(piece)
                        await self._send(writer, piece, up=True)
                        continue
                    end = buffer.find(b"\r\n\r\n")
                    if end < 0:
                        if len(buffer) > MAX_HEAD:
                            raw = True
                            await self._send(writer, buffer, up=True)
                            buffer = b""
                        break
                    head, buffer = buffer[: end + 4], buffer[end + 4 :]
                    method, path, length, chunked = _parse_head(head)
                    rule = next((r for r in self._rules if r.matches(path)), None)
                    if rule is not None:
                        rule.count -= 1
                        self.requests.append(Request(method, path, rule.status or 0))
                        await self._touch()
                        if rule.status is None:
                            connection.held = True
                            break
                        await self._answer(connection, rule)
                        return
                    self.requests.append(Request(method, path))
                    await self._touch()
                    await self._send(writer, head, up=True)
                    if chunked:
                        raw = True
                        await self._send(writer, buffer, up=True)
                        buffer = b""
                    else:
                        body_left = length
        except (ConnectionError, OSError):
            pass
        finally:
            if not connection.held:
                with contextlib.suppress(OSError, RuntimeError):
                    writer.write_eof()

    async def _pump_down(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: _Connection
    ) -> None:
        try:
            while chunk := await reader.read(CHUNK):
                if connection.held:
                    continue
                chunk = self._apply_reset(connection, chunk)
                if chunk is None:
                    return
                await self._send(writer, chunk, up=False)
        except (ConnectionError, OSError):
            pass

    def _apply_reset(self, connection: _Connection, chunk: bytes) -> bytes | None:
        """The bytes of `chunk` that may still go down; None once the connection was reset."""
        rule = self._reset
        if rule is None:
            return chunk
        if connection.generation != rule.generation:
            connection.generation = rule.generation
            connection.down_bytes, connection.armed, connection.seen = 0, rule.after is None, b""
        start = 0
        if not connection.armed:
            window = connection.seen + chunk
            at = window.find(rule.after or b"")
            if at < 0:
                connection.seen = window[-len(rule.after or b"") :]
                return chunk
            connection.armed = True
            start = max(at + len(rule.after or b"") - len(connection.seen), 0)
        left = rule.budget - connection.down_bytes
        if len(chunk) - start <= left:
            connection.down_bytes += len(chunk) - start
            return chunk
        allowed = chunk[: start + max(left, 0)]
        if allowed:
            connection.client.write(allowed)
        self._abort(connection)
        return None

    async def _send(self, writer: asyncio.StreamWriter, chunk: bytes, *, up: bool) -> None:
        if not chunk:
            return
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.bandwidth:
            await asyncio.sleep(len(chunk) / self.bandwidth)
        if self.blackhole:
            return  # swallowed on the way: a stall, not a close
        if up:
            self.bytes_up += len(chunk)
        else:
            self.bytes_down += len(chunk)
        writer.write(chunk)
        await writer.drain()

    async def _answer(self, connection: _Connection, rule: _Rule) -> None:
        status = rule.status or 503
        reason = _REASONS.get(status, "Error")
        body = rule.body or f'{{"detail": "fault proxy: HTTP {status}"}}'.encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        )
        if status == 429:
            head += "Retry-After: 0\r\n"
        connection.client.write(head.encode() + b"\r\n" + body)
        with contextlib.suppress(ConnectionError, OSError):
            await connection.client.drain()
        self._close(connection)

    def _abort(self, connection: _Connection) -> None:
        """Reset (RST) the client side, close the server side."""
        self.resets += 1
        sock = connection.client.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.client.transport.abort()
        if connection.upstream is not None:
            connection.upstream.transport.abort()
        self._connections.discard(connection)

    def _close(self, connection: _Connection) -> None:
        for writer in (connection.client, connection.upstream):
            if writer is not None and not writer.transport.is_closing():
                writer.transport.close()
        self._connections.discard(connection)


def _parse_head(head: bytes) -> tuple[str, str, int, bool]:
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    path = rest.rsplit(" ", 1)[0] if " " in rest else rest
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length" and value.strip().isdigit():
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    return method, path, length, chunked
