"""Recovery: the bot process is SIGKILLed while 100 renders run; a new process is started at
once. How long until all 100 links are posted, and is each posted exactly once?

The bot is `python -m tests.faults.bot_process` (the real engine, 100 threads, SQLite); the
local backend runs in its own process and keeps rendering through the kill. Each thread makes a
1-second clip and exports it; the kill comes once the backend has all 100 render requests.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from tests.bench.common import Row, SimProcess, main, percentile
from tests.faults.bot_process import BotProcess, bot_env

RENDERS = 100
LEASE = "1"
RENDER_SECONDS = "6"


async def _render_starts(sim: SimProcess) -> int:
    return sum(
        1
        for e in await sim.log()
        if e["method"] == "POST" and e["path"] == "/api/render/proxy/lambda"
    )


async def _wait_render_starts(sim: SimProcess, count: int) -> None:
    """Until the backend has every render request (nothing signals it: its log is polled)."""
    async with asyncio.timeout(60):
        while True:
            if await _render_starts(sim) >= count:
                return
            await asyncio.sleep(0.05)


async def run() -> list[Row]:
    names = [f"r{i:03d}" for i in range(RENDERS)]
    killed_at = 0.0
    flags = ("--turn-seconds", "0", "--render-seconds", RENDER_SECONDS, "--no-text-ratio", "0")
    with tempfile.TemporaryDirectory() as tmp:
        async with SimProcess(*flags, "--credits", "1000000000", "--anonymous-render") as sim:
            env = bot_env(
                sim.url,
                f"sqlite:///{Path(tmp) / 'jupiter.db'}",
                JUPITER_JOB_LEASE_SECONDS=LEASE,
                JUPITER_RENDER_POLL_SECONDS="0.2",
                JUPITER_HEARTBEAT_SECONDS="5",
            )
            async with BotProcess(env) as first:
                # Set-up: a timeline in every thread. Renders the agent's words set off here
                # (GUI talk) are quick; an edit then makes every timeline new to export.
                await sim.faults(render_seconds=0)
                await first.send_many([(n, f"a 1-second clip of boat {n}", None) for n in names])
                await first.idle(120)
                await first.send_many([(n, "make it 2 seconds", None) for n in names])
                await first.idle(120)
                await sim.faults(render_seconds=float(RENDER_SECONDS))
                base = await _render_starts(sim)
                mark = len(first.records)
                await first.send_many([(n, "export", None) for n in names])

                def rendering() -> set[str]:
                    return {
                        r["thread"]
                        for r in first.records[mark:]
                        if r["op"] == "post" and "Rendering your video" in r["text"]
                    }

                await first.wait_for(until=lambda: len(rendering()) >= RENDERS, timeout=120)
                await _wait_render_starts(sim, base + RENDERS)
                killed_at = time.monotonic()
                await first.kill()
            started_before = await _render_starts(sim)
            links_before = first.posts("video")

            async with BotProcess(env) as second:
                await second.wait_for(
                    until=lambda: len(links_before) + len(second.posts("video")) >= started_before,
                    timeout=180,
                )
                await second.idle(60)
                await second.close()
            starts = await _render_starts(sim)

    links = links_before + second.posts("video")
    per_render: dict[str, int] = {}
    for link in links:
        per_render[link["video_url"]] = per_render.get(link["video_url"], 0) + 1
    once = sum(1 for count in per_render.values() if count == 1)
    after_restart = [r["seen"] - second.started for r in second.posts("video")]
    return [
        Row(
            "recovery",
            "restart to all links posted",
            max(after_restart, default=0),
            None,
            "s",
            "",
            f"(first link after {min(after_restart, default=0):.1f} s, p50"
            f" {percentile(after_restart, 0.5):.1f} s; kill to restart"
            f" {second.started - killed_at:.2f} s; lease {LEASE} s; each render takes"
            f" {RENDER_SECONDS} s, the last started just before the kill)",
        ),
        Row(
            "recovery",
            f"renders whose link was posted exactly once (of {started_before})",
            once,
            started_before,
            "",
            "min",
            f"({len(links_before)} before the kill, {len(links) - len(links_before)} after;"
            f" {started_before - RENDERS} quick ones from the set-up)",
        ),
        Row(
            "recovery",
            "links posted more than once",
            sum(1 for count in per_render.values() if count > 1),
            0,
        ),
        Row("recovery", "renders started again after the restart", starts - started_before, 0),
    ]


if __name__ == "__main__":
    main(run)
