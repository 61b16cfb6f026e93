"""The Discord adapter: discord.py in, the engine's port out.

settings   DiscordSettings, token pattern, SDK loggers (no SDK import: the console loads this)
incoming   Discord messages and interactions -> ThreadKey + Incoming (pure)
handlers   events -> engine calls; slash command and button handlers
thread     DiscordThread, the ChatThread the engine posts through
render     Reply -> Discord messages; markdown rewriting and safe splitting in `markdown`
buttons    Export / Status / Credits as restart-proof DynamicItems
commands   the slash command tree
files      attachment downloads from Discord's CDN only
endpoints  DISCORD_API_URL / DISCORD_GATEWAY_URL for one client, without touching discord.py
app        the client, intents, and `serve`
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from bots.base.adapter import Adapter

from .settings import DiscordSettings

if TYPE_CHECKING:
    from core.runtime import Runtime


async def _serve(rt: Runtime, settings: Any, args: argparse.Namespace) -> None:
    from .app import serve

    await serve(rt, settings)


ADAPTER = Adapter(
    name="discord",
    summary="the Discord bot",
    settings=DiscordSettings,
    serve=_serve,
)
