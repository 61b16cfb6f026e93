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
from core.port import Action

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


def button_view(
    actions: tuple[Action, ...],
    thread_id: int,
    *,
    marker: str | None = None,
    language: str = "en",
) -> discord.ui.View:
    """A view with one button per action (none: an empty view, which clears old buttons)."""
    view = discord.ui.View(timeout=None)
    for action in actions:
        view.add_item(ActionButton(action, thread_id, marker, language))
    return view
