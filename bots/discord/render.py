"""Replies as Discord messages: markdown Discord renders, within the 2,000-character limit.

Only this module decides how a `Reply` looks on Discord. Everything is message text (what
people copy, what search finds, what screen readers read); the timeline's lines become a
bulleted list, render progress a bar, and buttons ride on the last message of a reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from bots.discord.markdown import MESSAGE_LIMIT, split_message, to_discord, width
from core.port import Action, Reply, ReplyKind
from core.redact import CUT_NOTE, cut

_BAR_CELLS = 10
MAX_ROWS = 5  # action rows on one message
ROW_BUTTONS = 5
MAX_MESSAGES = 4  # messages one reply may become (4 x 2,000 characters)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One Discord message to send."""

    content: str
    buttons: tuple[Action, ...] = ()
    language: str = "en"  # the reply's: the buttons are labelled in it
    choices: tuple[str, ...] = ()  # a question's options drawn as buttons (labels), in order
    question_id: str | None = None


def render(reply: Reply, limit: int = MESSAGE_LIMIT) -> list[Outgoing]:
    """The messages one reply becomes, in order; never empty. Buttons go on the last.
    At most `MAX_MESSAGES`: the text is cut to what they hold before it is split (so the work
    is bounded), and what still does not fit ends in a "(cut)" note."""
    text = cut(_text_of(reply), MAX_MESSAGES * limit)
    pieces = split_message(to_discord(text), limit) or ["\u200b"]
    if len(pieces) > MAX_MESSAGES or text.endswith(CUT_NOTE):
        pieces = pieces[:MAX_MESSAGES]
        room = limit - len(CUT_NOTE)
        last = pieces[-1].removesuffix(CUT_NOTE)[:room]
        if width(last) > room:  # astral characters count twice
            last = last[: room // 2]
        pieces[-1] = last.rstrip() + CUT_NOTE
    messages = [Outgoing(content=piece) for piece in pieces[:-1]]
    messages.append(
        Outgoing(
            content=pieces[-1],
            buttons=reply.buttons,
            language=reply.language,
            choices=drawn_choices(reply),
            question_id=reply.question_id if reply.choices else None,
        )
    )
    return messages


def drawn_choices(reply: Reply) -> tuple[str, ...]:
    """The options that get a button: 5 a row, in the rows the action buttons leave (Discord
    allows 5 rows); the rest stay numbered lines in the text."""
    if not reply.choices or not reply.question_id:
        return ()
    rows = MAX_ROWS - (1 if reply.buttons else 0)
    return tuple(c.label for c in reply.choices[: rows * ROW_BUTTONS])


def _text_of(reply: Reply) -> str:
    lines = [reply.text.strip()] if reply.text.strip() else []
    if reply.kind is ReplyKind.STATUS and reply.progress is not None and "%" not in reply.text:
        lines = [" ".join([*lines, progress_bar(reply.progress)])]
    drawn = len(drawn_choices(reply))
    details = reply.details_without_choices if drawn else reply.details
    lines.extend(f"• {detail}" for detail in details if detail.strip())
    numbered = reply.details[len(reply.details) - len(reply.choices) :] if drawn else ()
    lines.extend(line for line in numbered[drawn:] if line.strip())  # not drawn: as text
    if reply.video_url and reply.video_url not in reply.text:
        lines.append(reply.video_url)
    return "\n".join(lines)


def progress_bar(percent: float) -> str:
    """`▰▰▰▱▱▱▱▱▱▱ 30%`: render progress readable at a glance."""
    percent = min(max(percent, 0.0), 100.0)
    filled = round(percent / 100 * _BAR_CELLS)
    return "▰" * filled + "▱" * (_BAR_CELLS - filled) + f" {percent:.0f}%"
