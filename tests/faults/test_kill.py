"""The bot process is SIGKILLed with work in several threads at once, and during recovery.

Extends tests/engine/test_restart.py (one thread, one kill) to a process serving many threads:
a turn running, a message queued behind it, a render in another thread; and a second kill while
the next process is resuming. Whatever a dead process left is finished by the next one: each
running turn reported once (not re-sent), each queued message answered, each link posted once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.sim import LocalBackend
from tests.faults.bot_process import BotProcess, bot_env
from tests.faults.conftest import sent_turns, sim_log, wait_for_request


def _links(*processes: BotProcess) -> dict[str, int]:
    seen: dict[str, int] = {}
    for process in processes:
        for record in process.posts("video"):
            seen[record["thread"]] = seen.get(record["thread"], 0) + 1
    return seen


async def _render_starts(sim: LocalBackend) -> int:
    return sum(
        1
        for e in await sim_log(sim.base_url)
        if e["method"] == "POST" and e["path"] == "/api/render/proxy/lambda"
    )


async def test_killed_mid_turn_with_a_queue_and_a_render_elsewhere(
    tmp_path: Path, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000, "turn_seconds": 0.2, "render_seconds": 2.0})
    env = bot_env(sim.base_url, f"sqlite:///{tmp_path / 'jupiter.db'}")
    async with BotProcess(env) as first:
        await first.send("b", "a paper boat")
        await first.wait_for(lambda r: r["op"] == "update" and r["kind"] != "status")
        await first.send("b", "export")
        await wait_for_request(sim.base_url, "POST", "/api/render/proxy/lambda")
        sim.set_faults({"turn_seconds": 30})
        await first.send("a", "a very long documentary")
        await wait_for_request(sim.base_url, "POST", "/run_sse", 2)
        await first.send("a", "make it 3 seconds")
        await first.wait_for(lambda r: r["thread"] == "a" and "current step finishes" in r["text"])
        await first.kill()
    assert not first.posts("video")

    sim.set_faults({"turn_seconds": 0.2})
    async with BotProcess(env) as second:
        await second.wait_for(until=lambda: bool(second.posts("video")), timeout=30)
        await second.wait_for(
            lambda r: r["thread"] == "a" and r["op"] == "update" and r["kind"] != "status",
            timeout=30,
        )
        await second.idle()
        await second.close()

    interrupted = second.posts("notice", "a")
    assert len(interrupted) == 1 and "a very long documentary" in interrupted[0]["text"]
    assert _links(first, second) == {"b": 1}
    assert await _render_starts(sim) == 1  # resumed, not started again
    assert await sent_turns(sim.base_url) == [
        "a paper boat",
        "a very long documentary",
        "make it 3 seconds",
    ]


async def test_killed_again_while_recovering_renders(tmp_path: Path, sim: LocalBackend) -> None:
    sim.set_faults({"credits": 10_000, "turn_seconds": 0.05, "render_seconds": 0})
    env = bot_env(sim.base_url, f"sqlite:///{tmp_path / 'jupiter.db'}")
    names = ["r1", "r2", "r3"]
    async with BotProcess(env) as first:
        # set-up: a timeline in each thread (renders the agent's words set off are quick),
        # then an edit, so that every export below is a new render
        await first.send_many([(name, f"a kite number {name}", None) for name in names])
        await first.idle()
        await first.send_many([(name, "make it 2 seconds", None) for name in names])
        await first.idle()
        sim.set_faults({"render_seconds": 6.0})  # long enough for the takeover to poll a few times
        before = await _render_starts(sim)
        await first.send_many([(name, "export", None) for name in names])
        await wait_for_request(sim.base_url, "POST", "/api/render/proxy/lambda", before + 3)
        await first.kill()
    started = await _render_starts(sim)

    async with BotProcess(env) as second:
        # the first process is dead: new polls mean the second one has taken the jobs over
        await _wait_polls(sim, await _polls(sim) + 3)
        await second.kill()

    def delivered() -> set[str]:
        return {r["video_url"] for p in (first, second, third) for r in p.posts("video")}

    async with BotProcess(env) as third:
        await third.wait_for(until=lambda: len(delivered()) >= started)
        await third.idle()
        await third.close()
    recovered = [r["video_url"] for p in (second, third) for r in p.posts("video")]
    assert len(recovered) == len(set(recovered)) > 0  # each link posted once after the kills
    assert not set(recovered) & {r["video_url"] for r in first.posts("video")}
    assert len(delivered()) == started == await _render_starts(sim)  # none started again
    assert {r["thread"] for p in (second, third) for r in p.posts("video")} == set(names)


async def _polls(sim: LocalBackend) -> int:
    return sum(
        1
        for e in await sim_log(sim.base_url)
        if e["method"] == "GET" and e["path"].startswith("/api/render/proxy/lambda/")
    )


async def _wait_polls(sim: LocalBackend, count: int) -> None:
    """Until the backend has answered `count` render polls in all (nothing signals it: polled)."""
    async with asyncio.timeout(20):
        while True:
            if await _polls(sim) >= count:
                return
            await asyncio.sleep(0.02)
