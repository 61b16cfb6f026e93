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
        "agent_session_stopped",
        "app_home_opened",
        "app_uninstalled",
        "assistant_thread_started",
        "tokens_revoked",
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


# Which scope each Web API method the adapter calls needs (Slack's method reference pages);
# methods that need none (auth.test, oauth.v2.access, views.*, apps.connections.open) map to "".
METHOD_SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_startStream": "chat:write",
    "chat_appendStream": "chat:write",
    "chat_stopStream": "chat:write",
    "conversations_replies": "channels:history",
    "agents_sessions_setStatus": "assistant:write",
    "assistant_threads_setStatus": "assistant:write",
    "assistant_threads_setSuggestedPrompts": "assistant:write",
    "files_getUploadURLExternal": "files:write",
    "files_completeUploadExternal": "files:write",
    "files_upload_v2": "files:write",  # the two above and the upload POST: Home posters
    "users_info": "users:read",
    "views_publish": "",
    "views_open": "",
}


def test_agent_view_home_tab_and_scopes_match_the_methods_called() -> None:
    import re

    from bots.slack.oauth import BOT_SCOPES

    manifest = _manifest()
    features = manifest["features"]
    assert "agent_view" in features and "assistant_view" not in features
    assert features["agent_view"]["agent_description"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    source = "".join(p.read_text() for p in (MANIFEST.parents[2] / "bots" / "slack").glob("*.py"))
    called = set(
        re.findall(
            r"\.(chat_\w+|conversations_\w+|agents_\w+|assistant_\w+|files_\w+|users_\w+|views_\w+)\(",
            source,
        )
    )
    assert called <= set(METHOD_SCOPES), called - set(METHOD_SCOPES)
    needed = {METHOD_SCOPES[m] for m in called} - {""}
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert needed <= scopes
    assert set(BOT_SCOPES) == scopes  # what /slack/install asks for is what the manifest says
