"""The app manifest asks for exactly what the adapter uses, no more, and works in both modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack" / "manifest.yml"


def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return data


def test_scopes_are_exactly_the_ones_used() -> None:
    assert set(_manifest()["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "assistant:write",
        "channels:history",
        "chat:write",
        "commands",
        "files:read",
        "files:write",
        "groups:history",
        "im:history",
        "users:read",
    }


def test_events_command_and_interactivity() -> None:
    manifest = _manifest()
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
    }
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/video"
    assert settings["interactivity"]["is_enabled"] is True
    urls = {
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    }
    assert urls == {"https://YOUR-HOST/slack/events"}
    assert settings["socket_mode_enabled"] is False
    assert MANIFEST.read_text().count("/slack/events # HTTP mode") == 3  # dropped for Socket Mode
