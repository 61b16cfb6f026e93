"""Finished videos are fetched from their public link, without credentials."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from core.client import Credentials, NemoClient
from core.client_media import MediaRefused, PublicOnlyResolver
from core.errors import BackendUnavailable
from core.wire import AiohttpTransport
from tests.client.conftest import BASE, Backend, Reply
from tests.loopback import served

VIDEO = "https://cdn.example/render.mp4"


async def test_download_streams_the_video_without_auth(backend: Backend, nemo: NemoClient) -> None:
    data = bytes(range(256)) * 4000
    backend.on("GET", "/render.mp4", Reply(raw=data))
    received = b"".join([chunk async for chunk in nemo.download(VIDEO)])
    assert received == data
    (request,) = backend.requests
    assert "Authorization" not in request.headers


async def test_a_failed_download_raises(backend: Backend, nemo: NemoClient) -> None:
    backend.on("GET", "/render.mp4", Reply(403, raw=b"expired"))
    with pytest.raises(BackendUnavailable, match="403"):
        [chunk async for chunk in nemo.download(VIDEO)]


async def test_media_size(backend: Backend, nemo: NemoClient) -> None:
    backend.on("HEAD", "/render.mp4", Reply(headers={"content-length": "15728640"}))
    backend.on("HEAD", "/gone.mp4", Reply(404))
    backend.on("HEAD", "/down.mp4", httpx.ConnectError("refused"))
    assert await nemo.media_size(VIDEO) == 15728640
    assert await nemo.media_size("https://cdn.example/gone.mp4") is None
    assert await nemo.media_size("https://cdn.example/down.mp4") is None


# -- the media guard: a backend's URL cannot make the bot read its own network --------------

INTERNAL = [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.8/render.mp4",
    "http://192.168.1.2/render.mp4",
    "http://100.64.0.9/render.mp4",
    "http://127.0.0.1:9/render.mp4",
    "http://[::1]/render.mp4",
    "http://[fe80::1]/render.mp4",
    "http://[fd00::5]/render.mp4",
    "http://[::ffff:10.0.0.8]/render.mp4",
    "http://224.0.0.1/render.mp4",
    "http://10.0.0.8.internal.example/render.mp4",  # a name that resolves inside
    "ftp://cdn.example/render.mp4",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("url", INTERNAL)
async def test_internal_addresses_are_never_fetched(
    backend: Backend, nemo: NemoClient, url: str
) -> None:
    assert await nemo.media_size(url) is None
    with pytest.raises(MediaRefused):
        [chunk async for chunk in nemo.download(url)]
    assert backend.requests == []


async def test_the_backends_own_host_and_public_v6_are_allowed(
    backend: Backend, nemo: NemoClient
) -> None:
    backend.on("HEAD", "/own.mp4", Reply(headers={"content-length": "10"}))
    assert await nemo.media_size(BASE + "/own.mp4") == 10
    assert await nemo.media_size("https://cdn6.example/own.mp4") == 10


@pytest.mark.parametrize("method", ["HEAD", "GET"])
async def test_every_redirect_is_checked_again(
    backend: Backend, nemo: NemoClient, method: str
) -> None:
    hop = Reply(302, headers={"location": "https://cdn.example/hop.mp4"})
    inside = Reply(302, headers={"location": "http://169.254.169.254/latest/"})
    backend.on(method, "/render.mp4", hop)
    backend.on(method, "/hop.mp4", inside)
    if method == "HEAD":
        assert await nemo.media_size(VIDEO) is None
    else:
        with pytest.raises(MediaRefused, match="169.254.169.254"):
            [chunk async for chunk in nemo.download(VIDEO)]
    assert [r.url.host for r in backend.requests] == ["cdn.example", "cdn.example"]


async def test_a_body_longer_than_declared_or_allowed_fails(
    backend: Backend, nemo: NemoClient
) -> None:
    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):  # 256 MB if it were read to the end
            yield b"\0" * (256 * 1024)

    backend.on("GET", "/render.mp4", Reply(chunks=endless, headers={"content-length": "1000"}))
    got = 0
    with pytest.raises(MediaRefused, match="1,000 bytes"):
        async for chunk in nemo.download(VIDEO):
            got += len(chunk)
    assert got <= 1000
    backend.on("GET", "/big.mp4", Reply(chunks=endless))
    with pytest.raises(MediaRefused, match="2,048 bytes"):
        [c async for c in nemo.download("https://cdn.example/big.mp4", limit=2048)]


async def test_a_refused_url_falls_back_to_the_backends_download(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    data = b"mp4" * 100
    path = "/api/render/proxy/render_1/download"
    backend.on("HEAD", path, Reply(headers={"content-length": str(len(data))}))
    backend.on("GET", path, Reply(raw=data))
    found = await nemo.video(creds, "render_1", "http://169.254.169.254/x.mp4", 10_000)
    assert found is not None
    size, chunks = found
    assert (size, b"".join([c async for c in chunks])) == (len(data), data)
    assert {r.url.host for r in backend.requests} == {"nemo.test"}
    assert all(r.headers["authorization"] == "Bearer nmv_usr_old" for r in backend.requests)
    assert await nemo.video(creds, "render_1", "http://10.0.0.8/x.mp4", 100) is None  # too big


async def test_the_fallbacks_token_never_follows_a_redirect_away(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    path = "/api/render/proxy/render_2/download"
    backend.on("HEAD", path, Reply(302, headers={"location": "https://cdn.example/r2.mp4"}))
    backend.on("HEAD", "/r2.mp4", Reply(headers={"content-length": "5"}))
    backend.on("GET", path, Reply(302, headers={"location": "https://cdn.example/r2.mp4"}))
    backend.on("GET", "/r2.mp4", Reply(raw=b"12345"))
    found = await nemo.video(creds, "render_2", "http://10.0.0.8/x.mp4", 100)
    assert found is not None
    assert b"".join([c async for c in found[1]]) == b"12345"
    away = [r for r in backend.requests if r.url.host == "cdn.example"]
    assert away and all("authorization" not in r.headers for r in away)


class _Names(AbstractResolver):
    """The connection's lookup: every name answers loopback (where the test's server is)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        found = ResolveResult(
            hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=0
        )
        return [found]

    async def close(self) -> None:
        pass


async def test_a_name_that_turns_private_between_the_check_and_the_connection_is_not_fetched() -> (
    None
):
    """DNS rebinding: the guard's check hears a public address, the connection's own lookup
    a loopback one. The connection is refused (nothing reaches the server) and the fetch fails
    as an unreachable video does; the backend's own host, by name, is still fetched."""
    seen: list[str] = []

    async def video(request: web.Request) -> web.Response:
        seen.append(request.host)
        return web.Response(body=b"mp4 bytes", content_type="video/mp4")

    app = web.Application()
    app.router.add_get("/v.mp4", video)
    names = _Names()
    wire = AiohttpTransport(
        httpx.create_ssl_context(), resolver=PublicOnlyResolver("backend.example", names)
    )

    async def checked(host: str) -> list[str]:  # what the guard's own lookup hears
        return ["93.184.216.34"]

    async with served(app) as url, httpx.AsyncClient(transport=wire) as http:
        port = urlsplit(url).port
        nemo = NemoClient(http, f"http://backend.example:{port}", resolver=checked, wire=wire)
        with pytest.raises(BackendUnavailable, match="could not be downloaded"):
            await _read(nemo.download(f"http://cdn.rebind.example:{port}/v.mp4"))
        assert seen == [] and "cdn.rebind.example" in names.asked
        own = await _read(nemo.download(f"http://backend.example:{port}/v.mp4"))
        assert own == b"mp4 bytes" and seen == [f"backend.example:{port}"]


async def _read(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])
