"""The bot process is SIGKILLed inside the delivery window: after the render finished, while its
link is being posted. Whichever side of the post the kill falls on, the thread gets the link
exactly once: the job is `posting` under a lease, and the process taking it over asks the thread
(`find_delivery`) before posting.

`BOT_CHAT_LOG` stands for the chat service's record of what was posted (what Slack's
conversations.replies or Discord's channel history would say); `BOT_HANG_VIDEO` holds the first
process in the window until it is killed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest

from core.sim import LocalBackend
from tests.faults.bot_process import BotProcess, bot_env


async def _render_states(db: Path) -> list[str]:
    async with aiosqlite.connect(db) as conn, conn.execute("SELECT status FROM renders") as cur:
        return [row[0] for row in await cur.fetchall()]


async def _until_posted(db: Path, timeout: float = 30) -> None:  # noqa: ASYNC109
    """Nothing signals a silent takeover (it posts nothing): the store is polled."""
    async with asyncio.timeout(timeout):
        while True:
            if "posted" in await _render_states(db):
                return
            await asyncio.sleep(0.05)


async def _killed_in_the_window(tmp_path: Path, sim: LocalBackend, hang: str) -> BotProcess:
    sim.set_faults({"credits": 10_000, "turn_seconds": 0.05, "render_seconds": 0.2})
    db = tmp_path / "jupiter.db"
    env = bot_env(sim.base_url, f"sqlite:///{db}")
    env.update(BOT_CHAT_LOG=str(tmp_path / "chat.log"), BOT_HANG_VIDEO=hang)
    async with BotProcess(env) as first:
        await first.send("v", "a paper boat")
        await first.wait_for(lambda r: r["op"] == "update" and r["kind"] != "status")
        await first.send("v", "export")
        await first.wait_for(lambda r: r["op"] == "stuck", timeout=30)
        assert await _render_states(db) == ["posting"]
        await first.kill()
    return first


def _videos(*processes: BotProcess) -> int:
    return sum(len(p.posts("video")) for p in processes)


async def _taken_over(tmp_path: Path, sim: LocalBackend) -> BotProcess:
    """A second process on the same store and chat, run until the job is `posted`."""
    env = bot_env(sim.base_url, f"sqlite:///{tmp_path / 'jupiter.db'}")
    env.update(BOT_CHAT_LOG=str(tmp_path / "chat.log"))
    async with BotProcess(env) as second:
        await _until_posted(tmp_path / "jupiter.db")
        await second.idle()
        await second.close()
    return second


@pytest.mark.parametrize(
    ("hang", "posted_before_the_kill"),
    [("after", 1), ("before", 0)],  # went out, not recorded / still retrying (a 429)
)
async def test_killed_mid_delivery_the_link_is_posted_exactly_once(
    tmp_path: Path, sim: LocalBackend, hang: str, posted_before_the_kill: int
) -> None:
    first = await _killed_in_the_window(tmp_path, sim, hang)
    assert _videos(first) == posted_before_the_kill
    second = await _taken_over(tmp_path, sim)
    assert _videos(first, second) == 1  # found in the thread, or posted once
    assert len((tmp_path / "chat.log").read_text().split()) == 1
