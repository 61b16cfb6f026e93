"""Conversations where the bot cannot post: a user install, or a channel that shuts it out.

A user who added the app to their account can run `/video` in any server or DM, including where
the bot is no member (no bot user to post as) or has no Send Messages. There the only voice the
bot has is the interaction's followups, which die with its token after 15 minutes, while a
render can take longer. So the conversation runs through followups while a token is fresh
(each new command brings a new one), and the finished video goes to the user's DM, where the
bot can always write once the user allows it, token or not.

The conversation's key says so: `thread` is `u<user id>` (one conversation per user and
channel), `tenant` the user's own (`dm-<user id>`): the server never installed anything, so no
server token is spent. The resolver rebuilds it after a restart, then DM-only.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord

from bots.discord.incoming import PLATFORM, tenant_of
from bots.discord.thread import (
    DEFAULT_UPLOAD_LIMIT,
    DiscordThread,
    InteractionThread,
    refuse_files,
)
from bots.discord.words import DiscordWords
from core.messages import say
from core.port import Action, Attachment, Reply, ReplyKind, ThreadKey

log = logging.getLogger(__name__)

TOKEN_SECONDS = 15 * 60 - 30  # an interaction token's life, less a margin for the last call
DM_PREFIX = "dm-"  # message ids of what went to the DM, so `update` knows where to edit
_PREFIX = "u"


def followup_key(channel_id: int, user_id: int) -> ThreadKey:
    return ThreadKey(PLATFORM, tenant_of(None, user_id), str(channel_id), f"{_PREFIX}{user_id}")


def is_followup_key(key: ThreadKey) -> bool:
    return key.thread.startswith(_PREFIX)


def user_of(key: ThreadKey) -> int:
    return int(key.thread.removeprefix(_PREFIX))


def posts_here(interaction: discord.Interaction[Any]) -> bool:
    """Whether the bot can write in the interaction's channel as itself.

    Its own DM, yes; other DMs and group DMs (context 2), never: it is no member. In a server
    only when the server installed it (a bot member exists) and it may send messages there.
    """
    context = interaction.context
    if context.private_channel:
        return False
    if interaction.guild_id is None:
        return isinstance(interaction.channel, discord.DMChannel)
    if not interaction.is_guild_integration():
        return False
    permissions = interaction.app_permissions
    if isinstance(interaction.channel, discord.Thread):
        return permissions.send_messages_in_threads
    return permissions.send_messages and permissions.view_channel


class AsyncDirect:
    """The user's DM as a `DiscordThread`, opened on first use (opening it is a REST call)."""

    def __init__(self, client: discord.Client, user_id: int, build: Callable[[int, int], Any]):
        self._client, self._user_id, self._build = client, user_id, build
        self._thread: DiscordThread | None = None

    async def thread(self) -> DiscordThread:
        if self._thread is None:
            channel = await self._client.create_dm(discord.Object(self._user_id))
            self._thread = self._build(channel.id, self._user_id)
        return self._thread


class FollowUpThread:
    """`ChatThread` for a conversation the bot cannot post in (see the module docstring)."""

    def __init__(
        self,
        key: ThreadKey,
        direct: AsyncDirect,
        interaction: discord.Interaction[Any] | None = None,
    ) -> None:
        self.key = key
        self._direct = direct
        self._since = time.monotonic()
        # The followups themselves: what `/credits` answers with, the same token rules.
        self._private = InteractionThread(key, interaction) if interaction is not None else None

    @property
    def upload_limit(self) -> int:
        """The video goes to the DM, which takes what Discord allows any DM."""
        return DEFAULT_UPLOAD_LIMIT

    @property
    def followups(self) -> InteractionThread | None:
        """The followups while the token lives, else None."""
        if time.monotonic() - self._since >= TOKEN_SECONDS:
            return None
        return self._private

    async def post(self, reply: Reply) -> str:
        """Followups while the token lives; the video, and anything after it died, by DM."""
        private = self.followups
        if reply.kind is not ReplyKind.VIDEO and private is not None:
            try:
                return await private.post(reply)
            except discord.HTTPException as exc:  # the token died early: 401/404
                log.info("followup refused (HTTP %s); writing by DM", exc.status)
                self._private = private = None
        try:
            return DM_PREFIX + await (await self._direct.thread()).post(_for_dm(reply))
        except discord.Forbidden:  # the user takes no DMs from the app (code 50007)
            if private is None:
                raise
            note = say(DiscordWords.NO_DM, reply.language)
            shown = dataclasses.replace(reply, kind=ReplyKind.TEXT, details=(*reply.details, note))
            return await private.post(shown)

    async def update(self, message_id: str, reply: Reply) -> None:
        """Edit where the message went; a followup past its token's life is left as it was
        (progress is shown again by the next post)."""
        if message_id.startswith(DM_PREFIX):
            direct = await self._direct.thread()
            await direct.update(message_id.removeprefix(DM_PREFIX), reply)
        elif (private := self.followups) is not None:
            await private.update(message_id, reply)

    async def upload(
        self, filename: str, size: int, chunks: AsyncIterator[bytes], reply: Reply
    ) -> None:
        await (await self._direct.thread()).upload(filename, size, chunks, _for_dm(reply))

    async def set_busy(self, text: str | None) -> None:
        return None  # no typing indicator reaches a channel the bot is not in

    def open_attachment(self, attachment: Attachment, language: str = "en") -> AsyncIterator[bytes]:
        """Slash commands carry no files here; the same refusal as any private answer."""
        refuse_files(attachment, language)

    async def find_delivery(self, marker: str) -> bool:
        return await (await self._direct.thread()).find_delivery(marker)


def _for_dm(reply: Reply) -> Reply:
    """The DM is another conversation: a video card there keeps only the button that means the
    same in it (credits: the same tenant), and with it the marker `find_delivery` reads."""
    if reply.kind is not ReplyKind.VIDEO:
        return reply
    return dataclasses.replace(reply, buttons=(Action.CREDITS,))
