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


async def test_killed_after_the_post_went_out_is_not_posted_again(
    tmp_path: Path, sim: LocalBackend
) -> None:
    first = await _killed_in_the_window(tmp_path, sim, "after")
    assert _videos(first) == 1
    env = bot_env(sim.base_url, f"sqlite:///{tmp_path / 'jupiter.db'}")
    env.update(BOT_CHAT_LOG=str(tmp_path / "chat.log"))
    async with BotProcess(env) as second:
        await _until_posted(tmp_path / "jupiter.db")
        await second.idle()
        await second.close()
    assert _videos(first, second) == 1
    assert (tmp_path / "chat.log").read_text().split() != []


async def test_killed_while_the_post_was_retrying_posts_it_once(
    tmp_path: Path, sim: LocalBackend
) -> None:
    first = await _killed_in_the_window(tmp_path, sim, "before")
    assert _videos(first) == 0
    env = bot_env(sim.base_url, f"sqlite:///{tmp_path / 'jupiter.db'}")
    env.update(BOT_CHAT_LOG=str(tmp_path / "chat.log"))
    async with BotProcess(env) as second:
        await second.wait_for(until=lambda: bool(second.posts("video")), timeout=30)
        await _until_posted(tmp_path / "jupiter.db")
        await second.idle()
        await second.close()
    assert _videos(first, second) == 1
    assert len((tmp_path / "chat.log").read_text().split()) == 1
