"""End to end over loopback: the fake Discord's gateway -> the real discord.py client -> the
adapter -> the real engine -> the local backend, with every reply landing in the fake's REST API.

Nothing sleeps to let things happen: each step waits on what the fake recorded, or on
`engine.idle()`, with a deadline.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from core.runtime import Runtime
from core.sim import LocalBackend
from tests.discord.conftest import WAIT, discord_settings, running
from tests.fakes.discord_gateway import (
    IS_COMPONENTS_V2,
    Call,
    FakeDiscord,
    buttons_of,
    shown_text,
)

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "make a 5-second video of a sunset over the mountains"


@dataclass
class World:
    fake: FakeDiscord
    sim: LocalBackend
    rt: Runtime

    def said(self, channel_id: int | str) -> list[dict[str, Any]]:
        return self.fake.sent_messages(channel_id)

    def text(self, channel_id: int | str) -> str:
        return "\n".join(shown_text(m) for m in self.said(channel_id))

    def shown(self, channel_id: int | str) -> list[str]:
        """Everything the bot's messages ever showed there, edits included, in order."""
        return [
            content
            for m in self.said(channel_id)
            for content in self.fake.history.get(int(m["id"]), [])
        ]

    def buttons(self, message: dict[str, Any]) -> list[str]:
        return [b["custom_id"] for b in buttons_of(message)]

    async def settled(self, channel_id: int | str, until: str | None = None) -> None:
        """The bot said something (containing `until`) there, and the engine has finished."""
        await self.fake.wait_for(
            lambda: self.said(channel_id) and (until is None or until in self.text(channel_id)),
            WAIT,
        )
        await self.rt.engine.idle(WAIT)

    async def turn(self, text: str) -> str:
        """A mention in the channel; returns the new thread's id once the turn is over."""
        message = await self.fake.post_message(text, mention_bot=True)
        await self.settled(message["id"], until="Timeline")
        return str(message["id"])


def mp4_uploads(fake: FakeDiscord) -> list[Call]:
    return [c for c in fake.calls if any((f.filename or "").endswith(".mp4") for f in c.files)]


@asynccontextmanager
async def world(
    fake: FakeDiscord, sim: LocalBackend, tmp_path: Path, **settings: Any
) -> AsyncIterator[World]:
    config = discord_settings(fake, tmp_path, **settings)
    async with Runtime.open(config, base_url=sim.base_url) as rt, running(rt, fake):
        yield World(fake, sim, rt)


async def test_mention_thread_heartbeats_reply_export_and_the_mp4(
    fake: FakeDiscord, sim: LocalBackend, tmp_path: Path
) -> None:
    async with world(fake, sim, tmp_path) as w:
        thread_id = await w.turn(PROMPT)

        status, *_ = w.said(thread_id)
        history = w.fake.history[int(status["id"])]
        assert history[0] == "Connecting..."
        assert any("Still working" in h for h in history[1:-1])  # edited in place
        assert "sunset" in status["content"] and "Timeline" in status["content"]
        assert w.buttons(status) == [
            f"jupiter:{a}:{thread_id}" for a in ("export", "status", "credits")
        ]
        assert w.fake.find("POST", f"/channels/{thread_id}/typing")
        assert w.fake.find("POST", f"/channels/{fake.channel_id}/messages/{thread_id}/threads")

        export = await w.fake.post_message("export", channel_id=int(thread_id))
        await w.settled(thread_id, until="Your video is ready")
        await w.fake.wait_for(lambda: mp4_uploads(w.fake), WAIT)
        await w.rt.engine.idle(WAIT)

        assert export["id"]
        assert any("Rendering" in h for h in w.shown(thread_id))
        (ready,) = [m for m in w.said(thread_id) if "Your video is ready" in shown_text(m)]
        assert ready["flags"] & IS_COMPONENTS_V2 and not ready["content"]
        assert "http" in shown_text(ready)
        assert any(":status:" in b for b in w.buttons(ready))
        (upload,) = mp4_uploads(w.fake)
        (part,) = [f for f in upload.files if f.filename and f.filename.endswith(".mp4")]
        # The MP4 goes into the card itself: its gallery plays the attachment.
        assert upload.method == "PATCH"
        assert upload.path == f"/channels/{thread_id}/messages/{ready['id']}"
        assert part.filename and part.filename.endswith(".mp4")
        assert 0 < part.size <= fake.filesize_limit
        assert upload.json["allowed_mentions"] == {"parse": []}
        assert f"attachment://{part.filename}" in str(ready["components"])
        assert [a["filename"] for a in ready["attachments"]][-1] == part.filename
        # The poster (a frame of the video) is the card's thumbnail, posted with it.
        assert "attachment://poster.jpg" in str(ready["components"])


async def test_slash_video_runs_the_turn_in_a_new_thread(
    fake: FakeDiscord, sim: LocalBackend, tmp_path: Path
) -> None:
    async with world(fake, sim, tmp_path) as w:
        interaction = await w.fake.slash("video", {"prompt": PROMPT})
        thread = await w.fake.wait_for(
            lambda: w.fake.find("POST", "/channels/*/messages/*/threads"), WAIT
        )
        thread_id = thread[0].path.split("/")[4]
        await w.settled(thread_id, until="Timeline")

        assert interaction.responses[0]["type"] == 5
        (followup,) = w.fake.followups(interaction)
        assert f"<#{thread_id}>" in followup["content"]
        assert "Connecting..." in w.shown(thread_id)
        starter = w.said(fake.channel_id)[0]
        assert starter["id"] == thread_id and PROMPT in starter["content"]


async def test_buttons_keep_working_after_a_restart(
    fake: FakeDiscord, sim: LocalBackend, tmp_path: Path
) -> None:
    async with world(fake, sim, tmp_path) as w:
        thread_id = await w.turn(PROMPT)
        message = next(m for m in w.said(thread_id) if m["components"])
        before = len(w.said(thread_id))

    # A new process: new runtime on the same database, a new client, the same Discord.
    async with world(fake, sim, tmp_path) as w:
        status_button = next(b for b in w.buttons(message) if ":status:" in b)
        interaction = await w.fake.click(message, status_button)
        await w.fake.wait_for(lambda: len(w.said(thread_id)) > before, WAIT)
        await w.rt.engine.idle(WAIT)

        assert interaction.responses == [{"type": 6}]
        assert "Timeline (" in shown_text(w.said(thread_id)[-1])


async def test_everyone_in_the_backends_text_never_pings(
    fake: FakeDiscord, sim: LocalBackend, tmp_path: Path
) -> None:
    async with world(fake, sim, tmp_path) as w:
        thread_id = await w.turn('make a 5-second video of fireworks titled "@everyone party"')

        assert "@everyone party" in w.text(thread_id)
        carrying = [
            c
            for c in w.fake.calls
            if c.method in ("POST", "PATCH") and "@everyone" in str((c.json or {}).get("content"))
        ]
        assert carrying
        assert all(c.json["allowed_mentions"] == {"parse": []} for c in carrying)


async def test_an_oversized_attachment_is_refused_before_any_download(
    fake: FakeDiscord, sim: LocalBackend, tmp_path: Path
) -> None:
    async with world(fake, sim, tmp_path) as w:
        huge = w.fake.attachment("holiday.mp4", b"", size=600 * 1024 * 1024)
        message = await w.fake.post_message("use this clip", mention_bot=True, attachments=[huge])
        await w.settled(message["id"], until="500 MB")

        assert "holiday.mp4" in w.text(message["id"])
        assert not w.fake.find("GET", "/attachments/*")


async def test_a_small_attachment_streams_from_the_cdn_to_the_backend(
    fake: FakeDiscord, sim: LocalBackend, tmp_path: Path
) -> None:
    async with world(fake, sim, tmp_path) as w:
        clip = w.fake.attachment("intro.mp4", b"\x00" * 200_000, content_type="video/mp4")
        message = await w.fake.post_message("", mention_bot=True, attachments=[clip])
        await w.settled(message["id"], until="Uploaded")

        (download,) = w.fake.find("GET", "/attachments/*")
        assert {"ex", "is", "hm"} <= set(download.query)
        assert "Authorization" not in download.headers


async def test_a_duplicate_delivery_runs_one_turn(
    fake: FakeDiscord, sim: LocalBackend, tmp_path: Path
) -> None:
    async with world(fake, sim, tmp_path) as w:
        message = await w.fake.post_message(PROMPT, mention_bot=True)
        await w.fake.redeliver(message)
        await w.settled(message["id"], until="Timeline")
        await w.fake.wait_for(
            lambda: len(w.fake.find("POST", "/channels/*/messages/*/threads")) == 2, WAIT
        )
        await w.rt.engine.idle(WAIT)

        connecting = [h for h in w.shown(message["id"]) if h == "Connecting..."]
        assert len(connecting) == 1
        async with httpx.AsyncClient() as http:
            log = (await http.get(f"{sim.base_url}/_sim/log")).json()
        entries = log if isinstance(log, list) else log.get("requests", log.get("log", []))
        assert len([e for e in entries if "run_sse" in str(e.get("path", ""))]) == 1


async def test_stop_cancels_the_running_turn(
    fake: FakeDiscord, sim: LocalBackend, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(f"{sim.base_url}/_sim/faults", json={"turn_seconds": 30})
    async with world(fake, sim, tmp_path) as w:
        message = await w.fake.post_message(PROMPT, mention_bot=True)
        thread_id = message["id"]
        await w.fake.wait_for(lambda: "Still working" in w.text(thread_id), WAIT)

        await w.fake.post_message("stop", channel_id=int(thread_id))
        await w.settled(thread_id, until="Stopped")

        assert "🛑 Stopped." in w.text(thread_id)


async def test_jupiter_discord_runs_against_the_fake(fake: FakeDiscord, tmp_path: Path) -> None:
    """The console script's `discord` command, configured only through CONTRACT.md names."""
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DISCORD_", "JUPITER_", "NEMO_"))
        },
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "JUPITER_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "JUPITER_HEARTBEAT_SECONDS": "0.05",
        "PYTHONPATH": str(ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        "discord",
        "--offline",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_ready(timeout=30)
        message = await fake.post_message(PROMPT, mention_bot=True)
        await fake.wait_for(
            lambda: (
                "Timeline" in " ".join(shown_text(m) for m in fake.sent_messages(message["id"]))
            ),
            30,
        )
    finally:
        process.terminate()
        _, stderr = await process.communicate()
    assert fake.token.encode() not in stderr


async def test_jupiter_discord_without_a_token_exits_2_naming_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "JUPITER_"))}
    env.update(PYTHONPATH=str(ROOT), JUPITER_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        "discord",
        "--offline",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        _, stderr = await process.communicate()
    assert process.returncode == 2
    lines = [line for line in stderr.decode().splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and "DISCORD_TOKEN" in lines[0]


async def test_a_message_sent_during_a_turn_hears_its_place_and_an_estimate(
    fake: FakeDiscord, sim: LocalBackend, tmp_path: Path
) -> None:
    async with world(fake, sim, tmp_path) as w:
        # Long enough that the second message lands mid-turn even on a loaded machine.
        w.sim.set_faults({"turn_seconds": 2.0})
        first = await w.fake.post_message(PROMPT, mention_bot=True)
        thread_id = first["id"]
        await w.fake.wait_for(lambda: w.said(thread_id), WAIT)
        await w.fake.post_message('change the title to "First Light"', channel_id=int(thread_id))

        queued = await w.fake.wait_for(
            lambda: [m for m in w.said(thread_id) if "Got it" in shown_text(m)], WAIT
        )
        await w.rt.engine.idle(WAIT)

        (notice,) = queued
        assert "1 ahead of you" in notice["content"] and "about" in notice["content"]
        status = w.said(thread_id)[0]
        beats = [h for h in w.fake.history[int(status["id"])] if "Still working" in h]
        assert beats  # the heartbeat is one message edited in place, never a new post
        assert not any("Still working" in m["content"] for m in w.said(thread_id)[1:])
