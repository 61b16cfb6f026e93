"""Export / Status / Credits buttons that survive restarts.

Each button's `custom_id` carries its action and the thread it was posted in
(`jupiter:export:<thread id>`), and the class is registered with `Client.add_dynamic_items`,
so a click on a message posted before a restart (or by another replica) still reaches a
handler: no view state lives in memory. The thread id lets a click answer only where it
belongs. A delivered video's buttons also carry its render id (`jupiter:status:<thread>:<render
id>`), the marker `DiscordThread.find_delivery` looks for after a crash mid-post.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Self

import discord

from bots.base.words import LABELS
from core.messages import say
from core.port import Action, Answer

_ACTIONS = "|".join(re.escape(action.value) for action in Action)
MARKER = r"[A-Za-z0-9_.-]{1,60}"
TEMPLATE = rf"jupiter:(?P<action>{_ACTIONS}):(?P<thread>[0-9]+)(?::(?P<marker>{MARKER}))?"

_LOOK: dict[Action, tuple[str, discord.ButtonStyle]] = {
    Action.EXPORT: ("🎬", discord.ButtonStyle.primary),
    Action.STATUS: ("📋", discord.ButtonStyle.secondary),
    Action.CREDITS: ("💳", discord.ButtonStyle.secondary),
    Action.RETRY: ("🔁", discord.ButtonStyle.primary),
}

ButtonHandler = Callable[[discord.Interaction[Any], Action, int], Awaitable[None]]
AnswerHandler = Callable[[discord.Interaction[Any], int, Answer], Awaitable[None]]
ANSWER_TEMPLATE = (
    rf"jupiter:answer:(?P<thread>[0-9]+):(?P<question>{MARKER}):(?P<option>[0-9]{{1,3}})"
)
LABEL_LIMIT = 80  # Discord's limit on a button label


def custom_id(action: Action, thread_id: int, marker: str | None = None) -> str:
    tail = f":{marker}" if marker and re.fullmatch(MARKER, marker) else ""
    return f"jupiter:{action.value}:{thread_id}{tail}"


def carries(custom: str, marker: str) -> bool:
    """Whether a button's `custom_id` carries the delivery `marker`."""
    found = re.fullmatch(TEMPLATE, custom)
    return found is not None and found["marker"] == marker


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=TEMPLATE):
    def __init__(
        self, action: Action, thread_id: int, marker: str | None = None, language: str = "en"
    ) -> None:
        emoji, style = _LOOK[action]
        label = say(LABELS[action], language)
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji=emoji,
                style=style,
                custom_id=custom_id(action, thread_id, marker),
            )
        )
        self.action = action
        self.thread_id = thread_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(Action(match["action"]), int(match["thread"]), match["marker"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler: ButtonHandler | None = getattr(interaction.client, "on_jupiter_button", None)
        if handler is not None:
            await handler(interaction, self.action, self.thread_id)


class ChoiceButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ANSWER_TEMPLATE):
    """One option of a question the agent asked; the click sends `Answer(question, option)`
    and the engine looks the label up (so a cut label still answers with the whole one)."""

    def __init__(self, thread_id: int, question_id: str, option: int, label: str = "") -> None:
        shown = label if len(label) <= LABEL_LIMIT else label[: LABEL_LIMIT - 1] + "…"
        super().__init__(
            discord.ui.Button(
                label=shown or str(option + 1),
                style=discord.ButtonStyle.secondary,
                custom_id=f"jupiter:answer:{thread_id}:{question_id}:{option}",
            )
        )
        self.thread_id, self.answer = thread_id, Answer(question_id, option)

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(int(match["thread"]), match["question"], int(match["option"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler: AnswerHandler | None = getattr(interaction.client, "on_jupiter_answer", None)
        if handler is not None:
            await handler(interaction, self.thread_id, self.answer)


def button_view(
    actions: tuple[Action, ...],
    thread_id: int,
    *,
    marker: str | None = None,
    language: str = "en",
    choices: tuple[str, ...] = (),
    question_id: str | None = None,
) -> discord.ui.View:
    """A view with one button per action (none: an empty view, which clears old buttons), and
    a question's options after them, 5 a row."""
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(ActionButton(action, thread_id, marker, language))
    if question_id and re.fullmatch(MARKER, question_id):
        first_row = 1 if actions else 0
        for option, label in enumerate(choices):
            button = ChoiceButton(thread_id, question_id, option, label)
            button.row = first_row + option // 5
            view.add_item(button)
    return view
