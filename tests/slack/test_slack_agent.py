"""Slack's agent platform end to end over loopback: sessions, streaming and its fallback, the
Web API call budget of a turn, the native stop button, the Home tab and the admin modal."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from core.port import ThreadKey
from core.sim import LocalBackend
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import CHANNEL, TEAM, USER, eventually
from tests.slack.test_slack_end_to_end import WAIT, World, world

TURN_METHODS = (
    "chat.postMessage",
    "chat.update",
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "agents.sessions.setStatus",
    "assistant.threads.setStatus",
)


@pytest.fixture
async def w(slack: FakeSlack, sim: LocalBackend, tmp_path: Path) -> AsyncIterator[World]:
    slack.agent_platform = True
    async with world(slack, sim, tmp_path, heartbeat_seconds=0.2) as value:
        yield value


def turn_calls(slack: FakeSlack) -> list[str]:
    return [c.method for c in slack.calls() if c.method in TURN_METHODS]


async def test_a_turn_is_a_session_and_a_stream_within_the_call_budget(w: World) -> None:
    w.sim.set_faults({"turn_seconds": 1.0})
    key = await w.mention("a 5-second video of a sunset over mountains")
    await w.settled(key)
    calls = turn_calls(w.slack)
    beats = calls.count("chat.appendStream")
    assert beats >= 2
    assert len(calls) <= 4 + beats, calls  # whatever the agent said
    assert "chat.postMessage" not in calls and "chat.update" not in calls
    (start,) = w.slack.calls("chat.startStream")
    assert start.args["recipient_team_id"] == TEAM and start.args["recipient_user_id"]
    sessions = w.slack.calls("agents.sessions.setStatus")
    assert [c.args["status"] for c in sessions] == ["processing", "active"]
    assert sessions[0].args["thread_ts"] == key.thread
    assert sessions[0].args["title"] == "a 5-second video of a sunset over mountains"
    assert w.slack.sessions[(CHANNEL, key.thread)] == "active"
    (answer,) = w.finished_turns(key)
    assert not answer.streaming and "Done!" in answer.all_text


async def test_an_older_workspace_falls_back_once_and_remembers(
    slack: FakeSlack, sim: LocalBackend, tmp_path: Path
) -> None:
    async with world(slack, sim, tmp_path) as w:  # agent_platform off: unknown_method
        first = await w.mention("a 5-second video of a lighthouse", ts="1700000000.000100")
        await w.settled(first)
        second = await w.mention("a 5-second video of a forest", ts="1700000000.000200")
        await w.settled(second)
    assert len(slack.calls("chat.startStream")) == 1  # refused once, remembered
    assert len(slack.calls("agents.sessions.setStatus")) == 1
    assert slack.calls("assistant.threads.setStatus")  # today's status instead
    for key in (first, second):
        assert w.finished_turns(key)


async def test_the_native_stop_button_stops_the_turn(w: World) -> None:
    w.sim.set_faults({"turn_seconds": 30})
    key = await w.mention("a 5-second video of a long river")
    await w.slack.wait_for(lambda: w.slack.calls("chat.startStream"), WAIT)
    await w.slack.wait_for(lambda: w.slack.sessions.get((CHANNEL, key.thread)) == "processing")
    event = {
        "type": "agent_session_stopped",
        "channel": CHANNEL,
        "thread_ts": key.thread,
        "user": USER,
        "streaming_message_ts": [],
        "event_ts": f"{time.time():.6f}",
    }
    started = time.monotonic()
    assert (await w.app.event(event)).status_code == 200
    await w.rt.engine.idle(WAIT)
    assert time.monotonic() - started < 10  # not the 30 s turn
    assert "Stopped" in w.said(key)
    assert w.slack.sessions[(CHANNEL, key.thread)] == "active"
    beats = len(w.slack.calls("chat.appendStream"))
    await w.rt.engine.idle(WAIT)
    assert len(w.slack.calls("chat.appendStream")) == beats  # no heartbeat after the stop


async def home_opened(w: World, user: str, tab: str = "home") -> None:
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": tab}
    assert (await w.app.event(event)).status_code == 200


async def test_home_shows_credits_and_admins_get_settings(w: World) -> None:
    await home_opened(w, USER)
    home = await w.slack.wait_for(lambda: w.slack.views)
    text = json.dumps(home)
    assert "Available" in text and "Your recent videos" in text
    assert "jupiter_settings" not in text  # not an admin
    w.slack.admins.add("U0ADMIN")
    await home_opened(w, "U0ADMIN")
    await w.slack.wait_for(lambda: len(w.slack.views) == 2)
    assert "jupiter_settings" in json.dumps(w.slack.views[-1])


async def test_messages_tab_sets_suggested_prompts(w: World) -> None:
    await home_opened(w, USER, tab="messages")
    (call,) = await w.slack.wait_for(lambda: w.slack.calls("assistant.threads.setSuggestedPrompts"))
    assert call.args["channel_id"] == "D0HOME" and len(call.args["prompts"]) == 3


def submission(user: str, token: str) -> str:
    values = {
        "token": {"token": {"type": "plain_text_input", "value": token}},
        "aspect": {"aspect": {"type": "static_select", "selected_option": {"value": "9:16"}}},
        "duration": {"duration": {"type": "number_input", "value": "15"}},
        "style": {"style": {"type": "plain_text_input", "value": "cinematic"}},
    }
    body = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0JUPITER",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "jupiter_settings_view",
            "state": {"values": values},
        },
    }
    return urlencode({"payload": json.dumps(body)})


async def test_settings_modal_saves_for_admins_and_refuses_others(w: World) -> None:
    form = "application/x-www-form-urlencoded"
    refused = await w.app.send(submission(USER, "nemo-secret-1"), form)
    assert refused.status_code == 200 and refused.json()["response_action"] == "errors"
    store = w.rt.store
    assert (await store.get_defaults("slack", TEAM, "")).aspect is None
    w.slack.admins.add("U0ADMIN")
    saved = await w.app.send(submission("U0ADMIN", "nemo-secret-1"), form)
    assert saved.status_code == 200 and not saved.content
    defaults = await store.get_defaults("slack", TEAM, "")
    assert (defaults.aspect, defaults.duration, defaults.style) == ("9:16", 15, "cinematic")
    tenant = await store.get_tenant("slack", TEAM)
    assert tenant is not None and tenant.fixed_token == "nemo-secret-1"
    creds = await w.rt.engine.credentials(ThreadKey("slack", TEAM, CHANNEL, "1"))
    assert creds.fixed and creds.token == "nemo-secret-1"
    await eventually(lambda: w.slack.views)  # the Home refreshed after saving


async def test_the_home_is_refreshed_after_a_delivery_and_lists_the_video(w: World) -> None:
    key = await w.mention("a 3-second video of a sunset")
    await w.settled(key)
    assert (await w.app.click("export", key)).status_code == 200
    await w.slack.wait_for(lambda: w.slack.calls("files.completeUploadExternal"), WAIT)
    await w.rt.engine.idle(WAIT)
    home = await w.slack.wait_for(lambda: w.slack.views, WAIT)
    assert home[-1]["user_id"] == "U0ALICE" and "Open the video" in json.dumps(home[-1])
    assert "Open the project" in json.dumps(home[-1])  # the task detail link beside it
    assert "/workspace/claim?ct=clm_" in json.dumps(home[-1])
