"""The Discord bot process: one `discord.Client` (sharded when configured) wired to the engine.

`serve(rt)` is the whole lifecycle: it builds the client from settings, registers the thread
resolver with the engine (so renders resumed after a restart can post), connects, and runs
until cancelled. discord.py handles Discord's rate limits and reconnects; nothing here blocks
the event loop.

Intents: guilds, guild messages, DMs, and message content, which is privileged: a bot whose
developer-portal switch is off is refused by the gateway (close code 4014), and `serve` turns
that into a one-line `SettingsError` saying which switch to flip.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import discord
import httpx
from discord import app_commands

from bots.base.adapter import Engine
from bots.discord.buttons import ActionButton, ChoiceButton
from bots.discord.commands import command_tree
from bots.discord.endpoints import interaction_endpoints, point_client
from bots.discord.files import DiscordFiles
from bots.discord.handlers import DiscordAdapter
from bots.discord.incoming import PLATFORM
from bots.discord.settings import DiscordSettings
from bots.discord.thread import NO_MENTIONS
from core.port import Action, Answer
from core.redact import register_secret_patterns
from core.settings import SettingsError, load

log = logging.getLogger(__name__)

ERR_NO_TOKEN = "DISCORD_TOKEN is not set: create a bot at https://discord.com/developers/applications and set its token"
ERR_TOKEN_REFUSED = "DISCORD_TOKEN was refused by Discord: reset the bot token in the developer portal and set it again"
ERR_INTENTS = "Discord refused the MESSAGE CONTENT intent: enable MESSAGE CONTENT INTENT for the bot in the Discord developer portal (Bot > Privileged Gateway Intents)"
ERR_SHARD_IDS = "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the total number of shards)"
ERR_SHARDING = "Discord refused the shard layout: check DISCORD_SHARD_COUNT and DISCORD_SHARD_IDS"

_SHARDING_CLOSE_CODES = (4010, 4011)  # invalid shard, sharding required
_AUTH_CLOSE_CODE = 4004
CDN_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def intents() -> discord.Intents:
    """Exactly what the bot needs: no members, no presences."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    return wanted


class JupiterClient(discord.Client):
    """discord.py's client with the adapter's handlers; `tree` holds the slash commands."""

    def __init__(self, adapter: DiscordAdapter, settings: DiscordSettings, **options: Any) -> None:
        # No voice here: skip discord.py's start-up warnings about missing voice libraries.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(intents=intents(), allowed_mentions=NO_MENTIONS, **options)
        point_client(self, settings.discord_api_url, settings.discord_gateway_url)
        self.adapter = adapter
        self.tree: app_commands.CommandTree[Any] = command_tree(self, adapter)
        adapter.attach(self)

    async def setup_hook(self) -> None:
        # Buttons posted before this start (or by another replica) dispatch through here.
        self.add_dynamic_items(ActionButton, ChoiceButton)
        try:
            await self.tree.sync()
        except discord.HTTPException as exc:
            log.warning("could not sync slash commands: HTTP %s", exc.status)
        self.adapter.online.set()

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

    async def on_jupiter_button(
        self, interaction: discord.Interaction[Any], action: Action, thread_id: int
    ) -> None:
        await self.adapter.button(interaction, action, thread_id)

    async def on_jupiter_answer(
        self, interaction: discord.Interaction[Any], thread_id: int, answer: Answer
    ) -> None:
        await self.adapter.answer(interaction, thread_id, answer)

    async def close(self) -> None:
        await self.adapter.close()
        await super().close()


class ShardedJupiterClient(JupiterClient, discord.AutoShardedClient):
    """The same bot over several gateway shards (`DISCORD_SHARD_COUNT`, `DISCORD_SHARD_IDS`)."""


def build_client(settings: DiscordSettings, adapter: DiscordAdapter) -> JupiterClient:
    count, ids = settings.discord_shard_count, settings.discord_shard_ids
    if ids and count is None:
        raise SettingsError(ERR_SHARD_IDS)
    if count is not None:
        return ShardedJupiterClient(adapter, settings, shard_count=count, shard_ids=ids or None)
    return JupiterClient(adapter, settings)


class DiscordRuntime(Protocol):
    """What `serve` needs from `core.runtime.Runtime`."""

    @property
    def engine(self) -> Engine: ...


async def run_bot(settings: DiscordSettings, engine: Engine) -> None:
    """Connect and run until cancelled; start-up refusals become `SettingsError`."""
    token = settings.discord_token
    if token is None or not token.get_secret_value().strip():
        raise SettingsError(ERR_NO_TOKEN)
    async with httpx.AsyncClient(timeout=CDN_TIMEOUT, follow_redirects=False) as http:
        adapter = DiscordAdapter(engine, DiscordFiles(http, settings.discord_api_url))
        client = build_client(settings, adapter)
        engine.register(PLATFORM, adapter.thread)
        with interaction_endpoints(settings.discord_api_url):
            try:
                async with client:
                    await client.start(token.get_secret_value())
            except discord.PrivilegedIntentsRequired:
                raise SettingsError(ERR_INTENTS) from None
            except discord.LoginFailure:
                raise SettingsError(ERR_TOKEN_REFUSED) from None
            except discord.ConnectionClosed as exc:
                if exc.code == _AUTH_CLOSE_CODE:
                    raise SettingsError(ERR_TOKEN_REFUSED) from None
                if exc.code in _SHARDING_CLOSE_CODES:
                    raise SettingsError(ERR_SHARDING) from None
                raise
            except OSError as exc:  # aiohttp's connection errors too: nothing answered
                raise ConnectionError(
                    f"could not reach Discord at {settings.discord_api_url} (DISCORD_API_URL): {exc}"
                ) from None


async def serve(rt: DiscordRuntime, settings: DiscordSettings | None = None) -> None:
    """`jupiter discord`: the bot on the runtime's engine, until cancelled. Without `settings`,
    they are read from the environment."""
    register_secret_patterns(
        *DiscordSettings.secret_patterns
    )  # `jupiter` did already; a direct caller may not
    await run_bot(settings if settings is not None else load(DiscordSettings), rt.engine)
