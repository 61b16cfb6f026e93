"""Forum channels (type 15): every post is a thread, so a post is a conversation.

`/video` in a forum opens a post named after the prompt (Discord's `POST /channels/{id}/threads`
with a starter `message`; a forum has no messages outside posts), and a user's own post that
mentions the bot is a conversation too. Where the forum has tags named for a state ("working",
"ready", a few synonyms, any case), the post wears the current one: applied at the start and
swapped on delivery, best effort. Setting tags needs the post's owner or Manage Threads; a
refusal is logged and changes nothing else.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

import discord

MAX_TAGS = 5  # Discord's limit of tags on one post


class PostState(StrEnum):
    WORKING = "working"
    READY = "ready"


TAG_NAMES: dict[PostState, frozenset[str]] = {
    PostState.WORKING: frozenset({"working", "in progress", "rendering", "制作中"}),
    PostState.READY: frozenset({"ready", "done", "finished", "完成"}),
}
_EVERY_STATE = frozenset().union(*TAG_NAMES.values())

log = logging.getLogger(__name__)


def state_tag(forum: discord.ForumChannel, state: PostState) -> discord.ForumTag | None:
    """The forum's tag for `state`, when it has one."""
    wanted = TAG_NAMES[state]
    return next((t for t in forum.available_tags if t.name.strip().casefold() in wanted), None)


def retagged(post: discord.Thread, tag: discord.ForumTag) -> list[discord.ForumTag]:
    """The post's tags with every state tag replaced by `tag` (other tags kept, 5 at most)."""
    kept = [t for t in post.applied_tags if t.name.strip().casefold() not in _EVERY_STATE]
    return [*kept[: MAX_TAGS - 1], tag]


def in_forum(channel: object) -> bool:
    """A thread that is a forum post (its parent cached as a `ForumChannel`)."""
    return isinstance(channel, discord.Thread) and isinstance(channel.parent, discord.ForumChannel)


class ForumTags:
    """Moves a post's state tag; knows nothing of the engine (a delivery says `READY`)."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def mark(self, thread_id: int, state: PostState) -> None:
        """Best effort: no forum, no such tag, or no permission leaves the post as it is."""
        post: Any = self._client.get_channel(thread_id)
        if post is None:
            return  # not a cached thread: not worth a REST call for a tag
        if not in_forum(post):
            return
        tag = state_tag(post.parent, state)
        if tag is None or tag in post.applied_tags:
            return
        try:
            await post.edit(applied_tags=retagged(post, tag))
        except discord.HTTPException as exc:
            log.info("could not tag a forum post: HTTP %s (code %s)", exc.status, exc.code)
