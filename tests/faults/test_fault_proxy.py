"""The fault proxy itself: each knob does what it says, on real loopback connections."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from tests.fakes.fault_proxy import FaultProxy
from tests.loopback import served


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    """A tiny HTTP server: `GET /bytes/N` answers N bytes, `POST /echo` the length it read."""

    async def some_bytes(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * int(request.match_info["n"]))

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"read": len(await request.read())})

    app = web.Application()
    app.router.add_get("/bytes/{n}", some_bytes)
    app.router.add_post("/echo", echo)
    async with served(app) as url:
        yield url


@pytest.fixture
async def proxy(origin: str) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(origin) as fault_proxy:
        yield fault_proxy


async def test_passes_requests_and_counts_them(proxy: FaultProxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        assert len((await http.get("/bytes/1000")).content) == 1000
        assert (await http.post("/echo", content=b"y" * 5000)).json() == {"read": 5000}
        assert len((await http.get("/bytes/10")).content) == 10
    assert [(r.method, r.path) for r in proxy.requests] == [
        ("GET", "/bytes/1000"),
        ("POST", "/echo"),
        ("GET", "/bytes/10"),
    ]
    assert proxy.connections == 1  # keep-alive: the request framing was followed


async def test_latency_and_bandwidth(proxy: FaultProxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        proxy.latency = 0.05
        started = time.monotonic()
        await http.get("/bytes/10")
        assert time.monotonic() - started >= 0.1  # once up, once down
        proxy.latency, proxy.bandwidth = 0.0, 1_000_000
        started = time.monotonic()
        assert len((await http.get("/bytes/200000")).content) == 200_000
        assert time.monotonic() - started >= 0.2


async def test_reset_after_bytes_cuts_a_body_midway(proxy: FaultProxy) -> None:
    proxy.reset_after(50_000)
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        with pytest.raises(httpx.TransportError):
            await http.get("/bytes/500000")
        proxy.reset_after(None)
        assert len((await http.get("/bytes/500000")).content) == 500_000
    assert proxy.resets == 1


async def test_reset_counts_from_a_marker(proxy: FaultProxy) -> None:
    proxy.reset_after(10, after=b"never-sent")
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        assert len((await http.get("/bytes/100000")).content) == 100_000
        proxy.reset_after(10, after=b"xxxx")
        with pytest.raises(httpx.TransportError):
            await http.get("/bytes/100000")


async def test_blackhole_stalls_without_closing(proxy: FaultProxy) -> None:
    proxy.blackhole = True
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/bytes/10", timeout=0.2)
        proxy.blackhole = False
        assert len((await http.get("/bytes/10")).content) == 10


async def test_fail_and_hold_rules_match_paths(proxy: FaultProxy) -> None:
    proxy.fail_next(2, status=503, path="/echo")
    proxy.hold_next(1, path="/bytes/7")
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        assert (await http.get("/bytes/3")).status_code == 200
        assert (await http.post("/echo", content=b"z")).status_code == 503
        assert (await http.post("/echo", content=b"z")).status_code == 503
        assert (await http.post("/echo", content=b"z")).json() == {"read": 1}
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/bytes/7", timeout=0.2)
        assert (await http.get("/bytes/7")).status_code == 200
    answered = [r.answered_by_proxy for r in proxy.requests]
    assert answered == [None, 503, 503, None, 0, None]


async def test_cut_all_drops_pooled_connections_cleanly(proxy: FaultProxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as http:
        await http.get("/bytes/1")
        await proxy.wait_for(lambda: proxy.open_connections == 1)
        await proxy.cut_all()
        assert (await http.get("/bytes/1")).status_code == 200
    assert proxy.connections == 2
