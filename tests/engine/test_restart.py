"""Durability: renders and queued turns survive the bot being killed or restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx

from core.port import ReplyKind, ThreadKey
from core.runtime import Runtime
from core.sim import LocalBackend
from tests.conftest import fast_settings
from tests.fakes.thread import FakeThread

ROOT = Path(__file__).resolve().parents[2]


class Threads:
    """A resolver that hands out (and remembers) a FakeThread per key."""

    def __init__(self) -> None:
        self.by_key: dict[ThreadKey, FakeThread] = {}

    def __call__(self, key: ThreadKey) -> FakeThread:
        return self.by_key.setdefault(key, FakeThread(key))

    def posts(self, kind: ReplyKind) -> list[str]:
        return [
            s.text
            for t in self.by_key.values()
            for s in t.log
            if s.op == "post" and s.reply is not None and s.reply.kind is kind
        ]


async def _spawn_console(sim: LocalBackend, db: Path, out: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "NEMO_BASE_URL": sim.base_url,
        "JUPITER_DATABASE_URL": f"sqlite:///{db}",
        "JUPITER_RENDER_POLL_SECONDS": "0.05",
        "JUPITER_HEARTBEAT_SECONDS": "0.2",
        "JUPITER_JOB_LEASE_SECONDS": "1",
        "JUPITER_LOG_LEVEL": "WARNING",
    }
    env.pop("NEMO_TOKEN", None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        "console",
        "--out",
        str(out),
        cwd=str(ROOT),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _read_until(
    process: asyncio.subprocess.Process,
    fragment: str,
    timeout: float = 30,  # noqa: ASYNC109
) -> str:
    assert process.stdout is not None
    seen = ""
    async with asyncio.timeout(timeout):
        while fragment not in seen:
            line = await process.stdout.readline()
            if not line:
                raise AssertionError(f"process ended before {fragment!r}:\n{seen}")
            seen += line.decode()
    return seen


async def test_render_survives_sigkill_and_is_posted_once(
    tmp_path: Path, sim: LocalBackend
) -> None:
    sim.set_faults({"render_seconds": 2.5})
    db = tmp_path / "jupiter.db"
    process = await _spawn_console(sim, db, tmp_path / "videos")
    assert process.stdin is not None
    process.stdin.write(b"a 2-second paper boat\nexport\n")
    await process.stdin.drain()
    before = await _read_until(process, "Rendering your video")
    await _wait_for_path(sim, "/api/render/proxy/lambda", 1)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    assert "Your video is ready" not in before

    threads = Threads()
    settings = fast_settings(tmp_path, job_lease_seconds=1)
    async with Runtime.open(settings, base_url=sim.base_url) as rt:
        rt.engine.register("console", threads)
        async with asyncio.timeout(30):
            while not threads.posts(ReplyKind.VIDEO):  # noqa: ASYNC110 (polling with a deadline)
                await asyncio.sleep(0.05)
        await rt.engine.idle(20)
        # a second pass of the supervisor must not post it again
        await asyncio.sleep(settings.job_lease_seconds * 1.5)
        await rt.engine.idle(20)
    videos = threads.posts(ReplyKind.VIDEO)
    assert len(videos) == 1, videos
    async with httpx.AsyncClient() as http:
        log = (await http.get(sim.base_url + "/_sim/log")).json()
    starts = [e for e in log if e["method"] == "POST" and e["path"] == "/api/render/proxy/lambda"]
    assert len(starts) == 1  # the render was resumed, not started again


async def test_turn_running_at_sigkill_is_reported_not_resent(
    tmp_path: Path, sim: LocalBackend
) -> None:
    sim.set_faults({"turn_seconds": 30})
    db = tmp_path / "jupiter.db"
    process = await _spawn_console(sim, db, tmp_path / "videos")
    assert process.stdin is not None
    process.stdin.write(b"a very long documentary\n")
    await process.stdin.drain()
    await _read_until(process, "Connecting...")
    await _wait_for_turn(sim, 1)
    process.send_signal(signal.SIGKILL)
    await process.wait()

    threads = Threads()
    async with Runtime.open(
        fast_settings(tmp_path, job_lease_seconds=1), base_url=sim.base_url
    ) as rt:
        rt.engine.register("console", threads)
        async with asyncio.timeout(30):
            while not threads.posts(ReplyKind.NOTICE):  # noqa: ASYNC110 (polling with a deadline)
                await asyncio.sleep(0.05)
    notices = threads.posts(ReplyKind.NOTICE)
    assert (
        len(notices) == 1
        and "a very long documentary" in notices[0]
        and "didn't re-send" in notices[0]
    )
    async with httpx.AsyncClient() as http:
        log = (await http.get(sim.base_url + "/_sim/log")).json()
    assert len([e for e in log if e["path"] == "/run_sse"]) == 1


async def test_queued_turn_runs_after_a_restart(tmp_path: Path, sim: LocalBackend) -> None:
    sim.set_faults({"turn_seconds": 1.0, "credits": 1000})
    key = ThreadKey("console", "team", "chan", "q")
    settings = fast_settings(tmp_path)
    first = FakeThread(key)
    async with Runtime.open(settings, base_url=sim.base_url, owner="replica-a") as rt:
        await rt.engine.handle(first, _said("a harbour at dusk"))
        await _wait_for_turn(sim, 1)
        await rt.engine.handle(first, _said("make it 4 seconds"))
        await first.wait_text("as soon as the current step finishes")
    # replica A stopped mid-turn: the running turn is interrupted, the queued one waits

    threads = Threads()
    async with Runtime.open(settings, base_url=sim.base_url, owner="replica-b") as rt:
        rt.engine.register("console", threads)
        thread = threads(key)
        await thread.wait_text("a harbour at dusk", timeout=20)  # interrupted notice
        await thread.wait_for(lambda s: s.op == "update" and "Timeline (" in s.text, timeout=20)
        await rt.engine.idle(20)
    async with httpx.AsyncClient() as http:
        log = (await http.get(sim.base_url + "/_sim/log")).json()
    sent = [e["json"]["new_message"]["parts"][0]["text"] for e in log if e["path"] == "/run_sse"]
    assert sent == ["a harbour at dusk", "make it 4 seconds"]  # the interrupted one not re-sent


async def _wait_for_turn(sim: LocalBackend, count: int) -> None:
    """Until the backend has received `count` turns (the stream is open)."""
    await _wait_for_path(sim, "/run_sse", count)


async def _wait_for_path(sim: LocalBackend, path: str, count: int) -> None:
    async with httpx.AsyncClient() as http, asyncio.timeout(20):
        while True:
            log = (await http.get(sim.base_url + "/_sim/log")).json()
            if len([e for e in log if e["path"] == path and e["method"] == "POST"]) >= count:
                return
            await asyncio.sleep(0.02)


def _said(text: str):  # type: ignore[no-untyped-def]
    from core.port import Incoming

    return Incoming(text, user="u1")


async def test_a_slow_post_is_not_delivered_again_by_its_own_supervisor(
    tmp_path: Path, sim: LocalBackend
) -> None:
    """A busy process renews its leases late: its own supervisor must not take over the
    delivery its task is still posting (that posted a link twice under load)."""
    import asyncio

    from core.port import Reply, ReplyKind
    from tests.conftest import fast_settings
    from tests.fakes.chat import Chat
    from tests.fakes.thread import FakeThread

    class SlowVideoThread(FakeThread):
        async def post(self, reply: Reply) -> str:
            if reply.kind is ReplyKind.VIDEO:
                time.sleep(0.35)  # noqa: ASYNC251 (a busy loop: no lease renewal runs meanwhile)
                await asyncio.sleep(0.4)  # then the supervisor passes while the post goes on
            return await super().post(reply)

    sim.set_faults({"credits": 1000, "no_text_ratio": 0.0})
    settings = fast_settings(tmp_path, job_lease_seconds=0.1)
    async with Runtime.open(settings, base_url=sim.base_url) as rt:
        thread = SlowVideoThread(ThreadKey("console", "team", "chan", "slow"))
        rt.engine.register("console", lambda key: thread)
        chat = Chat(rt.engine, thread)
        await chat.say("a 2-second clip of rain")
        await chat.say("export", wait=30)
        await asyncio.sleep(0.5)  # a few supervisor passes after the delivery
        videos = [
            s
            for s in thread.log
            if s.op == "post" and s.reply is not None and s.reply.kind is ReplyKind.VIDEO
        ]
        assert len(videos) == 1
