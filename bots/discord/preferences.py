"""`/settings`: a form for the defaults of new videos (aspect, duration, style, language).

`scope:me` (the default) edits the user's own defaults in this server (or DMs); `scope:server`
edits the server's, which every member's own settings override field by field, and needs
**Manage Server**. The form opens prefilled with what is stored; an empty field clears that
setting. Values are checked by the engine's own parser (`parse_setting`), so the form accepts
exactly what `set aspect 9:16` accepts, and nothing is stored when one field is wrong.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import discord

from bots.discord.incoming import PLATFORM, locale_of
from bots.discord.words import DiscordWords
from core.engine.workflow import FIELD_NAMES, describe_defaults, parse_setting
from core.language import reply_language
from core.messages import Msg, say
from core.store.base import Defaults

SERVER = "server"
ME = "me"
FIELDS = ("aspect", "duration", "style", "language")
_LABELS = {
    "aspect": DiscordWords.FORM_ASPECT,
    "duration": DiscordWords.FORM_DURATION,
    "style": DiscordWords.FORM_STYLE,
    "language": DiscordWords.FORM_LANGUAGE,
}
_EXAMPLES = {"aspect": "16:9, 9:16, 1:1", "duration": "15", "style": "cinematic", "language": "en"}


@runtime_checkable
class DefaultsKeeper(Protocol):
    """The engine's door to stored defaults (user `""`: the server's)."""

    async def defaults(self, platform: str, tenant: str, user: str) -> Defaults: ...

    async def save_defaults(
        self, platform: str, tenant: str, user: str, value: Defaults
    ) -> None: ...


def _language(interaction: discord.Interaction[Any]) -> str:
    return reply_language("", locale_of(interaction))


class DefaultsForm(discord.ui.Modal):
    """One text box per setting, prefilled; submitted once, then gone (nothing to restore)."""

    def __init__(
        self, keeper: DefaultsKeeper, tenant: str, user: str, current: Defaults, language: str
    ) -> None:
        title = DiscordWords.FORM_SERVER_TITLE if not user else DiscordWords.FORM_TITLE
        super().__init__(title=say(title, language), timeout=900)
        self.keeper, self.tenant, self.user, self.language = keeper, tenant, user, language
        self.boxes: dict[str, discord.ui.TextInput[Any]] = {}
        for field in FIELDS:
            stored = getattr(current, field)
            box: discord.ui.TextInput[Any] = discord.ui.TextInput(
                label=say(_LABELS[field], language),
                placeholder=_EXAMPLES[field],
                default=str(stored) if stored is not None else None,
                required=False,
                max_length=40,
            )
            self.boxes[field] = box
            self.add_item(box)

    def parsed(self) -> tuple[Defaults, list[str]]:
        """The submitted defaults, and a line per field that does not parse."""
        values: dict[str, Any] = {}
        errors: list[str] = []
        for field, box in self.boxes.items():
            raw = (box.value or "").strip()
            if not raw:
                values[field] = None
                continue
            value, hint = parse_setting(field, raw)
            if value is None:
                errors.append(
                    say(
                        Msg.SETTING_BAD,
                        self.language,
                        value=raw[:40],
                        field=say(FIELD_NAMES[field], self.language),
                        hint=say(hint, self.language),
                    )
                )
            values[field] = value
        return dataclasses.replace(Defaults(), **values), errors

    async def on_submit(self, interaction: discord.Interaction[Any], /) -> None:
        defaults, errors = self.parsed()
        if errors:
            await interaction.response.send_message("\n".join(errors), ephemeral=True)
            return
        await self.keeper.save_defaults(PLATFORM, self.tenant, self.user, defaults)
        shown = describe_defaults(defaults)
        text = (
            say(DiscordWords.FORM_SAVED, self.language, values=shown)
            if shown
            else say(DiscordWords.FORM_CLEARED, self.language)
        )
        await interaction.response.send_message(text, ephemeral=True)


async def open_form(
    keeper: DefaultsKeeper | None, interaction: discord.Interaction[Any], tenant: str, scope: str
) -> None:
    """Answer `/settings` with the form, or say privately why not (no server, no permission)."""
    language = _language(interaction)
    if keeper is None:
        await interaction.response.send_message(say(DiscordWords.SORRY, language), ephemeral=True)
        return
    user = str(interaction.user.id)
    if scope == SERVER:
        if interaction.guild_id is None:
            word = DiscordWords.FORM_NO_SERVER
        elif not interaction.permissions.manage_guild:
            word = DiscordWords.FORM_NOT_MANAGER
        else:
            word = None
        if word is not None:
            await interaction.response.send_message(say(word, language), ephemeral=True)
            return
        user = ""
    current = await keeper.defaults(PLATFORM, tenant, user)
    await interaction.response.send_modal(DefaultsForm(keeper, tenant, user, current, language))
