"""Everything that comes from the backend is bounded (issue 12): a flood of text or events, a
render's numbers, its output URL, its error text. The suite's shape holds throughout: every
message gets an answer or a clear error, every finished render exactly one link, no token in
any chat call or log line, and memory and loop lag stay small (figures printed; assertions
only with generous bounds). Loopback only: the hostile front runs on 127.0.0.1, the "internal
service" on 127.0.0.2."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bots.console import ConsoleThread
from bots.console_screen import Screen
from bots.discord.render import render as discord_render
from bots.slack.render import render as slack_render
from core.client import Credentials
from core.client_media import MediaRefused
from core.logs import JsonFormatter
from core.port import Reply, ReplyKind
from core.sim import LocalBackend
from tests.fakes.thread import FakeThread
from tests.faults.conftest import answers, errors, key, open_runtime, said, videos
from tests.faults.hostile import Hostile, serve, sse

WAIT = 30.0
LEAKS = ("nmv_usr_LEAK", "Bearer LEAK", "xoxb-1-LEAK", "sk-LEAKLEAKLEAKLEAKLEAK")


class LoopLag:
    """The longest the loop went without running a 5 ms ticker: how long one input blocked
    every other tenant."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - before - 0.005)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """`[peak]` bytes allocated (tracemalloc) while the block ran."""
    out = [0]
    tracemalloc.start()
    try:
        yield out
    finally:
        out[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


@asynccontextmanager
async def hostile(sim: LocalBackend) -> AsyncIterator[Hostile]:
    async with Hostile(sim.base_url).running() as front:
        yield front


def partial_frames(total: int, piece: int = 4096) -> AsyncIterator[bytes]:
    text = "lorem ipsum " * (piece // 12)
    frame = (
        "data: "
        + json.dumps({"content": {"role": "model", "parts": [{"text": text}]}, "partial": True})
        + "\n\n"
    ).encode()

    async def frames() -> AsyncIterator[bytes]:
        sent = 0
        while sent < total:
            yield frame * 16
            sent += len(text) * 16

    return frames()


def no_token_anywhere(thread: FakeThread, caplog: pytest.LogCaptureFixture) -> None:
    formatter = JsonFormatter()
    logs = "\n".join(formatter.format(record) for record in caplog.records)
    chat = thread.transcript()
    for leak in LEAKS:
        assert leak not in chat, (leak, chat[-500:])
        assert leak not in logs, leak


async def test_eight_megabytes_of_partials_cost_little(
    tmp_path: Path, sim: LocalBackend, caplog: pytest.LogCaptureFixture
) -> None:
    async def flood(request: web.Request, _: httpx.AsyncClient) -> web.StreamResponse:
        return await sse(request, partial_frames(8 * 1024 * 1024))

    async with hostile(sim) as front, open_runtime(tmp_path, front.url) as rt:
        front.overrides[("POST", "/run_sse")] = flood
        thread = FakeThread(key())
        with LoopLag() as lag, peak_memory() as peak:
            started = time.perf_counter()
            await rt.engine.handle(thread, said("a flood of words"))
            await rt.engine.idle(WAIT)
            elapsed = time.perf_counter() - started
        shown = max((s.text for s in thread.log if s.reply is not None), key=len)
        slack = slack_render(Reply(ReplyKind.TEXT, shown), key())
        discord = discord_render(Reply(ReplyKind.TEXT, shown))
        print(
            f"\n8 MB of partials: {elapsed:.2f} s, peak {peak[0] / 1e6:.1f} MB traced, "
            f"worst loop lag {lag.worst * 1000:.0f} ms, longest reply {len(shown):,} chars, "
            f"{len(slack)} Slack / {len(discord)} Discord messages"
        )
        assert len(answers(thread)) == 1 and not errors(thread)
        assert len(shown) <= 70 * 1024 and "(cut)" in shown
        assert len(slack) <= 4 and len(discord) <= 4
        assert peak[0] < 64 * 1024 * 1024 and lag.worst < 2.0 and elapsed < 60
        no_token_anywhere(thread, caplog)


async def test_an_endless_event_stream_is_a_clear_failure(
    tmp_path: Path, sim: LocalBackend
) -> None:
    async def beats(request: web.Request, _: httpx.AsyncClient) -> web.StreamResponse:
        async def frames() -> AsyncIterator[bytes]:
            for _ in range(300):
                yield b'data: {"type":"heartbeat"}\n\n' * 100
            yield b'data: {"type":"text","content":"never seen"}\n\n'

        return await sse(request, frames())

    async with hostile(sim) as front, open_runtime(tmp_path, front.url) as rt:
        front.overrides[("POST", "/run_sse")] = beats
        thread = FakeThread(key())
        with LoopLag() as lag:
            await rt.engine.handle(thread, said("a flood of heartbeats"))
            await rt.engine.idle(WAIT)
        print(f"\n30,000 events: worst loop lag {lag.worst * 1000:.0f} ms")
        (error,) = errors(thread)
        assert "20,000 events" in error
        assert "never seen" not in thread.transcript()
        del front.overrides[("POST", "/run_sse")]
        await rt.engine.handle(thread, said("status"))
        await rt.engine.idle(WAIT)
        assert len(answers(thread)) == 2  # the thread is still usable


def test_a_megabyte_reply_is_four_messages_on_each_platform() -> None:
    text = ("word " * 200 + "\n\n") * 1000  # about 1 MB
    started = time.perf_counter()
    discord = discord_render(Reply(ReplyKind.TEXT, text))
    slack = slack_render(Reply(ReplyKind.TEXT, text, details=(text,)), key())
    elapsed = time.perf_counter() - started
    print(f"\n1 MB reply: {len(discord)} Discord, {len(slack)} Slack messages, {elapsed:.3f} s")
    assert len(discord) == 4 and all(len(m.content) <= 2000 for m in discord)
    assert discord[-1].content.endswith("(cut)")
    assert 1 <= len(slack) <= 4 and elapsed < 5


# -- renders: numbers, output URLs and error texts from the backend ------------------------


async def _export(rt_handle: object, thread: FakeThread) -> None:
    from core.runtime import Runtime

    assert isinstance(rt_handle, Runtime)
    await rt_handle.engine.handle(thread, said("a tiny clip of rain"))
    await rt_handle.engine.idle(WAIT)
    await rt_handle.engine.handle(thread, said("export"))


def rewrite_status(front: Hostile, change: dict[str, object]) -> list[int]:
    """Render polls answered by the local backend, then `change`d; returns a poll counter."""
    polls = [0]

    async def status(request: web.Request, http: httpx.AsyncClient) -> web.Response:
        answer = await front.forward(request, http)
        assert isinstance(answer.body, bytes)
        body = json.loads(answer.body)
        data = body.get("data", body)
        polls[0] += 1
        if data.get("status") == "completed":
            data.update(change)
        return web.json_response(body)

    front.overrides[("GET", "/api/render/proxy/lambda/")] = status
    return polls


async def test_nan_progress_keeps_the_render_alive(tmp_path: Path, sim: LocalBackend) -> None:
    sim.set_faults({"credits": 10_000, "render_seconds": 0.5})
    polls = [0]

    async def status(request: web.Request, http: httpx.AsyncClient) -> web.Response | None:
        polls[0] += 1
        if polls[0] > 4:
            return None
        body = '{"success":true,"data":{"status":"processing","progress":NaN,"size":-Infinity}}'
        return web.Response(text=body, content_type="application/json")

    async with hostile(sim) as front, open_runtime(tmp_path, front.url) as rt:
        front.overrides[("GET", "/api/render/proxy/lambda/")] = status
        thread = FakeThread(key())
        await _export(rt, thread)
        await thread.wait_text("Your video is ready", timeout=WAIT)
        await rt.engine.idle(WAIT)
        assert polls[0] > 4 and len(videos(thread)) == 1
        assert not errors(thread)


@asynccontextmanager
async def internal_service() -> AsyncIterator[tuple[str, list[str]]]:
    """A service on 127.0.0.2 (not the backend's host) that must never be read."""
    hits: list[str] = []

    async def secret(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"INTERNAL SECRET" * 100, content_type="video/mp4")

    async with serve(secret, "127.0.0.2") as url:
        yield url, hits


@pytest.mark.parametrize("shape", ["internal", "localhost", "metadata", "redirect"])
async def test_an_internal_output_url_is_never_fetched(
    tmp_path: Path, sim: LocalBackend, shape: str
) -> None:
    sim.set_faults({"credits": 10_000, "render_seconds": 0.2})
    async with (
        internal_service() as (inside, hits),
        hostile(sim) as front,
        open_runtime(tmp_path, front.url) as rt,
    ):
        port = inside.rsplit(":", 1)[1]
        urls = {
            "internal": f"{inside}/video.mp4",
            "localhost": f"http://localhost:{port}/video.mp4",
            "metadata": "http://169.254.169.254/latest/meta-data/iam",
            "redirect": f"{front.url}/bounce",  # the backend's host, redirecting inside
        }

        async def bounce(request: web.Request, _: httpx.AsyncClient) -> web.Response:
            raise web.HTTPFound(f"{inside}/video.mp4")

        front.overrides[("HEAD", "/bounce")] = bounce
        front.overrides[("GET", "/bounce")] = bounce
        rewrite_status(front, {"outputUrl": urls[shape], "output": None})
        thread = FakeThread(key())
        await _export(rt, thread)
        await thread.wait_text("Your video is ready", timeout=WAIT)
        await rt.engine.idle(WAIT)
        assert len(videos(thread)) == 1
        (upload,) = [s for s in thread.log if s.op == "upload"]
        assert upload.data is not None and upload.data.startswith(b"\x00\x00\x00")  # the MP4
        assert b"INTERNAL" not in upload.data and hits == []
        assert any(p.endswith("/download") for _, p in front.seen)  # the fallback was used


async def test_a_render_error_shows_no_token(
    tmp_path: Path, sim: LocalBackend, caplog: pytest.LogCaptureFixture
) -> None:
    sim.set_faults({"credits": 10_000, "render_seconds": 0.2})
    error = "encoder crashed for " + " ".join(LEAKS) + " <!channel>"
    async with hostile(sim) as front, open_runtime(tmp_path, front.url) as rt:
        rewrite_status(front, {"status": "failed", "error": error, "outputUrl": None})
        thread = FakeThread(key())
        await _export(rt, thread)
        await thread.wait_text("render failed", timeout=WAIT)
        await rt.engine.idle(WAIT)
        (failed,) = errors(thread)
        assert "encoder crashed" in failed and "[redacted]" in failed
        no_token_anywhere(thread, caplog)


async def test_the_console_saves_nothing_of_a_stream_longer_than_declared(
    tmp_path: Path, sim: LocalBackend
) -> None:
    async def head(request: web.Request, _: httpx.AsyncClient) -> web.Response:
        return web.Response(headers={"Content-Length": "1000"})

    async def body(request: web.Request, _: httpx.AsyncClient) -> web.StreamResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(1600):  # 400 MB if it were all written
                yield b"\0" * (256 * 1024)

        response = web.StreamResponse(headers={"content-type": "video/mp4"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # the bot hangs up at the 1,001st byte
            async for chunk in chunks():
                await response.write(chunk)
        return response

    out = tmp_path / "videos"
    async with hostile(sim) as front, open_runtime(tmp_path, front.url) as rt:
        front.overrides[("HEAD", "/long.mp4")] = head
        front.overrides[("GET", "/long.mp4")] = body
        creds = Credentials(client_id="c", token="nmv_usr_x")
        found = await rt.client.video(creds, "render_9", f"{front.url}/long.mp4", 1 << 40)
        assert found is not None and found[0] == 1000
        console = ConsoleThread(key(), out, Screen(io.StringIO()))
        with pytest.raises(MediaRefused):
            await console.upload("long.mp4", found[0], found[1], Reply(ReplyKind.VIDEO, ""))
        assert not out.exists() or list(out.iterdir()) == []


@pytest.fixture(autouse=True)
def _quiet_aiohttp() -> None:
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
