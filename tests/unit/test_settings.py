"""Settings: CONTRACT.md's names and defaults, secrets kept secret, bad values named."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bots.cli import adapters
from bots.slack.settings import SlackSettings
from core.settings import Settings, SettingsError, env_name, load, load_settings


class AllSettings:
    """The shared settings and every registered adapter's, read the way `jupiter` reads them;
    attributes are looked up in each, and `.slack` / `.discord` are the adapters' own."""

    def __init__(self) -> None:
        self.core = load_settings()
        self.adapters = {a.name: load(a.settings) for a in adapters()}
        self.parts = [self.core, *self.adapters.values()]

    def __getattr__(self, name: str) -> Any:
        if name in self.__dict__.get("adapters", {}):
            return self.adapters[name]
        for part in self.__dict__.get("parts", []):
            if name in type(part).model_fields:
                return getattr(part, name)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return " ".join(repr(p) + str(p) + str(p.model_dump()) for p in self.parts)


def load_all() -> Any:
    return AllSettings()


NAMES = [
    "NEMO_BASE_URL",
    "NEMO_TOKEN",
    "JUPITER_DATABASE_URL",
    "JUPITER_HEARTBEAT_SECONDS",
    "JUPITER_RENDER_POLL_SECONDS",
    "JUPITER_RENDER_TIMEOUT_SECONDS",
    "JUPITER_RETRY_AFTER_SECONDS",
    "JUPITER_RETRY_BACKOFF_SECONDS",
    "JUPITER_TURN_TIMEOUT_SECONDS",
    "JUPITER_STREAM_IDLE_SECONDS",
    "JUPITER_HTTP_PORT",
    "JUPITER_JOB_LEASE_SECONDS",
    "JUPITER_LOG_LEVEL",
    "JUPITER_SECRET_KEY",
    "JUPITER_LANGUAGE",
    "JUPITER_SLACK_UPLOAD_MAX_BYTES",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DISCORD_TOKEN",
    "DISCORD_API_URL",
    "DISCORD_GATEWAY_URL",
    "DISCORD_SHARD_COUNT",
    "DISCORD_SHARD_IDS",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting from the machine running the tests, and no `.env` but the test's own."""
    for key in list(os.environ):
        if key.upper() in NAMES:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_match_the_contract() -> None:
    s = load_all()
    assert s.nemo_base_url == "https://mega-api-prod.nemovideo.ai"
    assert s.nemo_token is None
    assert s.database_url == "sqlite:///jupiter.db"
    assert s.heartbeat_seconds == 120
    assert s.render_poll_seconds == 30
    assert s.retry_after_seconds == 30
    assert s.turn_timeout_seconds == 900
    assert s.http_port == 3000
    assert s.job_lease_seconds == 60
    assert s.log_level == "INFO"
    assert (s.slack_bot_token, s.slack_signing_secret, s.slack_app_token) == (None, None, None)
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.discord_token is None
    assert s.discord_api_url == "https://discord.com/api/v10"
    assert s.discord_gateway_url == "wss://gateway.discord.gg/"
    assert (s.discord_shard_count, s.discord_shard_ids) == (None, None)
    assert not s.slack.configured and not s.discord.configured


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "NEMO_BASE_URL": "http://127.0.0.1:8790",
        "NEMO_TOKEN": "nmv_usr_fixed",
        "JUPITER_DATABASE_URL": "postgresql://u:p@db/jupiter",
        "JUPITER_HEARTBEAT_SECONDS": "0.5",
        "JUPITER_RENDER_POLL_SECONDS": "2",
        "JUPITER_RETRY_AFTER_SECONDS": "0",
        "JUPITER_TURN_TIMEOUT_SECONDS": "60",
        "JUPITER_HTTP_PORT": "8080",
        "JUPITER_JOB_LEASE_SECONDS": "15",
        "JUPITER_LOG_LEVEL": "debug",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "sig",
        "SLACK_APP_TOKEN": "xapp-1",
        "SLACK_API_URL": "http://127.0.0.1:9000/api/",
        "DISCORD_TOKEN": "discord-secret",
        "DISCORD_API_URL": "http://127.0.0.1:9001/api/v10",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9002/",
        "DISCORD_SHARD_COUNT": "4",
        "DISCORD_SHARD_IDS": "0,1",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    s = load_all()
    assert s.nemo_base_url == "http://127.0.0.1:8790"
    assert s.nemo_token is not None and s.nemo_token.get_secret_value() == "nmv_usr_fixed"
    assert s.database_url == "postgresql://u:p@db/jupiter"
    assert (s.heartbeat_seconds, s.render_poll_seconds, s.retry_after_seconds) == (0.5, 2, 0)
    assert (s.turn_timeout_seconds, s.http_port, s.job_lease_seconds) == (60, 8080, 15)
    assert s.log_level == "DEBUG"
    assert s.slack.configured and s.discord.configured
    assert s.slack_api_url == "http://127.0.0.1:9000/api/"
    assert s.discord_api_url == "http://127.0.0.1:9001/api/v10"
    assert s.discord_gateway_url == "ws://127.0.0.1:9002/"
    assert (s.discord_shard_count, s.discord_shard_ids) == (4, [0, 1])


@pytest.mark.parametrize(("raw", "ids"), [("0,1", [0, 1]), ("[2, 3]", [2, 3]), ("5", [5])])
def test_shard_ids(monkeypatch: pytest.MonkeyPatch, raw: str, ids: list[int]) -> None:
    monkeypatch.setenv("DISCORD_SHARD_IDS", raw)
    assert load_all().discord_shard_ids == ids


def test_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("jupiter_heartbeat_seconds", "7")
    assert load_settings().heartbeat_seconds == 7


def test_a_dotenv_file_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    (clean_env / ".env").write_text("JUPITER_HEARTBEAT_SECONDS=5\nJUPITER_HTTP_PORT=4000\n")
    monkeypatch.setenv("JUPITER_HTTP_PORT", "4001")
    s = load_settings()
    assert (s.heartbeat_seconds, s.http_port) == (5, 4001)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JUPITER_HEARTBEAT_SECONDS", "abc"),
        ("JUPITER_HEARTBEAT_SECONDS", "0"),
        ("JUPITER_HEARTBEAT_SECONDS", "nan"),
        ("JUPITER_RENDER_POLL_SECONDS", "-1"),
        ("JUPITER_RETRY_AFTER_SECONDS", "soon"),
        ("JUPITER_TURN_TIMEOUT_SECONDS", "-5"),
        ("JUPITER_HTTP_PORT", "70000"),
        ("JUPITER_HTTP_PORT", "http"),
        ("JUPITER_JOB_LEASE_SECONDS", "0"),
        ("JUPITER_DATABASE_URL", "mysql://localhost/x"),
        ("JUPITER_LOG_LEVEL", "loud"),
        ("NEMO_BASE_URL", "mega-api-prod.nemovideo.ai"),
        ("SLACK_API_URL", "slack.com/api"),
        ("DISCORD_SHARD_COUNT", "0"),
        ("DISCORD_SHARD_IDS", "a,b"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_all()
    message = str(caught.value)
    assert name in message
    assert "\n" not in message


def test_a_bad_value_in_dotenv_names_its_variable(clean_env: Path) -> None:
    (clean_env / ".env").write_text("JUPITER_TURN_TIMEOUT_SECONDS=forever\n")
    with pytest.raises(SettingsError, match="JUPITER_TURN_TIMEOUT_SECONDS"):
        load_settings()


def test_secrets_are_secret_strings_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "NEMO_TOKEN": "nmv_usr_topsecret",
        "SLACK_BOT_TOKEN": "xoxb-topsecret",
        "SLACK_SIGNING_SECRET": "signing-topsecret",
        "SLACK_APP_TOKEN": "xapp-topsecret",
        "DISCORD_TOKEN": "discord-topsecret",
        "JUPITER_SECRET_KEY": "key-topsecret",
    }
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    s = load_all()
    shown = repr(s)
    assert "topsecret" not in shown
    assert s.slack_bot_token is not None
    assert s.slack_bot_token.get_secret_value() == "xoxb-topsecret"
    for field in ("nemo_token", "slack_bot_token", "slack_signing_secret", "discord_token"):
        assert "SecretStr" in type(getattr(s, field)).__name__


def test_overrides_and_env_name() -> None:
    assert load_settings(heartbeat_seconds=1).heartbeat_seconds == 1
    assert env_name("heartbeat_seconds") == "JUPITER_HEARTBEAT_SECONDS"
    assert env_name("nemo_token") == "NEMO_TOKEN"
    assert env_name("slack_api_url", SlackSettings) == "SLACK_API_URL"
    with pytest.raises(SettingsError, match="JUPITER_HEARTBEAT_SECONDS"):
        load_settings(heartbeat_seconds="abc")


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(ValidationError, match="frozen"):
        s.http_port = 1  # type: ignore[misc]
    assert isinstance(s, Settings)


def test_offline_polls_at_the_local_backends_pace_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bots.cli import OFFLINE_PACE, offline_pace
    from core.settings import Settings

    for name in ("JUPITER_RENDER_POLL_SECONDS", "JUPITER_HEARTBEAT_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    paced = offline_pace(Settings(_env_file=None))  # type: ignore[call-arg]
    assert paced.render_poll_seconds == OFFLINE_PACE["render_poll_seconds"]
    assert paced.heartbeat_seconds == OFFLINE_PACE["heartbeat_seconds"]
    chosen = offline_pace(Settings(_env_file=None, render_poll_seconds=7))  # type: ignore[call-arg]
    assert chosen.render_poll_seconds == 7
    assert chosen.heartbeat_seconds == OFFLINE_PACE["heartbeat_seconds"]
