"""core/wire.py over loopback: aiohttp carries httpx's requests, and a peer that stops reading
a request's body cannot hold it past httpx's write and read limits (aiohttp has no write
timeout of its own)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx

from core.wire import AiohttpTransport


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
