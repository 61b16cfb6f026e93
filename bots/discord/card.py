"""A delivered video as a Components V2 card: the player, what it is, and what to do next.

Discord shows a media gallery as an inline player, so the MP4 plays in the thread: from the
attachment (`attachment://<name>`) when the file fit the upload limit, else from its URL. The
card's words (the ready line with the link, the timeline summary and the task detail link)
are text displays, readable and searchable like any message; the buttons follow in an action
row and carry the delivery marker, which `find_delivery` looks for after a crash mid-post.

A message flagged `IS_COMPONENTS_V2` takes no `content` or embeds, and all its text displays
together hold at most 4,000 characters, so the text is cut to fit rather than refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import discord

from bots.discord.buttons import ActionButton
from bots.discord.markdown import to_discord
from core.port import Reply

CARD_TEXT_LIMIT = 4000  # every text display of one message together
_HEAD_LIMIT = 2000
ACCENT = 0x5865F2  # Discord's blurple: the card reads as the bot's own


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def card_texts(reply: Reply) -> tuple[str, str]:
    """The card's head (the ready line, with the link) and its detail lines, within limits."""
    head = to_discord(reply.text.strip()) or "\u200b"
    url = reply.video_url
    if url and url not in head:
        head = f"{_cut(head, _HEAD_LIMIT - len(url) - 1)}\n{url}"
    elif len(head) > _HEAD_LIMIT:  # the link is in the text: keep it whole, cut around it
        head = _cut(head.replace(url or "\0", ""), _HEAD_LIMIT - len(url or "") - 1)
        head = f"{head}\n{url}" if url else head
    details = "\n".join(f"• {to_discord(d.strip())}" for d in reply.details if d.strip())
    return head, _cut(details, CARD_TEXT_LIMIT - len(head))


def video_card(
    reply: Reply,
    thread_id: int,
    *,
    media: str | None = None,
    poster: str | None = None,
) -> discord.ui.LayoutView:
    """The card for a `ReplyKind.VIDEO` reply. `media` is what the gallery plays (the URL, or
    `attachment://name` once the file is attached); `poster` a thumbnail beside the head."""
    head, details = card_texts(reply)
    top: discord.ui.Item[Any] = discord.ui.TextDisplay(head)
    if poster:
        top = discord.ui.Section(head, accessory=discord.ui.Thumbnail(poster))
    parts: list[discord.ui.Item[Any]] = [top]
    source = media or reply.video_url
    if source:
        parts.append(discord.ui.MediaGallery(discord.MediaGalleryItem(source)))
    if details:
        parts.append(discord.ui.TextDisplay(details))
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(discord.ui.Container(*parts, accent_colour=ACCENT))
    if reply.buttons:
        row: discord.ui.ActionRow[Any] = discord.ui.ActionRow()
        for action in reply.buttons:
            row.add_item(ActionButton(action, thread_id, reply.marker, reply.language))
        view.add_item(row)
    return view


def custom_ids(components: Sequence[Any]) -> Iterator[str]:
    """Every button `custom_id` in a message's components, however deeply nested (action rows
    in a container, a button beside a section)."""
    for component in components:
        found = getattr(component, "custom_id", None)
        if isinstance(found, str):
            yield found
        accessory = getattr(component, "accessory", None)
        if accessory is not None:
            yield from custom_ids([accessory])
        yield from custom_ids(getattr(component, "children", ()))
