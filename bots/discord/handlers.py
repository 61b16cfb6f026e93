"""Discord events in, engine calls out: the glue between discord.py and the conversation engine.

Everything here returns quickly: the engine persists a message and schedules the work on its
own tasks, so the gateway's event loop is never held up by a backend turn. Slash commands are
acknowledged (deferred) before anything slow, because Discord drops an interaction that is not
answered within 3 seconds; a conversation started by `/video` then continues as ordinary
thread messages, because interaction tokens die after 15 minutes and renders can take longer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any, Literal

import discord

from bots.base.adapter import Engine, tell_not_stored
from bots.discord.files import DiscordFiles
from bots.discord.followups import (
    AsyncDirect,
    FollowUpThread,
    is_followup_key,
    user_of,
)
from bots.discord.forum import ForumTags, PostState, in_forum
from bots.discord.incoming import (
    MaybeTurn,
    NewThread,
    Turn,
    UnknownChannel,
    classify,
    dm_key,
    key_for_channel,
    locale_of,
    thread_key,
    thread_name,
)
from bots.discord.thread import (
    DEFAULT_UPLOAD_LIMIT,
    NO_MENTIONS,
    TYPING_SECONDS,
    DiscordThread,
    TypingIndicators,
)
from bots.discord.words import DiscordWords
from core.language import reply_language
from core.messages import say
from core.port import Action, Answer, ChatThread, Incoming, NotStored, ThreadKey

log = logging.getLogger(__name__)

THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # a day without messages


def said(
    interaction: discord.Interaction[Any], key: DiscordWords, text: str = "", **values: Any
) -> str:
    """`key` in the language of the interaction being answered: its words, else its locale."""
    return say(key, reply_language(text, locale_of(interaction)), **values)


class DiscordAdapter:
    """Routes Discord events to the engine and builds `DiscordThread`s for it.

    `attach` binds the client once it exists; `online` is set once REST works (after login),
    so a render resumed at start-up waits instead of failing on a client not yet logged in.
    """

    def __init__(
        self,
        engine: Engine,
        files: DiscordFiles,
        *,
        typing_seconds: float = TYPING_SECONDS,
    ) -> None:
        self.engine = engine
        self.files = files
        self.typing = TypingIndicators(typing_seconds)
        self.online = asyncio.Event()
        self._client: discord.Client | None = None
        self.tags: ForumTags | None = None

    def attach(self, client: discord.Client) -> None:
        self._client = client
        self.tags = ForumTags(client)

    @property
    def client(self) -> discord.Client:
        if self._client is None:
            raise RuntimeError("the Discord adapter has no client yet")
        return self._client

    async def close(self) -> None:
        await self.typing.close()

    # -- the port --------------------------------------------------------------------------

    def thread(self, key: ThreadKey) -> DiscordThread | FollowUpThread:
        """The `ChatThread` for a stored key; the resolver registered with the engine."""
        if is_followup_key(key):
            return self.followup_thread(key)
        return self.channel_thread(key)

    def followup_thread(
        self, key: ThreadKey, interaction: discord.Interaction[Any] | None = None
    ) -> FollowUpThread:
        """A conversation the bot cannot post in; without an interaction, DM-only."""
        direct = AsyncDirect(
            self.client,
            user_of(key),
            lambda channel, user: self.channel_thread(dm_key(channel, user)),
        )
        return FollowUpThread(key, direct, interaction)

    def channel_thread(self, key: ThreadKey, upload_limit: int | None = None) -> DiscordThread:
        """A thread or DM the bot writes in as itself. `upload_limit`: what an interaction
        there said Discord accepts (`Interaction.filesize_limit`), else the guild's."""
        guild_id = None if key.tenant.startswith("dm-") else int(key.tenant)
        channel = self.client.get_partial_messageable(int(key.thread), guild_id=guild_id)
        return DiscordThread(
            key,
            channel,
            upload_limit=upload_limit if upload_limit else self.upload_limit(guild_id),
            typing=self.typing,
            files=self.files,
            online=self.online,
            tags=self.tags,
        )

    def upload_limit(self, guild_id: int | None) -> int:
        """What Discord says the guild takes (`guild.filesize_limit`: 10 MiB, more with boosts);
        DMs and guilds not cached get discord.py's default."""
        guild = self.client.get_guild(guild_id) if guild_id is not None else None
        return guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT

    # -- messages --------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        me = self.client.user
        if me is None:
            return
        route = classify(message, me)
        if isinstance(route, Turn):
            await self.handle_in(route.key, route.incoming)
            if self.tags is not None and in_forum(message.channel):  # a post at work again
                await self.tags.mark(message.channel.id, PostState.WORKING)
        elif isinstance(route, MaybeTurn):
            if await self.engine.is_bot_thread(route.key):
                await self.handle_in(route.key, route.incoming)
        elif isinstance(route, UnknownChannel):
            await self._unknown_channel(message, route, me)
        elif isinstance(route, NewThread):
            await self._open_thread(message, route)

    async def _unknown_channel(
        self, message: discord.Message, route: UnknownChannel, me: discord.ClientUser
    ) -> None:
        """An uncached channel: one of our threads (the store knows, or Discord says who owns
        it), or a channel where a mention opens a thread."""
        if await self.engine.is_bot_thread(route.key):
            await self.handle_in(route.key, route.incoming)
            return
        try:
            channel: object = await self.client.fetch_channel(int(route.key.thread))
        except discord.HTTPException as exc:
            log.warning("could not look up a channel: HTTP %s", exc.status)
            channel = None
        if isinstance(channel, discord.Thread):
            if channel.owner_id == me.id:
                await self.handle_in(route.key, route.incoming)
        elif route.mentioned:
            name = thread_name(route.incoming.text)
            guild_id = int(route.key.tenant)
            await self._open_thread(message, NewThread(guild_id, name, route.incoming))

    async def _open_thread(self, message: discord.Message, route: NewThread) -> None:
        try:
            if message.guild is not None:
                thread_id = (
                    await message.create_thread(
                        name=route.name, auto_archive_duration=THREAD_ARCHIVE_MINUTES
                    )
                ).id
            else:  # the guild is not cached: the same REST call, without discord.py's check
                created = await self.client.http.start_thread_with_message(
                    message.channel.id,
                    message.id,
                    name=route.name,
                    auto_archive_duration=THREAD_ARCHIVE_MINUTES,
                )
                thread_id = int(created["id"])
        except discord.Forbidden:
            text = say(DiscordWords.THREAD_PERMISSION, _language(route.incoming))
            await self._say(message.channel, text, reference=message)
            return
        except discord.HTTPException as exc:
            if exc.code != 160004:  # "A thread has already been created for this message"
                log.warning("could not open a thread: HTTP %s (code %s)", exc.status, exc.code)
                text = say(DiscordWords.NO_THREAD, _language(route.incoming))
                await self._say(message.channel, text, reference=message)
                return
            # A redelivered message: the thread exists and, made from a message, has its id.
            thread_id = message.id
        await self.handle_in(thread_key(route.guild_id, thread_id), route.incoming)

    async def handle_in(self, key: ThreadKey, incoming: Incoming) -> None:
        await self.hand_over(self.thread(key), incoming)

    async def hand_over(self, thread: ChatThread, incoming: Incoming) -> None:
        """Discord never redelivers a message: one the store refused is answered with an error."""
        try:
            await self.engine.handle(thread, incoming)
        except NotStored:
            await tell_not_stored(thread, incoming)

    async def _say(
        self,
        channel: discord.abc.Messageable,
        text: str,
        *,
        reference: discord.Message | None = None,
    ) -> None:
        try:
            if reference is not None:
                await channel.send(
                    text, reference=reference, mention_author=False, allowed_mentions=NO_MENTIONS
                )
            else:
                await channel.send(text, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("could not tell the user: HTTP %s", exc.status)

    # -- buttons ---------------------------------------------------------------------------

    async def button(
        self, interaction: discord.Interaction[Any], action: Action, thread_id: int
    ) -> None:
        """A click answers only in the thread its message lives in."""
        await self.clicked(interaction, thread_id, action.value, action=action)

    async def answer(
        self, interaction: discord.Interaction[Any], thread_id: int, answer: Answer
    ) -> None:
        """A click on a question's option: the engine's answer, in the question's thread."""
        await self.clicked(interaction, thread_id, "", answer=answer)

    async def clicked(
        self,
        interaction: discord.Interaction[Any],
        thread_id: int,
        text: str,
        *,
        action: Action | None = None,
        answer: Answer | None = None,
    ) -> None:
        key = await self.video_thread_of(interaction)
        if interaction.channel_id != thread_id or key is None:
            await interaction.response.send_message(
                said(interaction, DiscordWords.OTHER_THREAD), ephemeral=True
            )
            return
        await interaction.response.defer()
        incoming = dataclasses.replace(self.incoming_of(interaction, text, action), answer=answer)
        await self.hand_over(self.thread(key), incoming)

    # -- helpers ---------------------------------------------------------------------------

    async def video_thread_of(self, interaction: discord.Interaction[Any]) -> ThreadKey | None:
        """The conversation an interaction happened in: a DM, or a thread the bot owns."""
        channel = interaction.channel
        key = key_for_channel(channel, interaction.user.id)
        if isinstance(channel, discord.Thread) and key is not None:
            return key if await self.owned(channel, key) else None
        return key

    async def owned(self, channel: discord.Thread, key: ThreadKey) -> bool:
        me = self.client.user
        if me is not None and channel.owner_id == me.id:
            return True
        return await self.engine.is_bot_thread(key)

    @staticmethod
    def incoming_of(
        interaction: discord.Interaction[Any], text: str, action: Action | None = None
    ) -> Incoming:
        return Incoming(
            text=text,
            user=str(interaction.user.id),
            locale=locale_of(interaction),
            event_id=str(interaction.id),
            action=action,
        )


def _language(incoming: Incoming) -> str:
    return reply_language(incoming.text, incoming.locale)
