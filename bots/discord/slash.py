"""Slash commands, answered: where each one runs, and what it hands the engine.

Every command is acknowledged (deferred, or answered privately) within Discord's 3-second
window before anything slow. `/video` moves into a conversation the bot can keep: a DM, a
thread (or forum post) it owns, or, where it cannot post as itself (a user install, a channel
that shuts it out), the interaction's followups with the video by DM (`followups`). A
conversation started by `/video` then continues as ordinary thread messages, because
interaction tokens die after 15 minutes and renders can take longer.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

import discord

from bots.discord.followups import followup_key, posts_here
from bots.discord.forum import PostState, in_forum, state_tag
from bots.discord.handlers import THREAD_ARCHIVE_MINUTES, DiscordAdapter, said
from bots.discord.incoming import PLATFORM, dm_key, tenant_of, thread_key, thread_name
from bots.discord.preferences import DefaultsKeeper, open_form
from bots.discord.thread import NO_MENTIONS, InteractionThread
from bots.discord.words import DiscordWords
from core.port import Action, ChatThread, Incoming, ThreadKey

log = logging.getLogger(__name__)

STARTER_PROMPT_LIMIT = 1500


class SlashCommands:
    """The callbacks behind `commands.command_tree`, over one adapter."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        self.adapter = adapter

    async def video(self, interaction: discord.Interaction[Any], prompt: str) -> None:
        """`/video prompt:`: acknowledge now, then move into a conversation: a DM, a thread or
        forum post the bot owns, or (where it cannot post) followups with the video by DM."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        incoming = self.adapter.incoming_of(interaction, prompt)
        channel = interaction.channel
        if not posts_here(interaction):
            user_id = interaction.user.id
            key = followup_key(interaction.channel_id or user_id, user_id)
            await self.adapter.hand_over(self.adapter.followup_thread(key, interaction), incoming)
            await follow_up(interaction, DiscordWords.BY_DM, prompt)
            return
        if isinstance(channel, discord.DMChannel):
            await self._in(interaction, dm_key(channel.id, interaction.user.id), incoming)
            await follow_up(interaction, DiscordWords.ON_IT_HERE, prompt)
            return
        if isinstance(channel, discord.Thread):
            key = thread_key(channel.guild.id, channel.id)
            if not in_forum(channel) and not await self.adapter.owned(channel, key):
                await follow_up(interaction, DiscordWords.NESTED_THREAD, prompt)
                return
            await self._in(interaction, key, incoming)
            await follow_up(interaction, DiscordWords.ON_IT_BELOW, prompt)
            return
        if isinstance(channel, discord.ForumChannel):
            await self._forum_post(interaction, channel, incoming)
        elif isinstance(channel, discord.TextChannel | discord.VoiceChannel):
            await self._starter_thread(interaction, channel, incoming)
        else:
            await follow_up(interaction, DiscordWords.CHANNEL_KIND, prompt)

    def _asked(self, interaction: discord.Interaction[Any], prompt: str) -> str:
        shown = (
            prompt if len(prompt) <= STARTER_PROMPT_LIMIT else prompt[:STARTER_PROMPT_LIMIT] + "…"
        )
        return said(
            interaction, DiscordWords.ASKED, prompt, user=interaction.user.mention, prompt=shown
        )

    async def _starter_thread(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel | discord.VoiceChannel,
        incoming: Incoming,
    ) -> None:
        """A starter message saying who asked for what, and the thread opened from it."""

        async def opening() -> discord.Thread:
            starter = await channel.send(
                self._asked(interaction, incoming.text), allowed_mentions=NO_MENTIONS
            )
            return await starter.create_thread(
                name=thread_name(incoming.text), auto_archive_duration=THREAD_ARCHIVE_MINUTES
            )

        await self._start(interaction, incoming, opening(), DiscordWords.THREAD_PERMISSION)

    async def _forum_post(
        self, interaction: discord.Interaction[Any], forum: discord.ForumChannel, incoming: Incoming
    ) -> None:
        """A forum has no messages outside posts: the post is the thread, its first message
        says who asked, and it wears the forum's "working" tag where there is one."""
        working = state_tag(forum, PostState.WORKING)

        async def opening() -> discord.Thread:
            created = await forum.create_thread(
                name=thread_name(incoming.text),
                content=self._asked(interaction, incoming.text),
                applied_tags=[working] if working is not None else [],
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                allowed_mentions=NO_MENTIONS,
            )
            return created.thread

        await self._start(interaction, incoming, opening(), DiscordWords.FORUM_PERMISSION)

    async def _start(
        self,
        interaction: discord.Interaction[Any],
        incoming: Incoming,
        opening: Coroutine[Any, Any, discord.Thread],
        forbidden: DiscordWords,
    ) -> None:
        """Open the conversation's thread (or post), hand the prompt over there, link it; a
        refusal is said privately, in the words for what was refused."""
        prompt = incoming.text
        try:
            thread = await opening
        except discord.Forbidden:
            await follow_up(interaction, forbidden, prompt)
            return
        except discord.HTTPException as exc:
            log.warning("could not open a thread: HTTP %s (code %s)", exc.status, exc.code)
            await follow_up(interaction, DiscordWords.NO_THREAD, prompt)
            return
        await self._in(interaction, thread_key(thread.guild.id, thread.id), incoming)
        await follow_up(interaction, DiscordWords.YOUR_THREAD, prompt, thread=thread.mention)

    async def action(self, interaction: discord.Interaction[Any], action: Action) -> None:
        """`/status`, `/export`: only inside a conversation (a video thread, the DM session)."""
        await self.words(interaction, action.value, action, _ACK[action])

    async def words(
        self,
        interaction: discord.Interaction[Any],
        text: str,
        action: Action | None = None,
        ack: DiscordWords = DiscordWords.ON_IT_BELOW,
    ) -> None:
        """A command the engine knows as words (`versions`, `export v2`, `new`), sent as if
        typed in the conversation the interaction happened in; elsewhere, a private hint."""
        thread = await self._conversation_of(interaction)
        if thread is None:
            command = text.split()[0]
            await interaction.response.send_message(
                said(interaction, DiscordWords.NOT_IN_THREAD, command=command), ephemeral=True
            )
            return
        await interaction.response.send_message(said(interaction, ack), ephemeral=True)
        await self.adapter.hand_over(thread, self.adapter.incoming_of(interaction, text, action))

    async def settings(self, interaction: discord.Interaction[Any], scope: str) -> None:
        """`/settings`: the defaults form, for the user's tenant here (see `preferences`)."""
        guild_id = interaction.guild_id if posts_here(interaction) else None
        tenant = tenant_of(guild_id, interaction.user.id)
        keeper = self.adapter.engine if isinstance(self.adapter.engine, DefaultsKeeper) else None
        await open_form(keeper, interaction, tenant, scope)

    async def credits(self, interaction: discord.Interaction[Any]) -> None:
        """`/credits` in a video thread answers there; anywhere else, privately."""
        key = await self.adapter.video_thread_of(interaction)
        if key is not None:
            await interaction.response.send_message(
                said(interaction, _ACK[Action.CREDITS]), ephemeral=True
            )
            await self._in(
                interaction, key, self.adapter.incoming_of(interaction, "credits", Action.CREDITS)
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel_id = interaction.channel_id or interaction.user.id
        tenant = tenant_of(interaction.guild_id, interaction.user.id)
        # Not a conversation: a key no message can map to, so no session grows from it.
        key = ThreadKey(PLATFORM, tenant, f"credits-{channel_id}", str(channel_id))
        await self.adapter.hand_over(
            InteractionThread(key, interaction),
            self.adapter.incoming_of(interaction, "credits", Action.CREDITS),
        )

    async def _in(
        self, interaction: discord.Interaction[Any], key: ThreadKey, incoming: Incoming
    ) -> None:
        """Hand over in a thread that takes files as large as the interaction says."""
        thread = self.adapter.channel_thread(key, interaction.filesize_limit)
        await self.adapter.hand_over(thread, incoming)

    async def _conversation_of(self, interaction: discord.Interaction[Any]) -> ChatThread | None:
        """The conversation to answer in: where the bot cannot post, the user's followup
        conversation in this channel (with this interaction's fresh token)."""
        if not posts_here(interaction):
            user_id = interaction.user.id
            key = followup_key(interaction.channel_id or user_id, user_id)
            if not await self.adapter.engine.is_bot_thread(key):
                return None
            return self.adapter.followup_thread(key, interaction)
        found = await self.adapter.video_thread_of(interaction)
        if found is None:
            return None
        return self.adapter.channel_thread(found, interaction.filesize_limit)


async def follow_up(
    interaction: discord.Interaction[Any], key: DiscordWords, text: str, **values: Any
) -> None:
    """A private follow-up to a deferred interaction, in its language."""
    await interaction.followup.send(said(interaction, key, text, **values), ephemeral=True)


_ACK = {
    Action.EXPORT: DiscordWords.ACK_EXPORT,
    Action.STATUS: DiscordWords.ACK_STATUS,
    Action.CREDITS: DiscordWords.ACK_CREDITS,
}
