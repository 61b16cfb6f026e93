"""A hostile backend on 127.0.0.1: the local backend behind a front that rewrites chosen answers
(a flooding turn stream, a render status carrying NaN, an internal output URL, a token in an
error), so the bot's bounds are tested over real loopback HTTP, not a mock transport.

Everything not overridden is forwarded to the local backend unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from aiohttp import web

Override = Callable[[web.Request, httpx.AsyncClient], Awaitable[web.StreamResponse | None]]
HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


class Hostile:
    """`overrides`: (method, path prefix) -> handler; a handler returning None forwards."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.overrides: dict[tuple[str, str], Override] = {}
        self.seen: list[tuple[str, str]] = []
        self.url = ""

    async def forward(self, request: web.Request, http: httpx.AsyncClient) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"host"}}
        answer = await http.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            content=await request.read(),
            timeout=30,
        )
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        if request.method == "HEAD" and "content-length" in answer.headers:
            kept["Content-Length"] = answer.headers["content-length"]
            return web.Response(status=answer.status_code, headers=kept)
        return web.Response(status=answer.status_code, body=answer.content, headers=kept)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Hostile]:
        async with httpx.AsyncClient() as http:

            async def handle(request: web.Request) -> web.StreamResponse:
                self.seen.append((request.method, request.path))
                for (method, prefix), override in self.overrides.items():
                    if request.method == method and request.path.startswith(prefix):
                        answer = await override(request, http)
                        if answer is not None:
                            return answer
                return await self.forward(request, http)

            async with serve(handle) as url:
                self.url = url
                yield self


@asynccontextmanager
async def serve(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]], host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    """`handle` answering every path on `host` (a free port); yields the base URL."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def sse(request: web.Request, frames: AsyncIterator[bytes]) -> web.StreamResponse:
    """A turn stream written frame by frame."""
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    async for frame in frames:
        await response.write(frame)
    await response.write_eof()
    return response
