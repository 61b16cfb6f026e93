"""The slash commands: `/video prompt:`, `/credits`, `/status`, `/export`.

Global commands, synced once at start-up. Each callback hands over to the adapter at once;
the adapter answers (or defers) within Discord's 3-second window before anything slow.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bots.discord.handlers import DiscordAdapter
from bots.discord.incoming import locale_of
from bots.discord.words import DiscordWords
from core.language import reply_language
from core.messages import say
from core.port import Action

log = logging.getLogger(__name__)


def command_tree(client: discord.Client, adapter: DiscordAdapter) -> app_commands.CommandTree[Any]:
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)

    @tree.command(name="video", description="Make a video from a prompt, in a new thread")
    @app_commands.describe(prompt="What the video should show")
    async def video(interaction: discord.Interaction[Any], prompt: str) -> None:
        await adapter.video_command(interaction, prompt)

    @tree.command(name="credits", description="Show the NemoVideo credits left")
    async def credits(interaction: discord.Interaction[Any]) -> None:
        await adapter.credits_command(interaction)

    @tree.command(name="status", description="Show this video's timeline")
    async def status(interaction: discord.Interaction[Any]) -> None:
        await adapter.thread_command(interaction, Action.STATUS)

    @tree.command(name="export", description="Render this video to an MP4")
    async def export(interaction: discord.Interaction[Any]) -> None:
        await adapter.thread_command(interaction, Action.EXPORT)

    @tree.error
    async def on_error(
        interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        log.error("slash command failed", exc_info=error)
        sorry = say(DiscordWords.SORRY, reply_language("", locale_of(interaction)))
        try:
            if interaction.response.is_done():
                await interaction.followup.send(sorry, ephemeral=True)
            else:
                await interaction.response.send_message(sorry, ephemeral=True)
        except discord.HTTPException:
            pass

    return tree
