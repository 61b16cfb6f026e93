"""`/healthz` and `/metrics` on `JUPITER_HTTP_PORT`, for any adapter an orchestrator watches.

`/healthz` is 200 `{"status":"ok"}` while the store answers and can write (within 5 s), else 503.
`/livez` is 200 as soon as the event loop gets to it, with no other work: a liveness probe (and
the load benchmark's loop-lag probe) that costs nothing, where `/metrics` renders every series.

Every HTTP server here is built by `web_runner`, with limits a public port needs: header lines
and fields (`MAX_LINE_BYTES`, `MAX_HEADERS`), a body size (`BODY_MAX_BYTES`, Slack's payloads are far smaller),
and an idle limit (`IDLE_SECONDS`) that also drops a client that opens a connection and sends
its request headers too slowly (aiohttp arms the keep-alive timer as a connection opens).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Protocol

from aiohttp import web

from core.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger("jupiter.health")

HEALTH_TIMEOUT_SECONDS = 5.0
BODY_MAX_BYTES = 1 << 20
BODY_SECONDS = 10.0  # the longest a request body may take to arrive
IDLE_SECONDS = 15.0
MAX_LINE_BYTES = 8190  # request line and each header line
MAX_HEADERS = 64


class HealthRuntime(Protocol):
    @property
    def metrics(self) -> Metrics: ...

    async def healthy(self) -> bool: ...


def web_app() -> web.Application:
    return web.Application(client_max_size=BODY_MAX_BYTES)


def web_runner(app: web.Application) -> web.AppRunner:
    """A runner with the header and idle limits, and no access log (one line per poll)."""
    return web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=IDLE_SECONDS,
        max_line_size=MAX_LINE_BYTES,
        max_field_size=MAX_LINE_BYTES,
        max_headers=MAX_HEADERS,
    )


def add_health_routes(web_app: web.Application, rt: HealthRuntime) -> None:
    async def healthz(_: web.Request) -> web.Response:
        try:
            ok = await asyncio.wait_for(rt.healthy(), HEALTH_TIMEOUT_SECONDS)
        except Exception as exc:
            log.warning("health check failed: %s", exc.__class__.__name__)
            ok = False
        if ok:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "unavailable"}, status=503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=rt.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def livez(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/livez", livez)
    web_app.router.add_get("/metrics", metrics)


async def serve_health(rt: HealthRuntime, port: int, host: str = "0.0.0.0") -> None:
    """Serve only the health and metrics routes until cancelled (the Discord bot's port)."""
    app = web_app()
    add_health_routes(app, rt)
    runner = web_runner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host=host, port=port)
        try:
            await site.start()
        except OSError as exc:
            log.error("health endpoint not served: port %s: %s", port, exc.strerror)
            await asyncio.Event().wait()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def alongside(
    work: Awaitable[None], rt: HealthRuntime, port: int, host: str = "0.0.0.0"
) -> None:
    """Run `work` with the health server beside it; when `work` ends, so does the server."""
    health = asyncio.ensure_future(serve_health(rt, port, host))
    try:
        await work
    finally:
        health.cancel()
        await asyncio.gather(health, return_exceptions=True)
