"""An engine whose client talks to the local backend except where a test answers a path itself
(crafted turn streams, a refused claim token), for what the local backend cannot be made to say."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from core.client import NemoClient
from core.engine import Engine, EngineConfig
from core.sim import LocalBackend
from core.store import Store

Answer = Callable[[httpx.Request], httpx.Response]


class Steer(httpx.AsyncBaseTransport):
    """Forwards every request to the real loopback server, except `paths` (answered here)."""

    def __init__(self, paths: dict[str, Answer]) -> None:
        self.paths = paths
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fake = self.paths.get(request.url.path)
        if fake is not None:
            await request.aread()
            return fake(request)
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


def sse(*events: dict[str, Any]) -> Answer:
    """A turn stream of `events`, closed normally."""
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return lambda _: httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=body
    )


def ask(args: dict[str, Any], *before: dict[str, Any]) -> Answer:
    return sse(*before, {"type": "tool_call", "name": "ask_question", "args": args})


@asynccontextmanager
async def steered(
    sim: LocalBackend, store: Store, paths: dict[str, Answer], **config: Any
) -> AsyncIterator[Engine]:
    values: dict[str, Any] = {
        "heartbeat_seconds": 0.1,
        "render_poll_seconds": 0.05,
        "lease_seconds": 2,
        "recovery_seconds": 0.05,
    }
    values.update(config)
    async with httpx.AsyncClient(transport=Steer(paths)) as http:
        engine = Engine(NemoClient(http, sim.base_url), store, EngineConfig(**values))
        await engine.start()
        try:
            yield engine
        finally:
            await engine.stop()
