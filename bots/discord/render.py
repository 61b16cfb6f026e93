"""Replies as Discord messages: text within the 2,000-character limit, embeds where they help.

Only this module decides how a `Reply` looks on Discord. Credits become an embed with one
field per number; everything else is message text, because text is what people copy and
what search finds. Buttons ride on the last message of a reply.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bots.discord.markdown import MESSAGE_LIMIT, split_message, to_discord, width
from core.port import Action, Reply, ReplyKind

EMBED_COLOUR = discord.Colour(0x5865F2)
_BAR_CELLS = 10


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One Discord message to send."""

    content: str
    embeds: tuple[discord.Embed, ...] = ()
    buttons: tuple[Action, ...] = ()


def render(reply: Reply, limit: int = MESSAGE_LIMIT) -> list[Outgoing]:
    """The messages one reply becomes, in order; never empty."""
    text = to_discord(_text_of(reply))
    embeds = _embeds_of(reply)
    pieces = split_message(text, limit) or ([""] if embeds else ["\u200b"])
    messages = [Outgoing(content=piece) for piece in pieces[:-1]]
    messages.append(Outgoing(content=pieces[-1], embeds=embeds, buttons=reply.buttons))
    return messages


def render_edit(reply: Reply, limit: int = MESSAGE_LIMIT) -> Outgoing:
    """One message for an edit in place: progress is short, so a cut at the limit is safe."""
    text = to_discord(_text_of(reply))
    if width(text) > limit:
        text = split_message(text, limit - 1)[0].rstrip() + "…"
    return Outgoing(content=text or "\u200b", embeds=_embeds_of(reply), buttons=reply.buttons)


def _text_of(reply: Reply) -> str:
    lines = [reply.text.strip()] if reply.text.strip() else []
    if reply.kind is ReplyKind.STATUS and reply.progress is not None and "%" not in reply.text:
        lines = [" ".join([*lines, progress_bar(reply.progress)])]
    lines.extend(f"• {detail}" for detail in reply.details if detail.strip())
    if reply.video_url and reply.video_url not in reply.text:
        lines.append(reply.video_url)
    return "\n".join(lines)


def _embeds_of(reply: Reply) -> tuple[discord.Embed, ...]:
    if reply.kind is not ReplyKind.CREDITS or reply.balance is None:
        return ()
    balance = reply.balance
    embed = discord.Embed(title="Credits", colour=EMBED_COLOUR)
    embed.add_field(name="Available", value=_number(balance.available))
    embed.add_field(name="Frozen", value=_number(balance.frozen))
    embed.add_field(name="Total", value=_number(balance.grand_total))
    return (embed,)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def progress_bar(percent: float) -> str:
    """`▰▰▰▱▱▱▱▱▱▱ 30%`: render progress readable at a glance."""
    percent = min(max(percent, 0.0), 100.0)
    filled = round(percent / 100 * _BAR_CELLS)
    return "▰" * filled + "▱" * (_BAR_CELLS - filled) + f" {percent:.0f}%"
