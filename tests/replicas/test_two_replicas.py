"""Two replicas of the bot on one store (a SQLite file, then a real PostgreSQL), as behind a load
balancer: any replica may get any message, and any may die.

What must hold (issue 6): a render whose replica is killed is finished by the other and its link
posted exactly once; the turns of one thread run one at a time, in order, never twice, whichever
replica each message reached; a delivery handed to both replicas is handled once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from core.port import Incoming, ReplyKind, ThreadKey
from core.runtime import Runtime
from core.sim import LocalBackend
from core.store import open_store
from core.store.base import RenderState
from tests.conftest import fast_settings
from tests.fakes.thread import FakeThread, Said
from tests.replicas.processes import ReplicaProcess
from tests.replicas.runner import PLATFORM, thread_key

LEASE_SECONDS = 1.0
RENDER_START = "/api/render/proxy/lambda"
FINAL_KINDS = (ReplyKind.TEXT, ReplyKind.TIMELINE)


class Threads:
    """One replica's resolver: a FakeThread per key, as a chat adapter would build them."""

    def __init__(self) -> None:
        self.by_key: dict[ThreadKey, FakeThread] = {}

    def __call__(self, key: ThreadKey) -> FakeThread:
        return self.by_key.setdefault(key, FakeThread(key))

    def said(self) -> list[Said]:
        return [s for t in self.by_key.values() for s in t.log]


def _is_start(said: Said) -> bool:
    return said.op == "post" and said.reply is not None and said.reply.kind is ReplyKind.STATUS


def _is_final(said: Said) -> bool:
    return said.op == "update" and said.reply is not None and said.reply.kind in FINAL_KINDS


def _count(replicas: list[Threads], kind: ReplyKind, op: str = "post") -> int:
    return sum(
        1
        for r in replicas
        for s in r.said()
        if s.op == op and s.reply is not None and s.reply.kind is kind
    )


async def _wait_until(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    """Poll `check` until it holds; fail naming `what` after `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                if check():
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def _sim_log(sim: LocalBackend) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        entries: list[dict[str, Any]] = (await http.get(sim.base_url + "/_sim/log")).json()
    return entries


async def _wait_for_requests(sim: LocalBackend, path: str, count: int) -> None:
    """Until the backend has seen `count` requests to `path`."""
    async with asyncio.timeout(20):
        while True:
            if len([e for e in await _sim_log(sim) if e["path"] == path]) >= count:
                return
            await asyncio.sleep(0.02)


def _replica_env(sim: LocalBackend, database_url: str) -> dict[str, str]:
    return {
        "NEMO_BASE_URL": sim.base_url,
        "JUPITER_DATABASE_URL": database_url,
        "JUPITER_RENDER_POLL_SECONDS": "0.05",
        "JUPITER_HEARTBEAT_SECONDS": "0.2",
        "JUPITER_RETRY_AFTER_SECONDS": "0.01",
        "JUPITER_RECOVERY_SECONDS": "0.05",
        "JUPITER_RETRY_BACKOFF_SECONDS": "0.01",
        "JUPITER_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "JUPITER_LOG_LEVEL": "WARNING",
    }


async def test_a_killed_replicas_render_is_finished_by_the_other_and_posted_once(
    tmp_path: Path, sim: LocalBackend, database_url: str
) -> None:
    sim.set_faults({"render_seconds": 2.0})
    env = _replica_env(sim, database_url)
    replicas = {owner: await ReplicaProcess.start(owner, env, tmp_path) for owner in ("a", "b")}
    a, b = replicas["a"], replicas["b"]
    try:
        await asyncio.gather(a.ready(), b.ready())
        await a.send("T1", "a 2-second paper boat", event_id="Ev-1")
        await _wait_until(
            lambda: any(
                s["op"] == "update" and s["kind"] == "text" for r in (a, b) for s in r.said
            ),
            "the first turn's reply",
        )
        await a.send("T1", "export", event_id="Ev-2")
        await _wait_for_requests(sim, RENDER_START, 1)

        # Whichever replica ran the export drives the render: that one crashes.
        store = await open_store(database_url)
        try:
            (job,) = await store.active_renders(thread_key("T1"))
        finally:
            await store.close()
        assert job.lease_owner in replicas, job
        victim = replicas[job.lease_owner]
        survivor = b if victim is a else a
        await victim.kill()

        await survivor.wait_for(lambda s: s["op"] == "post" and s["kind"] == "video")
        assert await survivor.stop() == 0, survivor.describe()
    finally:
        for replica in (a, b):
            if not replica.ended:
                await replica.kill()

    videos = [s for r in (a, b) for s in r.posts("video")]
    assert len(videos) == 1 and videos[0]["owner"] == survivor.owner, videos
    assert videos[0]["video_url"] and videos[0]["video_url"] in videos[0]["text"]
    assert not [s for r in (a, b) for s in r.posts("error")], a.describe() + b.describe()

    # A replica starting later finds nothing left to post.
    later = Threads()
    settings = fast_settings(tmp_path, database_url=database_url, job_lease_seconds=LEASE_SECONDS)
    async with Runtime.open(settings, base_url=sim.base_url, owner="c") as rt:
        rt.engine.register(PLATFORM, later)
        await rt.engine.idle(10)
        finished = await rt.store.get_render(job.id)
    assert later.said() == []
    assert finished is not None and finished.status is RenderState.POSTED
    starts = [e for e in await _sim_log(sim) if e["path"] == RENDER_START]
    assert len(starts) == 1  # taken over, not started again


async def test_one_threads_messages_alternating_between_replicas_run_one_at_a_time_in_order(
    tmp_path: Path, sim: LocalBackend, database_url: str
) -> None:
    sim.set_faults({"credits": 1000})  # an anonymous token's 100 pay for two turns
    settings = fast_settings(tmp_path, database_url=database_url)
    key = ThreadKey(PLATFORM, "T-replicas", "C-replicas", "1700000000.000100")
    prompts = [
        "a harbour at dusk",
        "make it 4 seconds",
        "add soft piano music",
        "make the title bigger",
        "add a slow fade at the end",
    ]
    spaced = ["make the music louder", "add a title that says Home"]
    threads = {"a": Threads(), "b": Threads()}
    async with (
        Runtime.open(settings, base_url=sim.base_url, owner="a") as a,
        Runtime.open(settings, base_url=sim.base_url, owner="b") as b,
    ):
        runtimes = {"a": a, "b": b}
        for owner, rt in runtimes.items():
            rt.engine.register(PLATFORM, threads[owner])
        for number, prompt in enumerate(prompts):
            owner = "ab"[number % 2]
            incoming = Incoming(prompt, user="U1", event_id=f"Ev-{number}")
            await runtimes[owner].engine.handle(threads[owner](key), incoming)
        both = list(threads.values())
        await _wait_until(
            lambda: sum(_is_final(s) for t in both for s in t.said()) >= len(prompts),
            "every turn's final reply",
        )
        # Then one at a time, so that each replica finds the thread free and runs its own.
        for number, prompt in enumerate(spaced, start=len(prompts)):
            owner = "ba"[number % 2]
            incoming = Incoming(prompt, user="U1", event_id=f"Ev-{number}")
            await runtimes[owner].engine.handle(threads[owner](key), incoming)
            await _wait_until(
                lambda n=number: sum(_is_final(s) for t in both for s in t.said()) > n,
                f"the reply to {prompt!r}",
            )
        await asyncio.gather(a.engine.idle(10), b.engine.idle(10))
    prompts += spaced

    # Every start ("Connecting...") follows the previous turn's end, whichever replica ran it.
    said = sorted((s for t in both for s in t.said()), key=lambda s: s.at)
    steps = [("start" if _is_start(s) else "end") for s in said if _is_start(s) or _is_final(s)]
    assert steps == ["start", "end"] * len(prompts), steps
    assert _count(both, ReplyKind.ERROR) == 0

    log = await _sim_log(sim)
    runs = [e for e in log if e["path"] == "/run_sse"]
    assert [e["json"]["new_message"]["parts"][0]["text"] for e in runs] == prompts
    assert {e["status"] for e in runs} == {200}  # never a 409: no two turns on the session at once
    assert len({e["json"]["session_id"] for e in runs}) == 1
    sessions = [e for e in log if e["path"] == "/api/tasks/me/with-session/nemo_agent"]
    assert len(sessions) == 1


async def test_a_delivery_handed_to_both_replicas_is_handled_once(
    tmp_path: Path, sim: LocalBackend, database_url: str
) -> None:
    settings = fast_settings(tmp_path, database_url=database_url)
    key = ThreadKey(PLATFORM, "T-replicas", "C-replicas", "1700000000.000200")
    threads = {"a": Threads(), "b": Threads()}
    both = list(threads.values())
    async with (
        Runtime.open(settings, base_url=sim.base_url, owner="a") as a,
        Runtime.open(settings, base_url=sim.base_url, owner="b") as b,
    ):

        async def deliver_to_both(incoming: Incoming) -> None:
            await asyncio.gather(
                a.engine.handle(threads["a"](key), incoming),
                b.engine.handle(threads["b"](key), incoming),
            )

        # Slack retries an event it thinks was lost; the load balancer sends it elsewhere.
        await deliver_to_both(Incoming("a lighthouse in the fog", user="U1", event_id="Ev-turn"))
        await _wait_until(
            lambda: sum(_is_final(s) for t in both for s in t.said()) >= 1, "the turn's reply"
        )
        await deliver_to_both(Incoming("credits", user="U1", event_id="Ev-credits"))
        await _wait_until(lambda: _count(both, ReplyKind.CREDITS) >= 1, "the credits reply")
        await asyncio.gather(a.engine.idle(10), b.engine.idle(10))

    assert _count(both, ReplyKind.STATUS) == 1  # one "Connecting..."
    assert sum(_is_final(s) for t in both for s in t.said()) == 1
    assert _count(both, ReplyKind.CREDITS) == 1
    runs = [e for e in await _sim_log(sim) if e["path"] == "/run_sse"]
    assert len(runs) == 1


async def test_a_turn_cut_short_by_a_crash_is_reported_not_rerun_and_the_queue_moves_on(
    tmp_path: Path, sim: LocalBackend, database_url: str
) -> None:
    sim.set_faults({"turn_seconds": 30, "credits": 1000})
    env = _replica_env(sim, database_url)
    replicas = {owner: await ReplicaProcess.start(owner, env, tmp_path) for owner in ("a", "b")}
    a, b = replicas["a"], replicas["b"]
    try:
        await asyncio.gather(a.ready(), b.ready())
        await a.send("T2", "a very long documentary", event_id="Ev-1")
        await _wait_for_requests(sim, "/run_sse", 1)
        (victim,) = [r for r in (a, b) if r.posts("status")]  # the one that said "Connecting..."
        survivor = b if victim is a else a
        # The next message reaches the other replica while the turn runs: it waits its turn.
        await survivor.send("T2", "make it 4 seconds", event_id="Ev-2")
        await victim.kill()
        sim.set_faults({"turn_seconds": 0.25})

        await survivor.wait_for(lambda s: s["op"] == "update" and s["kind"] == "text")
        # The notice usually comes first, but not always: the survivor's worker may claim the
        # lapsed thread lease before its supervisor's pass marks the cut turn interrupted, and
        # then the notice follows the next turn's reply (reported to the lead).
        await survivor.wait_for(lambda s: s.get("kind") == "notice")
        assert await survivor.stop() == 0, survivor.describe()
    finally:
        for replica in (a, b):
            if not replica.ended:
                await replica.kill()

    notices = [s["text"] for s in survivor.posts("notice")]
    interrupted = [n for n in notices if "a very long documentary" in n]
    assert len(interrupted) == 1 and "re-send" in interrupted[0], a.describe() + b.describe()
    runs = [e for e in await _sim_log(sim) if e["path"] == "/run_sse"]
    sent = [e["json"]["new_message"]["parts"][0]["text"] for e in runs]
    assert sent == ["a very long documentary", "make it 4 seconds"]  # the cut one not re-sent


async def test_a_new_workspace_met_by_both_replicas_at_once_keeps_one_backend_identity(
    tmp_path: Path, sim: LocalBackend, database_url: str
) -> None:
    sim.set_faults({"credits": 1000})
    settings = fast_settings(tmp_path, database_url=database_url)
    key = ThreadKey(PLATFORM, "T-new", "C-replicas", "1700000000.000300")
    threads = {"a": Threads(), "b": Threads()}
    async with (
        Runtime.open(settings, base_url=sim.base_url, owner="a") as a,
        Runtime.open(settings, base_url=sim.base_url, owner="b") as b,
    ):
        # Two people of a new workspace write at once, each reaching another replica.
        first_a, first_b = await asyncio.gather(
            a.engine.credentials(key), b.engine.credentials(key)
        )
        a.engine.register(PLATFORM, threads["a"])
        b.engine.register(PLATFORM, threads["b"])

        # Either replica may run a queued turn (whichever claims the thread), so replies are
        # looked for on both.
        def finals() -> int:
            return sum(1 for r in threads.values() for s in r.said() if _is_final(s))

        await a.engine.handle(threads["a"](key), Incoming("a harbour at dusk", event_id="Ev-1"))
        await _wait_until(lambda: finals() >= 1, "the first reply")
        await asyncio.gather(a.engine.idle(10), b.engine.idle(10))
        await b.engine.handle(threads["b"](key), Incoming("make it 4 seconds", event_id="Ev-2"))
        await _wait_until(lambda: finals() >= 2, "the second reply")
        await asyncio.gather(a.engine.idle(10), b.engine.idle(10))

    notices = [
        s.text
        for r in threads.values()
        for s in r.said()
        if s.reply and s.reply.kind is ReplyKind.NOTICE
    ]
    assert notices == []  # not "the video service had lost this conversation"
    assert first_a.client_id == first_b.client_id
