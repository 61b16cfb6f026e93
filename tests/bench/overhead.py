"""Turn overhead: a scripted conversation (prompt, edit, status, export) through the engine,
against the same protocol calls made directly with httpx, on a zero-latency local backend in
its own process (turns take no time, renders only their encode).

Per turn, the engine's time runs from `handle()` to `idle()` (the answer posted, the store
written, for an export the link posted and the MP4 fetched); the direct time covers the calls the
engine made for that turn (token, session, stream read to the end, state, render start and polls
at the same interval, the MP4 download). Conversations alternate engine / direct so drift hits
both. The overhead of a turn is engine minus direct for the same turn of the same round.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from core import SKILL_SOURCE, __version__
from core.port import Incoming, ThreadKey
from core.runtime import Runtime
from core.settings import Settings
from tests.bench.common import Row, SimProcess, main, median
from tests.fakes.thread import FakeThread

ROUNDS = 30
WARMUP = 3
POLL = 0.01
SCRIPT = ("a 2-second sunset over mountains", "make it 3 seconds", "status", "export")
KINDS = ("prompt", "edit", "status", "export")
SIM_FLAGS = (
    *("--turn-seconds", "0", "--heartbeat-seconds", "0.05", "--no-text-ratio", "0"),
    *("--render-seconds", "0", "--credits", "100000000", "--anonymous-render"),
)


def _settings(tmp: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp / 'jupiter.db'}",
        heartbeat_seconds=0.5,
        render_poll_seconds=POLL,
        render_timeout_seconds=60,
        retry_after_seconds=0.01,
        retry_backoff_seconds=0.01,
        job_lease_seconds=30,
    )


async def _engine_round(rt: Runtime, name: str) -> list[float]:
    thread = FakeThread(ThreadKey("console", "bench", "c", name))
    times = []
    for text in SCRIPT:
        started = time.perf_counter()
        await rt.engine.handle(thread, Incoming(text, user="u1"))
        await rt.engine.idle(60)
        times.append(time.perf_counter() - started)
    assert "Your video is ready" in thread.transcript(), thread.transcript()
    return times


class Direct:
    """The protocol by hand: what a minimal client with no chat, no store, no engine sends."""

    def __init__(self, http: httpx.AsyncClient, base: str) -> None:
        self.http = http
        self.base = base
        self.headers = {
            "X-Skill-Source": SKILL_SOURCE,
            "X-Skill-Version": __version__,
            "X-Skill-Platform": "console",
        }

    async def token(self) -> None:
        response = await self.http.post(
            self.base + "/api/auth/anonymous-token",
            headers={**self.headers, "X-Client-Id": "bench-direct"},
        )
        self.headers["Authorization"] = "Bearer " + response.json()["data"]["token"]

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(
            method, self.base + path, json=body, headers=self.headers
        )
        return response.json()

    async def session(self) -> str:
        body = {"task_name": "project", "language": "en"}
        data = await self._json("POST", "/api/tasks/me/with-session/nemo_agent", body)
        return str(data["data"]["session_id"])

    async def state(self, sid: str) -> dict[str, Any]:
        data = await self._json("GET", f"/api/state/nemo_agent/me/{sid}/latest")
        state: dict[str, Any] = data["data"]
        return state.get("state", state)

    async def turn(self, sid: str, text: str) -> bool:
        """One turn read to its end; True when the agent said to click Export (GUI talk the
        engine acts on by exporting, so the direct client does the same)."""
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": sid,
            "new_message": {"parts": [{"text": text}]},
        }
        headers = {**self.headers, "Accept": "text/event-stream"}
        async with self.http.stream(
            "POST", self.base + "/run_sse", json=body, headers=headers
        ) as response:
            clicked = False
            async for line in response.aiter_lines():
                if line.startswith("data:") and line[5:].strip():
                    json.loads(line[5:])
                    clicked = clicked or "Export button" in line
            return clicked

    async def export(self, sid: str) -> None:
        draft = (await self.state(sid))["draft"]
        render_id = f"render_{time.time_ns()}"
        body = {"id": render_id, "sessionId": sid, "draft": draft, "output": {"format": "mp4"}}
        await self._json("POST", "/api/render/proxy/lambda", body)
        while True:
            status = await self._json("GET", f"/api/render/proxy/lambda/{render_id}")
            data = status.get("data", status)
            url = data.get("outputUrl") or (data.get("output") or {}).get("url")
            if url:
                break
            await asyncio.sleep(POLL)
        async with self.http.stream("GET", url) as response:
            async for _ in response.aiter_bytes(256 * 1024):
                pass


async def _direct_round(direct: Direct) -> list[float]:
    times = []
    started = time.perf_counter()
    sid = await direct.session()
    for text in SCRIPT[:2]:
        clicked = await direct.turn(sid, text)
        await direct.state(sid)
        if clicked:
            await direct.export(sid)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
    await direct.state(sid)
    times.append(time.perf_counter() - started)
    started = time.perf_counter()
    await direct.export(sid)
    times.append(time.perf_counter() - started)
    return times


async def run() -> list[Row]:
    profile = os.environ.get("BENCH_PROFILE") == "1"
    profiler = cProfile.Profile()
    engine_times: list[list[float]] = []
    direct_times: list[list[float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            SimProcess(*SIM_FLAGS) as sim,
            Runtime.open(_settings(Path(tmp)), base_url=sim.url) as rt,
            httpx.AsyncClient() as http,
        ):
            direct = Direct(http, sim.url)
            await direct.token()
            for index in range(WARMUP + ROUNDS):
                if profile and index >= WARMUP:
                    profiler.enable()
                engine = await _engine_round(rt, f"t{index}")
                profiler.disable()
                directly = await _direct_round(direct)
                if index >= WARMUP:
                    engine_times.append(engine)
                    direct_times.append(directly)
    overheads = [
        (e - d) * 1000
        for engine, directly in zip(engine_times, direct_times, strict=True)
        for e, d in zip(engine, directly, strict=True)
    ]
    total_engine = sum(map(sum, engine_times))
    total_direct = sum(map(sum, direct_times))
    rows = [
        Row("overhead", "median per-turn overhead", median(overheads), 2.0, "ms"),
        Row("overhead", "total time, engine / direct", total_engine / total_direct, 1.2, "x"),
    ]
    for position, kind in enumerate(KINDS):
        engine_ms = median([t[position] * 1000 for t in engine_times])
        direct_ms = median([t[position] * 1000 for t in direct_times])
        engine_mean = sum(t[position] for t in engine_times) * 1000 / len(engine_times)
        direct_mean = sum(t[position] for t in direct_times) * 1000 / len(direct_times)
        rows.append(
            Row(
                "overhead",
                f"{kind}: engine vs direct",
                engine_ms - direct_ms,
                None,
                "ms",
                "",
                f"(median {engine_ms:.1f} vs {direct_ms:.1f} ms;"
                f" mean {engine_mean:.1f} vs {direct_mean:.1f} ms)",
            )
        )
    if profile:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())
    return rows


if __name__ == "__main__":
    main(run)
