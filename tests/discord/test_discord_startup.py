"""Starting the bot: settings it refuses, the gateway handshake, sharding, and secrecy."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.discord.bot import intents, serve
from core.settings import SettingsError
from tests.discord.conftest import WAIT, FakeRuntime, RecordingEngine, discord_settings, running
from tests.fakes.discord_gateway import MESSAGE_CONTENT_INTENT, FakeDiscord


async def test_a_missing_token_is_a_settings_error_naming_it(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        settings = discord_settings(fake, tmp_path, discord_token=None)
        with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
            await serve(FakeRuntime(settings, RecordingEngine()))
    assert fake.calls == []


async def test_a_refused_message_content_intent_says_which_switch_to_flip(tmp_path: Path) -> None:
    async with FakeDiscord(allow_privileged=False) as fake:
        settings = discord_settings(fake, tmp_path)
        with pytest.raises(SettingsError) as caught:
            await asyncio.wait_for(serve(FakeRuntime(settings, RecordingEngine())), WAIT)
    message = str(caught.value)
    assert "MESSAGE CONTENT INTENT" in message and "developer portal" in message
    assert "\n" not in message


async def test_a_wrong_token_is_a_settings_error_without_the_token(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        settings = discord_settings(fake, tmp_path, discord_token="not-the-right-token")
        with pytest.raises(SettingsError, match="DISCORD_TOKEN") as caught:
            await asyncio.wait_for(serve(FakeRuntime(settings, RecordingEngine())), WAIT)
    assert "not-the-right-token" not in str(caught.value)


async def test_shard_ids_need_a_shard_count(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        settings = discord_settings(fake, tmp_path, discord_shard_ids="0,1")
        with pytest.raises(SettingsError, match="DISCORD_SHARD_COUNT"):
            await serve(FakeRuntime(settings, RecordingEngine()))


async def test_handshake_intents_commands_and_heartbeats(tmp_path: Path) -> None:
    async with FakeDiscord(heartbeat_ms=50) as fake:
        engine = RecordingEngine()
        async with running(FakeRuntime(discord_settings(fake, tmp_path), engine), fake):
            await fake.wait_for(lambda: fake.heartbeat_acks >= 3, WAIT)
            # REST and the gateway went to the configured URLs, not discord.com.
            assert Route.BASE == fake.api_url
            assert str(DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url

        (identify,) = fake.identifies
        assert identify["intents"] == intents().value
        assert identify["intents"] & MESSAGE_CONTENT_INTENT
        assert "shard" not in identify  # a plain Client: no /gateway/bot either
        assert not fake.find("GET", "/gateway/bot")
        assert sorted(c["name"] for c in fake.commands) == ["credits", "export", "status", "video"]
        (video,) = [c for c in fake.commands if c["name"] == "video"]
        assert video["options"][0]["name"] == "prompt" and video["options"][0]["required"]
        assert all(c.authorized for c in fake.calls)
    # Put back for whoever runs next in this process.
    assert Route.BASE == "https://discord.com/api/v10"
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


async def test_sharding_connects_every_shard(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        engine = RecordingEngine()
        settings = discord_settings(fake, tmp_path, discord_shard_count=2)
        async with running(FakeRuntime(settings, engine), fake, shards=2):
            await fake.post_message("a sunset", mention_bot=True)
            await engine.wait_handled()
        assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]


async def test_the_token_never_reaches_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeDiscord() as fake:
        engine = RecordingEngine()
        async with running(FakeRuntime(discord_settings(fake, tmp_path), engine), fake):
            await fake.post_message("a sunset", mention_bot=True)
            await fake.slash("credits")
            await engine.wait_handled(2)
        token = fake.token
    assert caplog.records
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in str(record.args)
