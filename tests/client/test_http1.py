"""core/http1.py over loopback: kept-alive connections, bodies as they come (lengths, chunks,
the end of the connection, gzip and deflate), every wait bounded, and a connection that is not
whole never used again. The peers are raw sockets speaking HTTP/1.1 by hand, so each fault is
exactly the one named."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gzip
import ipaddress
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core import http1
from core.http1 import Limits, Pool

LIMITS = Limits(connect=2.0, read=2.0, begin=4.0)
Reply = Callable[[int, bytes, asyncio.StreamWriter], Awaitable[bool]]  # False: hang up


@dataclass
class Peer:
    """A loopback server: `reply(n, request, writer)` answers its n-th request (of all)."""

    reply: Reply
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    url: str = ""
    handlers: list[asyncio.Task[None]] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        try:
            await self._exchange(reader, writer)
        except asyncio.CancelledError:  # the test is over: a reply still sleeping is cut off
            writer.transport.abort()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if not await self.reply(len(self.requests) - 1, request, writer):
                    break
                await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def peer(reply: Reply, tls: ssl.SSLContext | None = None) -> AsyncIterator[Peer]:
    served = Peer(reply)
    server = await asyncio.start_server(served._serve, "127.0.0.1", 0, ssl=tls)
    scheme = "https" if tls is not None else "http"
    served.url = f"{scheme}://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield served
    finally:
        server.close()
        for task in served.handlers:
            task.cancel()
        await asyncio.gather(*served.handlers)


def answer(body: bytes, *extra: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def ok(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(answer(b'{"ok":true,"n":%d}' % n, "Content-Type: application/json"))
    return True


async def read(pool: Pool, url: str, limits: Limits = LIMITS, body: bytes = b"{}") -> bytes:
    reply = await pool.request("POST", url, [("Content-Type", "application/json")], body, limits)
    return await reply.read(1 << 20, ValueError)


async def test_calls_take_turns_on_one_kept_alive_connection() -> None:
    async with peer(ok) as server:
        pool = Pool(limit=4)
        for n in range(5):
            assert await read(pool, server.url + "/api/chat.update") == b'{"ok":true,"n":%d}' % n
        assert server.connections == 1
        first = server.requests[0]
        assert first.startswith(b"POST /api/chat.update HTTP/1.1\r\n")
        assert b"\r\nHost: 127.0.0.1:" in first and first.endswith(b"Content-Length: 2\r\n\r\n{}")
        await pool.aclose()


async def test_bodies_by_chunks_by_the_connection_end_and_compressed() -> None:
    text = b"the same words again " * 500

    async def varied(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        if n == 0:  # chunked, in three chunks
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in (text[:10], text[10:5000], text[5000:]):
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            return True
        if n == 1:
            writer.write(answer(gzip.compress(text), "Content-Encoding: gzip"))
            return True
        if n == 2:
            writer.write(answer(zlib.compress(text), "Content-Encoding: deflate"))
            return True
        raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # "deflate" as some servers send it
        writer.write(answer(raw.compress(text) + raw.flush(), "Content-Encoding: deflate"))
        return True

    async with peer(varied) as server:
        pool = Pool()
        for _ in range(4):
            assert await read(pool, server.url) == text
        assert server.connections == 1

    async def until_closed(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + text)
        return False  # the body ends with the connection

    async with peer(until_closed) as server:
        assert await read(pool, server.url) == text
        assert await read(pool, server.url) == text
        assert server.connections == 2  # a closed connection is not used again
    await pool.aclose()


async def test_a_compressed_answer_is_decoded_in_bounded_pieces_and_capped() -> None:
    bomb = gzip.compress(b"0" * (8 * 1024 * 1024))  # 8 KB on the wire

    async def serve(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(bomb, "Content-Encoding: gzip"))
        return True

    async with peer(serve) as server:
        pool = Pool()
        reply = await pool.request("GET", server.url, [], None, LIMITS)
        sizes = [len(piece) async for piece in reply.aiter_bytes()]
        assert sum(sizes) == 8 * 1024 * 1024 and max(sizes) <= http1.PIECE_BYTES
        reply = await pool.request("GET", server.url, [], None, LIMITS)
        with pytest.raises(ValueError, match="over 1048576 bytes"):
            await reply.read(1 << 20, ValueError)
        reply = await pool.request("GET", server.url, [], None, LIMITS)
        with pytest.raises(ValueError, match="declared"):
            await reply.read(100, ValueError)  # its declared length alone is past the bound
        assert server.connections == 2  # the first was read to its end and used again
        reply = await pool.request("GET", server.url, [], None, LIMITS)
        assert len(await reply.read(8 << 20, ValueError)) == 8 * 1024 * 1024
        assert server.connections == 3  # the refused ones were dropped
        await pool.aclose()


async def test_a_silent_or_trickling_server_is_given_up_on_in_time() -> None:
    async def silent(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        if n == 0:
            await asyncio.sleep(10)  # never a word
        else:  # a byte of the head every 0.1 s: never silent, never done
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 100:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
        return False

    async with peer(silent) as server:
        pool = Pool()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(http1.Silent, match="nothing was heard within 0.3 s"):
            await read(pool, server.url, Limits(connect=1, read=0.3, begin=5))
        assert loop.time() - started < 1.0
        started = loop.time()
        with pytest.raises(http1.NotBegun, match="no answer began within 0.8 s"):
            await read(pool, server.url, Limits(connect=1, read=0.3, begin=0.8))
        assert 0.75 < loop.time() - started < 2.0
        await pool.aclose()


async def test_a_head_without_end_is_refused_at_its_bound() -> None:
    async def endless(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
        with contextlib.suppress(ConnectionError):
            for _ in range(1000):  # 64 MB of one header's value, if nobody stops it
                writer.write(b"x" * 65536)
                await writer.drain()
        return False

    async with peer(endless) as server:
        pool = Pool()
        with pytest.raises(http1.Broken, match="head is over 262144 bytes"):
            await read(pool, server.url, Limits(connect=1, read=5, begin=30))
        await pool.aclose()


async def test_a_stream_waits_out_pauses_within_the_read_limit_and_not_past_it() -> None:
    async def stream(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for pause in (0.2, 0.2, 0.2, 2.0):
            await writer.drain()
            await asyncio.sleep(pause)
            writer.write(b"6\r\nevent\n\r\n")
        return False

    async with peer(stream) as server:
        pool = Pool()
        reply = await pool.request("POST", server.url, [], b"{}", Limits(1, read=0.5, begin=2))
        got = []
        with pytest.raises(http1.Silent, match="within 0.5 s"):
            async for chunk in reply.aiter_bytes():
                got.append(chunk)
        assert got == [b"event\n"] * 3  # three pauses under the limit, the fourth over it
        await pool.aclose()


async def test_a_connection_that_breaks_fails_the_call_and_is_not_used_again() -> None:
    async def breaks(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        if n == 0:
            return False  # hangs up without a word
        if n == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf")
            return False  # hangs up halfway through the body
        if n == 2:
            writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")  # not HTTP
            return True
        if n == 3:  # two answers to one request: the first is read, the connection not kept
            writer.write(answer(b"first") + answer(b"second"))
            return True
        return await ok(n, request, writer)

    async with peer(breaks) as server:
        pool = Pool(limit=1)
        with pytest.raises(http1.Broken, match="closed the connection"):
            await read(pool, server.url)
        with pytest.raises(http1.Broken, match="closed the connection"):
            await read(pool, server.url)
        with pytest.raises(http1.Broken, match="not HTTP"):
            await read(pool, server.url)
        assert await read(pool, server.url) == b"first"
        assert await read(pool, server.url) == b'{"ok":true,"n":4}'
        assert server.connections == 5
        await pool.aclose()


async def test_nothing_listening_is_a_failed_connection() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    pool = Pool()
    with pytest.raises(http1.ConnectFailed, match="could not connect to 127.0.0.1"):
        await read(pool, f"http://127.0.0.1:{port}/")
    with pytest.raises(ValueError, match="not an http"):
        await read(pool, "ftp://127.0.0.1/")
    await pool.aclose()


async def test_past_the_limit_a_call_waits_for_a_free_connection_or_gives_up() -> None:
    gate = asyncio.Event()

    async def held(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        await gate.wait()
        return await ok(n, request, writer)

    async with peer(held) as server:
        pool = Pool(limit=2)
        first = [asyncio.ensure_future(read(pool, server.url)) for _ in range(3)]
        await asyncio.sleep(0.1)  # two sent, one waiting
        with pytest.raises(http1.PoolTimedOut, match="no connection came free within 0.2 s"):
            await read(pool, server.url, Limits(connect=0.2, read=2, begin=2))
        gate.set()
        answers = await asyncio.gather(*first)
        assert len(set(answers)) == 3
        assert server.connections == 2  # the third waited for one of the two
        await pool.aclose()


async def test_a_connection_closed_after_it_was_handed_on_is_not_used() -> None:
    async with peer(ok) as server:
        pool = Pool(limit=1)
        first = await pool.request("POST", server.url, [], b"", LIMITS)
        second = asyncio.ensure_future(read(pool, server.url))
        await asyncio.sleep(0.05)  # waiting for the one connection
        await first.read(100, ValueError)  # given back: handed to the waiting call
        handed = first._conn
        handed.close()  # the server's close arrives before the waiting call runs
        handed.connection_lost(None)
        assert await asyncio.wait_for(second, 5) == b'{"ok":true,"n":1}'
        assert server.connections == 2
        await pool.aclose()


async def test_a_get_on_a_connection_closed_as_it_was_sent_goes_again() -> None:
    async def one_each(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        await ok(n, request, writer)
        return False  # closes after each answer, without saying so

    async with peer(one_each) as server:
        pool = Pool()
        for _ in range(20):  # each sent at once on the last one, which the server closed
            reply = await pool.request("GET", server.url, [], None, LIMITS)
            assert (await reply.read(100, ValueError)).startswith(b'{"ok":true')
        assert server.connections >= 20
        assert len(server.requests) <= 40  # each sent at most twice
        await pool.aclose()


async def test_a_call_given_up_midway_drops_its_connection() -> None:
    async def slow(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        if n == 0:
            await asyncio.sleep(5)
        writer.write(b"defghij")
        return True

    async with peer(slow) as server:
        pool = Pool(limit=1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await read(pool, server.url)
        assert await read(pool, server.url) == b"abcdefghij"  # not the first one's rest
        assert server.connections == 2
        reply = await pool.request("POST", server.url, [], b"", LIMITS)
        await reply.aclose()  # closed unread: dropped, and its slot free again
        assert await read(pool, server.url) == b"abcdefghij"
        assert server.connections == 3
        await pool.aclose()


async def test_an_idle_connection_closed_by_the_server_or_kept_too_long_is_not_used() -> None:
    async def once(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        await ok(n, request, writer)
        return n != 0  # hangs up after the first answer, as an idle timeout would

    async with peer(once) as server:
        pool = Pool(keepalive=0.3)
        await read(pool, server.url)
        await asyncio.sleep(0.1)  # the close arrives while the connection is idle
        assert await read(pool, server.url) == b'{"ok":true,"n":1}'
        assert server.connections == 2
        await asyncio.sleep(0.4)  # past `keepalive`
        assert await read(pool, server.url) == b'{"ok":true,"n":2}'
        assert server.connections == 3
        await pool.aclose()


async def test_a_header_cannot_carry_a_line_break_into_another() -> None:
    async with peer(ok) as server:
        pool = Pool()
        for value in ("x\r\nX-Injected: 1", "x\nX-Injected: 1", "x\r", "a\rb"):
            with pytest.raises(ValueError, match="line break"):
                await pool.request("POST", server.url, [("X-Note", value)], b"", LIMITS)
        assert server.requests == []
        framing = [("content-length", "999"), ("Host", "elsewhere"), ("X-Note", "kept")]
        reply = await pool.request("POST", server.url, framing, b"{}", LIMITS)
        await reply.read(100, ValueError)
        head = server.requests[0].lower()
        assert head.count(b"content-length:") == 1 and b"content-length: 2\r\n" in head
        assert b"elsewhere" not in head and b"x-note: kept" in head
        reply = await pool.request("GET", server.url + "/api/users.info?user=U1", [], None, LIMITS)
        await reply.read(100, ValueError)
        assert server.requests[1].startswith(b"GET /api/users.info?user=U1 HTTP/1.1\r\n")
        assert b"content-length" not in server.requests[1].lower()  # a GET has no body
        await pool.aclose()


async def test_a_large_body_arrives_whole_through_the_read_pauses() -> None:
    big = bytes(range(256)) * (5 * http1.HIGH_WATER // 256)

    async def serve(n: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(big))
        return True

    async with peer(serve) as server:
        pool = Pool()
        reply = await pool.request("GET", server.url, [], None, LIMITS)
        await asyncio.sleep(0.3)  # unread meanwhile: the socket is no longer read past the mark
        assert reply._buffered <= http1.HIGH_WATER + 256 * 1024
        assert await reply.read(len(big), ValueError) == big
        again = await pool.request("GET", server.url, [], None, LIMITS)
        assert await again.read(len(big), ValueError) == big
        assert server.connections == 1
        await pool.aclose()


def _self_signed(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh certificate for 127.0.0.1, and a client context that
    trusts exactly that certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jupiter test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp / "cert.pem").write_bytes(pem)
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


async def test_https_is_verified_against_the_given_context(tmp_path: Path) -> None:
    server_tls, client_tls = _self_signed(tmp_path)
    async with peer(ok, server_tls) as server:
        trusting = Pool(tls=client_tls)
        assert await read(trusting, server.url) == b'{"ok":true,"n":0}'
        assert await read(trusting, server.url) == b'{"ok":true,"n":1}'
        assert server.connections == 1  # kept alive over TLS too
        await trusting.aclose()
        default = Pool()  # the system's roots: a self-signed certificate is refused
        with pytest.raises(http1.ConnectFailed, match="certificate"):
            await read(default, server.url)
        await default.aclose()


async def test_a_burst_of_new_connections_asks_for_a_name_once() -> None:
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        await asyncio.sleep(0.05)  # a resolver's thread hop
        return ["127.0.0.1"]

    async with peer(ok) as server:
        port = server.url.rsplit(":", 1)[1]
        pool = Pool(limit=50, resolve=resolve)
        named = f"http://backend.internal:{port}/api"
        answers = await asyncio.gather(*(read(pool, named) for _ in range(30)))
        assert len(set(answers)) == 30 and asked == ["backend.internal"]
        await read(pool, named)  # kept for a minute
        await read(pool, server.url)  # an address is not looked up
        assert asked == ["backend.internal"]
        assert b"\r\nHost: backend.internal:" in server.requests[0]
        await pool.aclose()
