"""Settings, read from the environment and a `.env` file, with the names fixed by CONTRACT.md.

Every interval is a setting so tests can shrink them to milliseconds. Secrets are `SecretStr`
so they never print by accident; `load_settings` turns a validation failure into one line that
names the environment variable, which the command line prints before exiting with status 2.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting is present but unusable; the message names it."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        allow_inf_nan=False,
    )

    nemo_base_url: str = Field(
        "https://mega-api-prod.nemovideo.ai", validation_alias=_env("NEMO_BASE_URL")
    )
    nemo_token: SecretStr | None = Field(None, validation_alias=_env("NEMO_TOKEN"))
    nemo_web_url: str = Field("https://nemovideo.com", validation_alias=_env("NEMO_WEB_URL"))
    database_url: str = Field("sqlite:///jupiter.db", validation_alias=_env("JUPITER_DATABASE_URL"))
    heartbeat_seconds: float = Field(
        120.0, gt=0, validation_alias=_env("JUPITER_HEARTBEAT_SECONDS")
    )
    render_poll_seconds: float = Field(
        30.0, gt=0, validation_alias=_env("JUPITER_RENDER_POLL_SECONDS")
    )
    render_timeout_seconds: float = Field(
        300.0, gt=0, validation_alias=_env("JUPITER_RENDER_TIMEOUT_SECONDS")
    )
    retry_after_seconds: float = Field(
        30.0, ge=0, validation_alias=_env("JUPITER_RETRY_AFTER_SECONDS")
    )
    retry_backoff_seconds: float = Field(
        0.5, ge=0, validation_alias=_env("JUPITER_RETRY_BACKOFF_SECONDS")
    )
    turn_timeout_seconds: float = Field(
        900.0, gt=0, validation_alias=_env("JUPITER_TURN_TIMEOUT_SECONDS")
    )
    stream_idle_seconds: float = Field(
        180.0, gt=0, validation_alias=_env("JUPITER_STREAM_IDLE_SECONDS")
    )
    request_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias=_env("JUPITER_REQUEST_TIMEOUT_SECONDS")
    )
    http_port: int = Field(3000, ge=0, le=65535, validation_alias=_env("JUPITER_HTTP_PORT"))
    job_lease_seconds: float = Field(60.0, gt=0, validation_alias=_env("JUPITER_JOB_LEASE_SECONDS"))
    log_level: str = Field("INFO", validation_alias=_env("JUPITER_LOG_LEVEL"))
    secret_key: SecretStr | None = Field(None, validation_alias=_env("JUPITER_SECRET_KEY"))
    language: str = Field("en", validation_alias=_env("JUPITER_LANGUAGE"))
    slack_upload_max_bytes: int = Field(
        100 * 1024 * 1024, ge=0, validation_alias=_env("JUPITER_SLACK_UPLOAD_MAX_BYTES")
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))

    discord_token: SecretStr | None = Field(None, validation_alias=_env("DISCORD_TOKEN"))
    discord_api_url: str = Field(
        "https://discord.com/api/v10", validation_alias=_env("DISCORD_API_URL")
    )
    discord_gateway_url: str = Field(
        "wss://gateway.discord.gg/", validation_alias=_env("DISCORD_GATEWAY_URL")
    )
    discord_shard_count: int | None = Field(
        None, ge=1, validation_alias=_env("DISCORD_SHARD_COUNT")
    )
    discord_shard_ids: list[int] | None = Field(None, validation_alias=_env("DISCORD_SHARD_IDS"))

    @field_validator(
        "nemo_base_url", "nemo_web_url", "slack_api_url", "discord_api_url", "discord_gateway_url"
    )
    @classmethod
    def _url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be an absolute URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must be sqlite:///PATH or postgresql://...")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().strip("[]")
            return [int(part) for part in value.split(",") if part.strip()] if value else None
        if isinstance(value, int):
            return [value]
        return value

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None and (
            self.slack_signing_secret is not None or self.slack_app_token is not None
        )

    @property
    def discord_configured(self) -> bool:
        return self.discord_token is not None


_ENV_NAMES = {
    name: (
        field.validation_alias.choices[0]
        if isinstance(field.validation_alias, AliasChoices)
        else name
    )
    for name, field in Settings.model_fields.items()
}


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return str(_ENV_NAMES.get(field, field.upper()))


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise `SettingsError` naming the first bad environment variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        name = env_name(field) if field in _ENV_NAMES else field
        raise SettingsError(f"invalid setting {name}: {first['msg']}") from None
