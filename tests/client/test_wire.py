"""core/wire.py over loopback: aiohttp carries httpx's requests, and a peer that stops reading
a request's body cannot hold it past httpx's write and read limits (aiohttp has no write
timeout of its own)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx

from core.wire import AiohttpTransport, Streamed


async def _megabytes(count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * (1024 * 1024)


async def test_a_peer_that_never_reads_the_body_times_the_request_out() -> None:
    release = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.wait_for(release.wait(), 30)  # accepts, never reads, never answers
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = AiohttpTransport(httpx.create_ssl_context())
    try:
        async with httpx.AsyncClient(transport=transport) as http:
            started = time.monotonic()
            try:
                await http.post(
                    f"http://127.0.0.1:{port}/upload",
                    content=_megabytes(64),  # streamed, as uploads are: far past the buffers
                    timeout=httpx.Timeout(5.0, write=0.4, read=0.4),
                )
            except httpx.TimeoutException as exc:
                assert isinstance(exc, httpx.WriteTimeout | httpx.ReadTimeout)
            else:
                raise AssertionError("the request was answered")
            assert time.monotonic() - started < 4.0  # the 0.8 s bound, not the 30 s hold
    finally:
        release.set()
        await asyncio.sleep(0.1)
        server.close()
        await server.wait_closed()


async def test_an_answer_arrives_through_httpx_as_httpx_would_give_it() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b'Content-Length: 11\r\n\r\n{"code":0}\n')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(
            transport=AiohttpTransport(httpx.create_ssl_context())
        ) as http:
            response = await http.get(f"http://127.0.0.1:{port}/x", timeout=5)
            assert response.status_code == 200 and response.json() == {"code": 0}
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def _serving(
    answer: bytes, *, cut_after: int | None = None, hold: bool = False
) -> AsyncIterator[str]:
    """A loopback peer (its URL) that reads one request and writes `answer` (only its first
    `cut_after` bytes, then drops the connection), or, with `hold`, never answers. On the way
    out it waits for its connections to close, so none outlives the test's loop."""
    handlers: list[asyncio.Task[None]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            handlers.append(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            if hold:  # silent until the caller gives up and hangs up
                await asyncio.wait_for(reader.read(), 30)
            else:
                writer.write(answer if cut_after is None else answer[:cut_after])
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"
    finally:
        server.close()
        await server.wait_closed()
        if handlers:
            await asyncio.wait(handlers, timeout=5)


def _http(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


async def _exchange(url: str, *, limit: int = 1024, seconds: float = 5.0) -> tuple[int, bytes]:
    """A direct call, its answer read within `limit` both ways the client reads one: in one loop
    (`read_capped`, which takes `Streamed.read`: the JSON calls) and chunk by chunk as a stream
    is read (`aiter_bytes`); both must agree."""
    from core.client_envelopes import read_capped, too_large

    async def by_chunks(answer: Streamed) -> bytes:
        parts, total = [], 0
        async for chunk in answer.aiter_bytes():
            total += len(chunk)
            if total > limit:
                raise too_large(limit)
            parts.append(chunk)
        return b"".join(parts)

    transport = AiohttpTransport(httpx.create_ssl_context())
    try:
        got = []
        for whole in (True, False):
            answer = await transport.exchange("GET", url, {}, None, seconds=seconds)
            try:
                body = await (read_capped(answer, limit) if whole else by_chunks(answer))
                got.append((answer.status_code, body))
            finally:
                await answer.aclose()
        assert got[0] == got[1]
        return got[0]
    finally:
        await transport.aclose()


async def test_a_direct_call_reads_a_compressed_answer_whole() -> None:
    import gzip

    body = b'{"code":0,"data":{"available":25000}}'
    async with _serving(_http(gzip.compress(body), "Content-Encoding: gzip")) as url:
        assert await _exchange(url) == (200, body)


async def test_a_direct_call_refuses_an_answer_past_its_limit() -> None:
    """Declared too large, or growing past the limit as it is decoded (a small gzip of a large
    body): refused either way, never held whole."""
    import gzip

    from core.errors import ProtocolError

    for answer in (
        _http(b"x" * 5000),
        _http(gzip.compress(b"x" * 200_000), "Content-Encoding: gzip"),
    ):
        async with _serving(answer) as url:
            try:
                await _exchange(url, limit=4096)
            except ProtocolError as exc:
                assert "too large" in str(exc)
            else:
                raise AssertionError("an answer past the limit was read")


async def test_a_direct_call_cut_off_or_unanswered_fails_as_httpx_would() -> None:
    """A body cut short is a broken connection after sending (never re-sent for a charged
    call); silence is httpx's read timeout: the errors the retry rules know."""
    whole = _http(b'{"code":0,"data":{"available":25000}}')
    async with _serving(whole, cut_after=len(whole) - 8) as url:
        try:
            await _exchange(url)
        except httpx.TransportError as exc:
            assert isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError)
        else:
            raise AssertionError("a cut answer was read")
    async with _serving(b"", hold=True) as url:
        try:
            await _exchange(url, seconds=0.3)
        except httpx.TimeoutException:
            pass
        else:
            raise AssertionError("an unanswered call returned")


async def test_a_direct_call_sends_each_header_once() -> None:
    """The httpx client's own headers (lower-case) and the call's (`Accept`, attribution,
    `Authorization`) are merged by name: one `Accept`, the call's, not httpx's `*/*` as well."""
    from core.client_transport import ClientTiming, Credentials, Transport

    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(_http(b'{"code":0,"data":{"available":1}}'))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    wire = AiohttpTransport(httpx.create_ssl_context())
    async with (
        server,
        httpx.AsyncClient(transport=wire, headers={"User-Agent": "jupiter/t"}) as http,
    ):
        transport = Transport(http, base, ClientTiming(), "9.9", wire)
        creds = Credentials("jupiter-test", platform="slack", token="nmv_usr_test")
        data = await transport.call("GET", "/api/credits/balance/simple", creds, idempotent=True)
        assert data == {"available": 1}
        await wire.aclose()  # its connection closed before the loop is
    lines = [line.lower() for line in seen[0].decode().split("\r\n")[1:] if line]
    names = [line.split(":", 1)[0] for line in lines]
    assert len(names) == len(set(names)), names
    assert "accept: application/json" in lines and "user-agent: jupiter/t" in lines
    assert "x-skill-platform: slack" in lines and "authorization: bearer nmv_usr_test" in lines
