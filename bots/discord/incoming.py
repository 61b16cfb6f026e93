"""Discord messages and interactions as core values: which conversation, and what was said.

Pure functions over discord.py objects: no IO, so the routing rules (ignore bots, a mention in a
channel opens a thread, a thread message is the next turn) are testable from payloads alone.
Ownership of a thread needs the store (`Engine.is_bot_thread`), so `classify` only says which
question to ask; the adapter asks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord

from bots.discord.words import DiscordWords
from core.messages import say
from core.port import Attachment, Incoming, ThreadKey

PLATFORM = "discord"
THREAD_NAME_LIMIT = 100
DEFAULT_THREAD_NAME = say(DiscordWords.THREAD_NAME)

_CONVERSATION_TYPES = (discord.MessageType.default, discord.MessageType.reply)
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")
_CUSTOM_EMOJI = re.compile(r"<a?:(\w+):\d+>")
_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::[tTdDfFR])?>")
_NAME_NOISE = re.compile(r"[`*_~|>\[\]]+|^#+\s+")


@dataclass(frozen=True, slots=True)
class Turn:
    """The next turn in a conversation that exists (a DM, or a thread the bot owns)."""

    key: ThreadKey
    incoming: Incoming


@dataclass(frozen=True, slots=True)
class MaybeTurn:
    """A message in a thread the bot did not create: a turn only if the store knows the thread."""

    key: ThreadKey
    incoming: Incoming


@dataclass(frozen=True, slots=True)
class UnknownChannel:
    """A guild channel discord.py has not cached (say, a thread from before a restart that
    GUILD_CREATE left out): the store, or else Discord, says what it is."""

    key: ThreadKey  # as if it were a thread
    incoming: Incoming
    mentioned: bool


@dataclass(frozen=True, slots=True)
class NewThread:
    """A mention in a channel: open a thread from the message, named `name`, and start there."""

    guild_id: int
    name: str
    incoming: Incoming


Route = Turn | MaybeTurn | UnknownChannel | NewThread


def tenant_of(guild_id: int | None, user_id: int) -> str:
    """A guild is one tenant; a DM belongs to the user who wrote it."""
    return str(guild_id) if guild_id is not None else f"dm-{user_id}"


def dm_key(channel_id: int, user_id: int) -> ThreadKey:
    return ThreadKey(PLATFORM, tenant_of(None, user_id), str(channel_id), str(channel_id))


def thread_key(guild_id: int, thread_id: int) -> ThreadKey:
    """A Discord thread is a channel of its own, so `channel` and `thread` are both its id:
    the key follows from a message's channel alone, with no lookup of the parent."""
    return ThreadKey(PLATFORM, str(guild_id), str(thread_id), str(thread_id))


def key_for_channel(channel: object, user_id: int) -> ThreadKey | None:
    """The conversation a channel is: a DM or a thread; None for anything else."""
    if isinstance(channel, discord.DMChannel):
        return dm_key(channel.id, user_id)
    if isinstance(channel, discord.Thread):
        return thread_key(channel.guild.id, channel.id)
    return None


def plain_text(message: discord.Message, bot_id: int) -> str:
    """The message as a prompt: the bot's own mention removed, other mentions as readable names.

    Names rather than `<@123>` ids, because the backend sees only the text; raw @everyone stays
    text (nothing the bot sends can ping: allowed mentions are off everywhere).
    """
    names = {user.id: user.display_name for user in message.mentions}
    roles = {role.id: role.name for role in message.role_mentions}
    guild = message.guild

    def user(match: re.Match[str]) -> str:
        user_id = int(match.group(1))
        if user_id == bot_id:
            return ""
        return "@" + names.get(user_id, "someone")

    def role(match: re.Match[str]) -> str:
        return "@" + roles.get(int(match.group(1)), "role")

    def channel(match: re.Match[str]) -> str:
        found = guild.get_channel_or_thread(int(match.group(1))) if guild is not None else None
        return "#" + (found.name if found is not None else "channel")

    text = _USER_MENTION.sub(user, message.content)
    text = _ROLE_MENTION.sub(role, text)
    text = _CHANNEL_MENTION.sub(channel, text)
    text = _CUSTOM_EMOJI.sub(r":\1:", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def attachment_of(attachment: discord.Attachment) -> Attachment:
    """The CDN URL (with its signed query string) is what `open_attachment` streams later."""
    return Attachment(
        filename=attachment.filename,
        size=attachment.size,
        source=attachment.url,
        content_type=attachment.content_type,
    )


def incoming_from_message(message: discord.Message, bot_id: int) -> Incoming:
    return Incoming(
        text=plain_text(message, bot_id),
        attachments=tuple(attachment_of(a) for a in message.attachments),
        user=str(message.author.id),
        event_id=str(message.id),
    )


def mentions_bot(message: discord.Message, bot: discord.abc.User) -> bool:
    """A direct mention of the bot; not @everyone or a role, which `mentioned_in` would count."""
    return bot in message.mentions  # users compare by id


def classify(message: discord.Message, bot: discord.abc.User) -> Route | None:
    """What a message means for the bot, or None when it is not the bot's business."""
    if message.author.bot or message.author.id == bot.id or message.webhook_id is not None:
        return None
    if message.type not in _CONVERSATION_TYPES:
        return None
    if not message.content.strip() and not message.attachments:
        return None
    channel = message.channel
    incoming = incoming_from_message(message, bot.id)
    if isinstance(channel, discord.DMChannel):
        return Turn(dm_key(channel.id, message.author.id), incoming)
    if isinstance(channel, discord.PartialMessageable):
        if channel.guild_id is None:
            return Turn(dm_key(channel.id, message.author.id), incoming)
        key = thread_key(channel.guild_id, channel.id)
        return UnknownChannel(key, incoming, mentions_bot(message, bot))
    if message.guild is None:
        return None  # group DMs: bots are never in them
    if isinstance(channel, discord.Thread):
        key = thread_key(message.guild.id, channel.id)
        if channel.owner_id == bot.id:
            return Turn(key, incoming)
        if isinstance(channel.parent, discord.ForumChannel) and mentions_bot(message, bot):
            return Turn(key, incoming)  # a forum post that asks the bot: the post is the thread
        return MaybeTurn(key, incoming)
    if mentions_bot(message, bot):
        return NewThread(message.guild.id, thread_name(incoming.text), incoming)
    return None


def thread_name(prompt: str) -> str:
    """A thread title from a prompt: one line, no markup or mention syntax, at most 100 chars."""
    text = _USER_MENTION.sub("", prompt)
    text = _ROLE_MENTION.sub("", text)
    text = _CHANNEL_MENTION.sub("", text)
    text = _CUSTOM_EMOJI.sub(r"\1", text)
    text = _TIMESTAMP.sub("", text)
    text = re.sub(r"https?://\S+", "", text)
    text = _NAME_NOISE.sub("", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    if not text:
        return DEFAULT_THREAD_NAME
    if len(text) <= THREAD_NAME_LIMIT:
        return text
    cut = text[: THREAD_NAME_LIMIT - 1]
    space = cut.rfind(" ")
    if space >= THREAD_NAME_LIMIT // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def locale_of(interaction: discord.Interaction[discord.Client]) -> str | None:
    """The user's client language, else the guild's; Discord always sends one of them."""
    for locale in (interaction.locale, interaction.guild_locale):
        if locale is not None:
            return str(locale)
    return None
