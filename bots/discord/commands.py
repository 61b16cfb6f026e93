"""The slash commands: `/video prompt:`, `/credits`, `/status`, `/export [version:]`,
`/versions`, `/videos`, `/new`, `/settings [scope:]`.

Global commands, synced once at start-up, for both kinds of install (`integration_types` 0, a
server that added the bot, and 1, a user who added the app to their account) and every place a
command can run (`contexts` 0 a server, 1 the bot's DM, 2 other DMs and group DMs): the tree's
defaults say so once for all of them. Each callback hands over to the adapter at once; the
adapter answers (or defers) within Discord's 3-second window before anything slow. The
conversation commands send the engine the same words a user could type (`versions`,
`export v2`), so every surface means the same thing by them.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bots.discord.handlers import DiscordAdapter
from bots.discord.incoming import locale_of
from bots.discord.preferences import ME, SERVER
from bots.discord.slash import SlashCommands
from bots.discord.words import DiscordWords
from core.language import reply_language
from core.messages import say
from core.port import Action

log = logging.getLogger(__name__)


EVERY_INSTALL = app_commands.AppInstallationType(guild=True, user=True)
EVERY_CONTEXT = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True)


def command_tree(client: discord.Client, adapter: DiscordAdapter) -> app_commands.CommandTree[Any]:
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(
        client, allowed_installs=EVERY_INSTALL, allowed_contexts=EVERY_CONTEXT
    )
    slash = SlashCommands(adapter)

    @tree.command(name="video", description="Make a video from a prompt, in a new thread")
    @app_commands.describe(prompt="What the video should show")
    async def video(interaction: discord.Interaction[Any], prompt: str) -> None:
        await slash.video(interaction, prompt)

    @tree.command(name="credits", description="Show the NemoVideo credits left")
    async def credits(interaction: discord.Interaction[Any]) -> None:
        await slash.credits(interaction)

    @tree.command(name="status", description="Show this video's timeline")
    async def status(interaction: discord.Interaction[Any]) -> None:
        await slash.action(interaction, Action.STATUS)

    @tree.command(name="export", description="Render this video (or one of its versions) to an MP4")
    @app_commands.describe(version="A version from /versions; leave out for the current one")
    async def export(
        interaction: discord.Interaction[Any],
        version: app_commands.Range[int, 1, 999999] | None = None,
    ) -> None:
        if version is None:
            await slash.action(interaction, Action.EXPORT)
        else:
            await slash.words(interaction, f"export v{version}")

    _conversation_commands(tree, slash)

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


def _conversation_commands(tree: app_commands.CommandTree[Any], slash: SlashCommands) -> None:
    """The commands that are words the engine already knows, and the settings form."""

    @tree.command(name="versions", description="List this video's versions")
    async def versions(interaction: discord.Interaction[Any]) -> None:
        await slash.words(interaction, "versions")

    @tree.command(name="videos", description="List the videos delivered in this conversation")
    async def videos(interaction: discord.Interaction[Any]) -> None:
        await slash.words(interaction, "videos")

    @tree.command(name="new", description="Start a new video in this conversation")
    async def new(interaction: discord.Interaction[Any]) -> None:
        await slash.words(interaction, "new")

    @tree.command(name="settings", description="Your defaults for new videos (or the server's)")
    @app_commands.describe(scope="Yours, or the whole server's (needs Manage Server)")
    @app_commands.choices(
        scope=[
            app_commands.Choice(name="me", value=ME),
            app_commands.Choice(name="server", value=SERVER),
        ]
    )
    async def settings(
        interaction: discord.Interaction[Any], scope: app_commands.Choice[str] | None = None
    ) -> None:
        await slash.settings(interaction, scope.value if scope is not None else ME)
