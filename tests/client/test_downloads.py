"""Finished videos are fetched from their public link, without credentials."""

from __future__ import annotations

import httpx
import pytest

from core.client import NemoClient
from core.errors import BackendUnavailable
from tests.client.conftest import Backend, Reply

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
