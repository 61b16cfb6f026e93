"""Settings, read from the environment and a `.env` file, with the names fixed by CONTRACT.md.

Every interval is a setting so tests can shrink them to milliseconds. Secrets are `SecretStr`
so they never print by accident; `load_settings` turns a validation failure into one line that
names the environment variable, which the command line prints before exiting with status 2.

Only what every surface shares lives here. A chat adapter declares its own settings class on
`SettingsBase` (the same `.env` reading, aliases made with `env`) and reads it with `load`, so a
bad value in it is reported the same way.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)


class SettingsError(Exception):
    """A setting is present but unusable; the message names it."""


def env(name: str) -> AliasChoices:
    """The alias a field is read by: the environment variable, or its lower-case name."""
    return AliasChoices(name, name.lower())


def _absolute(value: str) -> str:
    if "://" not in value:
        raise ValueError("must be an absolute URL")
    return value


AbsoluteUrl = Annotated[str, AfterValidator(_absolute)]
"""A URL setting: scheme and host required, so a typo fails at start with its name."""


class SettingsBase(BaseSettings):
    """How every settings class reads: environment and `.env`, unknown names ignored, frozen."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        allow_inf_nan=False,
    )


class Settings(SettingsBase):
    nemo_base_url: AbsoluteUrl = Field(
        "https://mega-api-prod.nemovideo.ai", validation_alias=env("NEMO_BASE_URL")
    )
    nemo_token: SecretStr | None = Field(None, validation_alias=env("NEMO_TOKEN"))
    nemo_web_url: AbsoluteUrl = Field("https://nemovideo.com", validation_alias=env("NEMO_WEB_URL"))
    database_url: str = Field("sqlite:///jupiter.db", validation_alias=env("JUPITER_DATABASE_URL"))
    heartbeat_seconds: float = Field(120.0, gt=0, validation_alias=env("JUPITER_HEARTBEAT_SECONDS"))
    render_poll_seconds: float = Field(
        30.0, gt=0, validation_alias=env("JUPITER_RENDER_POLL_SECONDS")
    )
    render_timeout_seconds: float = Field(
        300.0, gt=0, validation_alias=env("JUPITER_RENDER_TIMEOUT_SECONDS")
    )
    retry_after_seconds: float = Field(
        30.0, ge=0, validation_alias=env("JUPITER_RETRY_AFTER_SECONDS")
    )
    recovery_seconds: float = Field(30.0, gt=0, validation_alias=env("JUPITER_RECOVERY_SECONDS"))
    retry_backoff_seconds: float = Field(
        0.5, ge=0, validation_alias=env("JUPITER_RETRY_BACKOFF_SECONDS")
    )
    turn_timeout_seconds: float = Field(
        900.0, gt=0, validation_alias=env("JUPITER_TURN_TIMEOUT_SECONDS")
    )
    stream_idle_seconds: float = Field(
        180.0, gt=0, validation_alias=env("JUPITER_STREAM_IDLE_SECONDS")
    )
    request_timeout_seconds: float = Field(
        30.0, gt=0, validation_alias=env("JUPITER_REQUEST_TIMEOUT_SECONDS")
    )
    http_port: int = Field(3000, ge=0, le=65535, validation_alias=env("JUPITER_HTTP_PORT"))
    http_host: str = Field("0.0.0.0", min_length=1, validation_alias=env("JUPITER_HTTP_HOST"))
    job_lease_seconds: float = Field(60.0, gt=0, validation_alias=env("JUPITER_JOB_LEASE_SECONDS"))
    log_level: str = Field("INFO", validation_alias=env("JUPITER_LOG_LEVEL"))
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop", validation_alias=env("JUPITER_EVENT_LOOP")
    )
    secret_key: SecretStr | None = Field(None, validation_alias=env("JUPITER_SECRET_KEY"))
    language: str = Field("en", validation_alias=env("JUPITER_LANGUAGE"))
    max_queued_per_thread: int = Field(
        5, ge=1, le=1000, validation_alias=env("JUPITER_MAX_QUEUED_PER_THREAD")
    )
    max_turns_per_user: int = Field(
        3, ge=1, le=1000, validation_alias=env("JUPITER_MAX_TURNS_PER_USER")
    )
    user_daily_credits: int | None = Field(
        None, ge=0, validation_alias=env("JUPITER_USER_DAILY_CREDITS")
    )

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


def env_name(field: str, cls: type[BaseSettings] = Settings) -> str:
    """The environment variable that sets `field` of `cls`."""
    info = cls.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field.upper()


def load(cls: type[S], **overrides: object) -> S:
    """Read `cls`; raise `SettingsError` naming the first bad environment variable."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        name = env_name(field, cls) if field in cls.model_fields else field
        raise SettingsError(f"invalid setting {name}: {first['msg']}") from None


def load_settings(**overrides: object) -> Settings:
    """Read the shared settings; raise `SettingsError` naming the first bad variable."""
    return load(Settings, **overrides)
