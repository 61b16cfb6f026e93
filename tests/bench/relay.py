"""Relay: a 500 MB attachment streamed from a loopback file host, through the engine's upload
path, to the local backend (its own process), against a direct loopback copy of the same bytes.

The file host (aiohttp) generates the bytes as it sends them, so nothing holds the file. The
bot's side is an adapter-like thread whose `open_attachment` streams from the host with httpx,
as the Slack and Discord adapters do; the engine hands that stream to `NemoClient.upload_stream`
(multipart, known length). The direct copy is the same GET piped into the same POST with plain
httpx and no engine. Peak RSS growth is sampled every 10 ms during the bot's transfer.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from aiohttp import web

from core import SKILL_SOURCE, __version__
from core.port import Attachment, Incoming, ThreadKey
from core.runtime import Runtime
from core.settings import Settings
from tests.bench.common import Row, RssSampler, SimProcess, main, rss_mb
from tests.fakes.thread import FakeThread

SIZE = 500 * 1024 * 1024
BLOCK = bytes(range(256)) * 4096  # 1 MiB


async def _serve_file(request: web.Request) -> web.StreamResponse:
    size = int(request.match_info["size"])
    response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
    response.content_length = size
    await response.prepare(request)
    sent = 0
    while sent < size:
        piece = BLOCK[: min(len(BLOCK), size - sent)]
        await response.write(piece)
        sent += len(piece)
    await response.write_eof()
    return response


class FileHost:
    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FileHost:
        app = web.Application()
        app.router.add_get("/files/{size}/{name}", _serve_file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class RelayThread(FakeThread):
    """Like an adapter's thread: a shared file is streamed from its host on demand."""

    def __init__(self, key: ThreadKey, http: httpx.AsyncClient) -> None:
        super().__init__(key)
        self._http = http

    async def open_attachment(
        self, attachment: Attachment, language: str = "en"
    ) -> AsyncIterator[bytes]:
        async with self._http.stream("GET", attachment.source, timeout=60) as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                yield chunk


async def _direct(http: httpx.AsyncClient, source: str, sim: str) -> float:
    """Host -> backend with plain httpx: GET streamed into a multipart POST."""
    headers = {"X-Skill-Source": SKILL_SOURCE, "X-Skill-Version": __version__}
    headers["X-Skill-Platform"] = "console"
    token = await http.post(
        sim + "/api/auth/anonymous-token", headers={**headers, "X-Client-Id": "relay-direct"}
    )
    headers["Authorization"] = "Bearer " + token.json()["data"]["token"]
    session = await http.post(
        sim + "/api/tasks/me/with-session/nemo_agent",
        json={"task_name": "relay", "language": "en"},
        headers=headers,
    )
    sid = session.json()["data"]["session_id"]
    head = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="files"; filename="big.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\n"
    )
    tail = b"\r\n--b0undary--\r\n"

    async def body() -> AsyncIterator[bytes]:
        yield head
        async with http.stream("GET", source, timeout=60) as response:
            async for chunk in response.aiter_bytes():
                yield chunk
        yield tail

    started = time.perf_counter()
    response = await http.post(
        f"{sim}/api/upload-video/nemo_agent/me/{sid}",
        content=body(),
        headers={
            **headers,
            "Content-Type": "multipart/form-data; boundary=b0undary",
            "Content-Length": str(len(head) + SIZE + len(tail)),
        },
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


async def _download_only(http: httpx.AsyncClient, source: str) -> float:
    started = time.perf_counter()
    async with http.stream("GET", source, timeout=60) as response:
        async for _ in response.aiter_bytes():
            pass
    return time.perf_counter() - started


async def run() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{Path(tmp) / 'jupiter.db'}",
            heartbeat_seconds=30,
        )
        async with (
            FileHost() as host,
            SimProcess("--turn-seconds", "0") as sim,
            httpx.AsyncClient() as http,
            Runtime.open(settings, base_url=sim.url) as rt,
        ):
            source = f"{host.url}/files/{SIZE}/big.mp4"
            raw = await _download_only(http, source)
            direct = await _direct(http, source, sim.url)
            thread = RelayThread(ThreadKey("console", "relay", "c", "t"), http)
            attachment = Attachment("big.mp4", SIZE, source, "video/mp4")
            await rt.engine.handle(thread, Incoming("status", user="u"))  # warm up: token
            await rt.engine.idle(60)
            before = rss_mb()
            with RssSampler(0.01) as sampler:
                started = time.perf_counter()
                await rt.engine.handle(thread, Incoming("", (attachment,), user="u"))
                await rt.engine.idle(600)
                bot = time.perf_counter() - started
            transcript = thread.transcript()
            assert "big.mp4: video" in transcript, transcript
    mb = SIZE / 1e6
    growth = sampler.peak - before
    return [
        Row("relay", "peak RSS growth", growth, 64, "MB", note=f"(from {before:.0f} MB)"),
        Row(
            "relay",
            "throughput, bot / direct copy",
            (mb / bot) / (mb / direct),
            0.5,
            "x",
            "min",
            f"(bot {mb / bot:.0f} MB/s, direct {mb / direct:.0f} MB/s,"
            f" download alone {mb / raw:.0f} MB/s)",
        ),
    ]


if __name__ == "__main__":
    main(run)
