"""Starting the bot: settings it refuses, the gateway handshake, sharding, and secrecy."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bots.discord.app import intents, serve
from core.settings import SettingsError
from tests.discord.conftest import WAIT, FakeRuntime, RecordingEngine, discord_settings, running
from tests.fakes.discord_gateway import MESSAGE_CONTENT_INTENT, FakeDiscord


async def test_a_missing_token_is_a_settings_error_naming_it(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        settings = discord_settings(fake, tmp_path, discord_token=None)
        with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
            await serve(FakeRuntime(settings, RecordingEngine()), settings)
    assert fake.calls == []


async def test_a_refused_message_content_intent_says_which_switch_to_flip(tmp_path: Path) -> None:
    async with FakeDiscord(allow_privileged=False) as fake:
        settings = discord_settings(fake, tmp_path)
        with pytest.raises(SettingsError) as caught:
            await asyncio.wait_for(serve(FakeRuntime(settings, RecordingEngine()), settings), WAIT)
    message = str(caught.value)
    assert "MESSAGE CONTENT INTENT" in message and "developer portal" in message
    assert "\n" not in message


async def test_a_wrong_token_is_a_settings_error_without_the_token(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        settings = discord_settings(fake, tmp_path, discord_token="not-the-right-token")
        with pytest.raises(SettingsError, match="DISCORD_TOKEN") as caught:
            await asyncio.wait_for(serve(FakeRuntime(settings, RecordingEngine()), settings), WAIT)
    assert "not-the-right-token" not in str(caught.value)


async def test_shard_ids_need_a_shard_count(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        settings = discord_settings(fake, tmp_path, discord_shard_ids="0,1")
        with pytest.raises(SettingsError, match="DISCORD_SHARD_COUNT"):
            await serve(FakeRuntime(settings, RecordingEngine()), settings)


async def test_handshake_intents_commands_and_heartbeats(tmp_path: Path) -> None:
    async with FakeDiscord(heartbeat_ms=50) as fake:
        engine = RecordingEngine()
        async with running(FakeRuntime(discord_settings(fake, tmp_path), engine), fake):
            await fake.wait_for(lambda: fake.heartbeat_acks >= 3, WAIT)
            # REST and the gateway went to the configured URLs, not discord.com, and only
            # for this client: discord.py's class attributes are never changed.
            assert fake.calls and fake.identifies
            assert Route.BASE == "https://discord.com/api/v10"
            assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"

        (identify,) = fake.identifies
        assert identify["intents"] == intents().value
        assert identify["intents"] & MESSAGE_CONTENT_INTENT
        assert "shard" not in identify  # a plain Client: no /gateway/bot either
        assert not fake.find("GET", "/gateway/bot")
        assert sorted(c["name"] for c in fake.commands) == [
            "credits",
            "export",
            "new",
            "settings",
            "status",
            "versions",
            "video",
            "videos",
        ]
        (video,) = [c for c in fake.commands if c["name"] == "video"]
        assert video["options"][0]["name"] == "prompt" and video["options"][0]["required"]
        # Guild and user installs; servers, the bot's DM, and other DMs / group DMs.
        assert all(sorted(c["integration_types"]) == [0, 1] for c in fake.commands)
        assert all(sorted(c["contexts"]) == [0, 1, 2] for c in fake.commands)
        (export,) = [c for c in fake.commands if c["name"] == "export"]
        (version,) = export["options"]
        assert version["name"] == "version" and version["type"] == 4 and not version["required"]
        (settings,) = [c for c in fake.commands if c["name"] == "settings"]
        assert [ch["value"] for ch in settings["options"][0]["choices"]] == ["me", "server"]
        assert all(c.authorized for c in fake.calls)
    # Put back for whoever runs next in this process.
    assert Route.BASE == "https://discord.com/api/v10"
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


async def test_sharding_identifies_the_configured_shard(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        engine = RecordingEngine()
        # One process of a two-shard deployment: the shard that holds the test guild.
        # (All shards in one process work too, but discord.py spaces IDENTIFYs 5 s apart.)
        shard = (fake.guild_id >> 22) % 2
        settings = discord_settings(
            fake, tmp_path, discord_shard_count=2, discord_shard_ids=str(shard)
        )
        async with running(FakeRuntime(settings, engine), fake):
            await fake.post_message("a sunset", mention_bot=True)
            await engine.wait_handled()
        assert [i["shard"] for i in fake.identifies] == [[shard, 2]]
        assert not fake.find("GET", "/gateway/bot")


async def test_a_thread_missing_from_the_cache_after_a_restart_is_looked_up(
    tmp_path: Path,
) -> None:
    async with FakeDiscord(threads_in_guild_create=False) as fake:
        engine = RecordingEngine()
        rt = FakeRuntime(discord_settings(fake, tmp_path), engine)
        async with running(rt, fake):
            first = await fake.post_message("a sunset", mention_bot=True)
            await engine.wait_handled()
        async with running(rt, fake):  # a new client: GUILD_CREATE leaves the thread out
            await fake.post_message("make it longer", channel_id=int(first["id"]))
            incomings = await engine.wait_handled(2)

        assert fake.find("GET", f"/channels/{first['id']}")
        assert engine.keys()[0] == engine.keys()[1]
        assert incomings[1].text == "make it longer"


async def test_a_bare_bones_discord_without_channel_data_still_works(tmp_path: Path) -> None:
    """No guild or channel data at all and no channel lookups: a mention still opens a thread."""
    async with FakeDiscord(minimal=True) as fake:
        engine = RecordingEngine()
        async with running(FakeRuntime(discord_settings(fake, tmp_path), engine), fake):
            await fake.post_message("chatter without a mention")
            first = await fake.post_message("a sunset", mention_bot=True)
            (incoming,) = await engine.wait_handled()
            key = engine.keys()[0]
            assert key.thread == first["id"] and incoming.text == "a sunset"

            engine.owned.add(key)  # what the real engine's store says once the turn started
            await fake.post_message("make it longer", channel_id=int(first["id"]))
            incomings = await engine.wait_handled(2)
            assert engine.keys()[1] == key and incomings[1].text == "make it longer"


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


def test_the_invite_permissions_are_the_sum_of_the_documented_bits() -> None:
    """The integer in the invite URL is exactly the table's bits, each one named, and the
    README links the same integer."""
    root = Path(__file__).resolve().parents[2]
    guide = (root / "deploy" / "discord" / "README.md").read_text(encoding="utf-8")
    (integer,) = set(re.findall(r"permissions=(\d+)", guide))
    rows = re.findall(r"^\s*\| ([A-Z][\w ]+) \| 1 << (\d+) \| (\d+) \|", guide, re.MULTILINE)
    assert all(int(value) == 1 << int(bit) for _, bit, value in rows)
    assert sum(int(value) for _, _, value in rows) == int(integer)
    granted = discord.Permissions(int(integer))
    for needed in (
        "view_channel",
        "send_messages",
        "embed_links",
        "attach_files",
        "read_message_history",
        "use_application_commands",
        "create_public_threads",
        "send_messages_in_threads",
        "manage_threads",
    ):
        assert getattr(granted, needed), needed
    assert not granted.mention_everyone and not granted.administrator
    assert f"`{integer}`" in (root / "README.md").read_text(encoding="utf-8")
