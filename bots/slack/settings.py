"""The Slack adapter's settings, token shapes and SDK loggers (imports no Slack SDK).

The environment names are CONTRACT.md's; a bad value is reported like any setting's, one line
naming the variable (`core.settings.load`).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from bots.base.adapter import AdapterSettings
from core.settings import AbsoluteUrl, env


class SlackSettings(AdapterSettings):
    secret_patterns: ClassVar[tuple[str, ...]] = (
        r"xox[abprs]-[A-Za-z0-9\-]+",
        r"xapp-[A-Za-z0-9\-]+",
    )
    # "jupiter.slack.web" is the Web API client's: slack_sdk formats every request's debug
    # line (URL, body, headers) unless that very logger's own level is above DEBUG.
    loggers: ClassVar[tuple[str, ...]] = ("slack_bolt", "slack_sdk", "jupiter.slack.web")

    slack_bot_token: SecretStr | None = Field(None, validation_alias=env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=env("SLACK_APP_TOKEN"))
    slack_api_url: AbsoluteUrl = Field(
        "https://slack.com/api/", validation_alias=env("SLACK_API_URL")
    )
    slack_client_id: str | None = Field(None, validation_alias=env("SLACK_CLIENT_ID"))
    slack_client_secret: SecretStr | None = Field(None, validation_alias=env("SLACK_CLIENT_SECRET"))
    slack_oauth_authorize_url: AbsoluteUrl = Field(
        "https://slack.com/oauth/v2/authorize", validation_alias=env("SLACK_OAUTH_AUTHORIZE_URL")
    )
    slack_upload_max_bytes: int = Field(
        100 * 1024 * 1024, ge=0, validation_alias=env("JUPITER_SLACK_UPLOAD_MAX_BYTES")
    )

    @property
    def configured(self) -> bool:
        """A bot token (or OAuth installs), and a way to receive events (signed HTTP or
        Socket Mode)."""
        return (self.slack_bot_token is not None or self.oauth) and (
            self.slack_signing_secret is not None or self.slack_app_token is not None
        )

    @property
    def oauth(self) -> bool:
        """Multi-workspace installs over OAuth: each team's token comes from its install."""
        return bool(self.slack_client_id) and self.slack_client_secret is not None
