"""Discord fixtures: the loopback fake Discord, settings pointing at it, and the running bot.

The bot is the real discord.py client started by `bots.discord.app.serve`: it logs in over
REST, syncs its slash commands, opens the gateway websocket and receives what the fake
dispatches. Its engine is either the real one (end-to-end tests, with the local backend) or
`RecordingEngine`, a stand-in for the engine API that only records.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # discord.py imports `audioop` (voice), deprecated since Python 3.11; the bot uses no voice.
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord  # noqa: F401

from bots.discord.app import serve
from bots.discord.settings import DiscordSettings
from core.settings import Settings
from tests.conftest import fast_settings
from tests.fakes.discord_gateway import FakeDiscord
from tests.fakes.engine import RecordingEngine  # noqa: F401  (re-exported for the tests)

WAIT = 10.0


class DiscordTestSettings(Settings, DiscordSettings):
    """The shared settings and the adapter's in one object, as a test runtime carries them."""


def discord_settings(fake: FakeDiscord, tmp_path: Path, **overrides: Any) -> DiscordTestSettings:
    values: dict[str, Any] = {
        "discord_token": fake.token,
        "discord_api_url": fake.api_url,
        "discord_gateway_url": fake.gateway_url,
        "heartbeat_seconds": 0.05,
        "render_poll_seconds": 0.05,
    }
    values.update(overrides)
    return fast_settings(tmp_path, DiscordTestSettings, **values)


@dataclass
class FakeRuntime:
    """The slice of `core.runtime.Runtime` that `serve` uses, around a stand-in engine."""

    settings: DiscordTestSettings
    engine: Any


@asynccontextmanager
async def running(rt: Any, fake: FakeDiscord, shards: int = 1) -> AsyncIterator[asyncio.Task[None]]:
    """`serve(rt)` as a task, connected to the fake's gateway; cancelled on the way out."""
    task = asyncio.create_task(serve(rt, rt.settings))
    ready = asyncio.create_task(fake.wait_ready(shards, WAIT))
    try:
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()  # raises what stopped the bot
            raise AssertionError("the bot stopped before it connected")
        ready.result()
        yield task
    finally:
        for pending in (ready, task):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def engine() -> RecordingEngine:
    return RecordingEngine()


@pytest.fixture
async def bot(
    fake: FakeDiscord, engine: RecordingEngine, tmp_path: Path
) -> AsyncIterator[RecordingEngine]:
    """The bot connected to the fake, on the recording engine (returned for convenience)."""
    async with running(FakeRuntime(discord_settings(fake, tmp_path), engine), fake):
        yield engine
