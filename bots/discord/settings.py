"""The Discord adapter's settings, token shape and SDK loggers (imports no discord.py).

The environment names are CONTRACT.md's; a bad value is reported like any setting's, one line
naming the variable (`core.settings.load`).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from bots.base.adapter import AdapterSettings
from core.settings import AbsoluteUrl, env


class DiscordSettings(AdapterSettings):
    # The look-behind keeps the mask linear on a long run of letters (see `core.redact`).
    secret_patterns: ClassVar[tuple[str, ...]] = (
        r"(?<![\w-])[MN][A-Za-z\d]{23,}\.[\w-]{6}\.[\w-]{27,}",
    )
    loggers: ClassVar[tuple[str, ...]] = ("discord",)

    discord_token: SecretStr | None = Field(None, validation_alias=env("DISCORD_TOKEN"))
    discord_api_url: AbsoluteUrl = Field(
        "https://discord.com/api/v10", validation_alias=env("DISCORD_API_URL")
    )
    discord_gateway_url: AbsoluteUrl = Field(
        "wss://gateway.discord.gg/", validation_alias=env("DISCORD_GATEWAY_URL")
    )
    discord_shard_count: int | None = Field(None, ge=1, validation_alias=env("DISCORD_SHARD_COUNT"))
    discord_shard_ids: list[int] | None = Field(None, validation_alias=env("DISCORD_SHARD_IDS"))

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: object) -> object:
        """`0,1`, `[0, 1]` or a single number: the forms operators write in env files."""
        if isinstance(value, str):
            value = value.strip().strip("[]")
            return [int(part) for part in value.split(",") if part.strip()] if value else None
        if isinstance(value, int):
            return [value]
        return value

    @property
    def configured(self) -> bool:
        return self.discord_token is not None
