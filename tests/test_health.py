"""The health server the Discord bot runs beside itself (the Slack app serves the same routes)."""

from __future__ import annotations

import asyncio
import socket

import httpx

from bots.health import alongside
from core.metrics import Metrics


class Runtime:
    def __init__(self) -> None:
        self.metrics = Metrics()
        self.ok = True

    async def healthy(self) -> bool:
        return self.ok


async def test_health_and_metrics_are_served_beside_the_bot() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rt = Runtime()
    rt.metrics.turns.labels("done").inc()
    bot_stopped = asyncio.Event()
    server = asyncio.create_task(alongside(bot_stopped.wait(), rt, port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            async with asyncio.timeout(10):
                while True:
                    try:
                        response = await http.get("/healthz")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.02)
            assert response.status_code == 200 and response.json() == {"status": "ok"}
            rt.ok = False
            assert (await http.get("/healthz")).status_code == 503
            live = await http.get("/livez")  # the process answers, whatever the store does
            assert live.status_code == 200 and live.text == "ok"
            metrics = await http.get("/metrics")
            assert 'jupiter_turns_total{outcome="done"} 1.0' in metrics.text
    finally:
        bot_stopped.set()
        await asyncio.wait_for(server, 10)
    with socket.socket() as probe:  # the port is free again once the bot stops
        probe.bind(("127.0.0.1", port))
