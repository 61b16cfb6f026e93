"""`/healthz` and `/metrics` on `JUPITER_HTTP_PORT`, for any adapter an orchestrator watches.

`/healthz` is 200 `{"status":"ok"}` while the store answers (within 5 s), else 503.
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


class HealthRuntime(Protocol):
    @property
    def metrics(self) -> Metrics: ...

    async def healthy(self) -> bool: ...


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

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)


async def serve_health(rt: HealthRuntime, port: int, host: str = "0.0.0.0") -> None:
    """Serve only the health and metrics routes until cancelled (the Discord bot's port)."""
    web_app = web.Application()
    add_health_routes(web_app, rt)
    runner = web.AppRunner(web_app, access_log=None)
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


async def alongside(work: Awaitable[None], rt: HealthRuntime, port: int) -> None:
    """Run `work` with the health server beside it; when `work` ends, so does the server."""
    health = asyncio.ensure_future(serve_health(rt, port))
    try:
        await work
    finally:
        health.cancel()
        await asyncio.gather(health, return_exceptions=True)
