"""The HTTP endpoint through Bolt's real dispatch, with signed requests and a recording engine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bots.slack.app import serve
from bots.slack.client import build_client
from bots.slack.handlers import USAGE, UserLocales
from core.metrics import CONTENT_TYPE, Metrics
from core.port import Action, Reply, ReplyKind, ThreadKey
from core.settings import SettingsError
from tests.engine.test_pacing import one_at_a_time
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import (
    BOT_TOKEN,
    CHANNEL,
    SECRET,
    TEAM,
    USER,
    FakeRuntime,
    RecordingEngine,
    SlackHttp,
    payload,
    running,
    slack_settings,
)

ROOT = ThreadKey("slack", TEAM, CHANNEL, "1700000000.000100")


@pytest.fixture
def engine() -> RecordingEngine:
    return RecordingEngine(owned=(ROOT,))


@pytest.fixture
def rt(
    slack: FakeSlack, http: httpx.AsyncClient, tmp_path: Path, engine: RecordingEngine
) -> FakeRuntime:
    return FakeRuntime(slack_settings(slack, tmp_path), http, engine)


@pytest.fixture
async def app(rt: FakeRuntime) -> AsyncIterator[SlackHttp]:
    async with running(rt) as server:
        yield server


async def test_a_bad_signature_is_refused_and_nothing_runs(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    mention = payload("app_mention")["event"]
    assert (await app.event(mention, secret="not-the-secret")).status_code == 401
    stale = int(time.time()) - 6 * 60
    assert (await app.event(mention, timestamp=stale)).status_code == 401
    unsigned = await app.client.post(
        f"{app.url}/slack/events", json=payload("app_mention"), headers={}
    )
    assert unsigned.status_code == 401
    assert (await app.command("a cat", secret="nope")).status_code == 401
    assert engine.handled == [] and slack.calls() == []


async def test_url_verification_answers_the_challenge(app: SlackHttp) -> None:
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"})
    response = await app.send(body, "application/json")
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}


async def test_a_mention_becomes_a_turn_in_its_thread(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    response = await app.event(payload("app_mention")["event"], event_id="Ev1")
    assert response.status_code == 200
    (incoming,) = await engine.wait_handled()
    thread, _ = engine.handled[0]
    assert thread.key == ROOT
    assert incoming.text == "a sunset over mountains & a lake, 30-second cinematic"
    assert incoming.event_id == "slack:Ev1"
    assert incoming.locale == "en-US"  # from users.info
    assert [c.method for c in slack.calls()] == ["auth.test", "users.info"]


async def test_replies_count_only_in_threads_the_bot_owns(
    app: SlackHttp, engine: RecordingEngine
) -> None:
    stranger = payload("message_thread_reply")["event"]
    stranger["thread_ts"] = "1700009999.000100"
    await app.event(stranger)
    await app.event(payload("message_thread_reply")["event"], event_id="Ev2")
    (incoming,) = await engine.wait_handled()
    assert incoming.text == "make it warmer" and engine.handled[0][0].key == ROOT


async def test_own_messages_and_edits_are_not_turns(
    app: SlackHttp, engine: RecordingEngine
) -> None:
    for name in ("bot_message", "message_changed"):
        assert (await app.event(payload(name)["event"])).status_code == 200
    await app.event(payload("message_im")["event"])
    await engine.wait_handled()
    assert [i.text for _, i in engine.handled] == ["a cat surfing a wave"]


async def test_slash_command_opens_a_thread_with_a_root_message(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    started = time.monotonic()
    response = await app.command("a sunset over mountains <!channel>")
    assert response.status_code == 200 and time.monotonic() - started < 3
    (incoming,) = await engine.wait_handled()
    (root,) = slack.calls("chat.postMessage")
    assert root.args["channel"] == CHANNEL and "thread_ts" not in root.args
    assert "<!channel>" not in json.dumps(root.args)
    thread, _ = engine.handled[0]
    (message,) = slack.messages()
    assert thread.key == ThreadKey("slack", TEAM, CHANNEL, message.ts)
    assert incoming.text == "a sunset over mountains @channel" and incoming.user == USER


async def test_slash_command_is_acked_before_slack_answers_anything(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    """The ack does not wait for the user's locale (nor for the root message): with Slack's
    users.info and chat.postMessage held, the POST is answered, and the thread opens once
    they are."""
    slack.holds["users.info"] = asyncio.Event()
    slack.holds["chat.postMessage"] = asyncio.Event()
    response = await app.command("a sunset over mountains")
    assert response.status_code == 200 and response.text == ""
    assert engine.handled == []
    for event in slack.holds.values():
        event.set()
    (incoming,) = await engine.wait_handled()
    assert incoming.text == "a sunset over mountains"


async def test_a_new_users_locale_is_asked_for_while_the_root_message_goes_out(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    """The session's language wants the user's locale; `/video` asks for it beside the root
    message, not after it: with chat.postMessage held, users.info has been asked, and the
    turn is handed over with its answer (one users.info for the user, not two)."""
    slack.user_locales[USER] = "ja-JP"
    slack.holds["chat.postMessage"] = asyncio.Event()
    response = await app.command("a sunset over mountains")
    assert response.status_code == 200
    await slack.wait_for(lambda: slack.calls("users.info") and slack.calls("chat.postMessage"))
    assert engine.handled == []  # the root message is still on its way
    slack.holds["chat.postMessage"].set()
    (incoming,) = await engine.wait_handled()
    assert incoming.locale == "ja-JP"
    assert len(slack.calls("users.info")) == 1


async def test_slash_commands_are_acked_at_once_and_their_threads_opened_oldest_first(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    """The opening after the ack is paced (`core.pacing`); the ack is not: with the pacer
    full, three commands are answered, no thread opens, and once it has room they open in
    the order they came."""
    async with one_at_a_time(engine.pacer).hold():
        for text in ("first", "second", "third"):
            response = await app.command(text)
            assert response.status_code == 200 and response.text == ""
        await asyncio.sleep(0.2)
        assert slack.calls("chat.postMessage") == [] and engine.handled == []
    handled = await engine.wait_handled(3)
    assert [i.text for i in handled] == ["first", "second", "third"]


async def test_slash_command_alone_or_help_shows_usage(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    for text in ("", "help"):
        response = await app.command(text)
        assert response.status_code == 200
        body = response.json()
        assert body["response_type"] == "ephemeral" and "/video" in body["text"]
    assert engine.handled == [] and slack.calls("chat.postMessage") == []


async def test_slash_command_where_the_bot_cannot_post_says_so_privately(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    slack.post_errors[CHANNEL] = "not_in_channel"
    await app.command("a cat", response_url=slack.response_url())
    (answer,) = await slack.wait_for(lambda: slack.responses)
    assert answer["response_type"] == "ephemeral" and "/invite" in answer["text"]
    assert engine.handled == []


async def test_buttons_become_actions_in_their_thread(
    app: SlackHttp, engine: RecordingEngine
) -> None:
    for action in ("export", "status", "credits"):
        assert (await app.click(action, ROOT)).status_code == 200
    handled = await engine.wait_handled(3)
    assert [i.action for i in handled] == [Action.EXPORT, Action.STATUS, Action.CREDITS]
    assert {t.key for t, _ in engine.handled} == {ROOT}


async def test_files_go_to_the_engine_unchecked_and_unfetched(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    """Type and size are the engine's to check (once, for every platform); see
    `test_files_the_backend_refuses_are_refused_once_by_the_engine` for the refusals."""
    event = payload("file_share")["event"]
    event["text"] = "and use the good one"
    event["files"] = [
        slack.file_event("F1", "virus.exe", 1000),
        slack.file_event("F2", "huge.mp4", 600 * 1024 * 1024),
        slack.file_event("F3", "good.mp4", 1000),
    ]
    await app.event(event)
    (incoming,) = await engine.wait_handled()
    assert [a.filename for a in incoming.attachments] == ["virus.exe", "huge.mp4", "good.mp4"]
    assert slack.file_requests == [] and slack.calls("chat.postMessage") == []


async def test_healthz_and_metrics(app: SlackHttp, rt: FakeRuntime) -> None:
    ok = await app.client.get(f"{app.url}/healthz")
    assert ok.status_code == 200 and ok.json() == {"status": "ok"}
    rt.health = False
    assert (await app.client.get(f"{app.url}/healthz")).status_code == 503
    metrics = await app.client.get(f"{app.url}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"] == CONTENT_TYPE
    assert "jupiter_chat_api_retries_total" in metrics.text


async def test_the_resolver_is_registered_for_resumed_work(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    thread = engine.resolvers["slack"](ROOT)
    await thread.post(Reply(ReplyKind.NOTICE, "resumed"))
    (post,) = slack.calls("chat.postMessage")
    assert post.args["thread_ts"] == ROOT.thread


@pytest.mark.parametrize(
    ("missing", "socket", "named"),
    [
        ({"slack_bot_token": None}, False, "SLACK_BOT_TOKEN"),
        ({"slack_signing_secret": None}, False, "SLACK_SIGNING_SECRET"),
        ({"slack_signing_secret": ""}, False, "SLACK_SIGNING_SECRET"),
        ({"slack_app_token": None}, True, "SLACK_APP_TOKEN"),
    ],
)
async def test_missing_credentials_name_the_setting(
    slack: FakeSlack,
    http: httpx.AsyncClient,
    tmp_path: Path,
    missing: dict[str, None],
    socket: bool,
    named: str,
) -> None:
    rt = FakeRuntime(slack_settings(slack, tmp_path, **missing), http, RecordingEngine())
    with pytest.raises(SettingsError, match=named) as caught:
        await serve(rt, rt.settings, socket=socket)
    assert BOT_TOKEN not in str(caught.value) and SECRET not in str(caught.value)
    assert rt.engine.resolvers == {}


async def test_socket_mode_takes_events_over_the_websocket_and_acks_them(
    slack: FakeSlack, http: httpx.AsyncClient, tmp_path: Path, engine: RecordingEngine
) -> None:
    settings = slack_settings(
        slack, tmp_path, slack_signing_secret=None, slack_app_token=slack.app_token
    )
    rt = FakeRuntime(settings, http, engine)
    serving = asyncio.create_task(serve(rt, rt.settings))  # SLACK_APP_TOKEN set: Socket Mode
    try:
        await slack.wait_for(lambda: slack.sockets, 10)
        (opened,) = slack.calls("apps.connections.open")
        assert opened.token == slack.app_token
        body = payload("app_mention")
        await slack.socket_send(
            {
                "envelope_id": "env-1",
                "type": "events_api",
                "payload": body,
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        (incoming,) = await engine.wait_handled()
        assert incoming.event_id == "slack:Ev0MENTION1"
        await slack.wait_for(
            lambda: any(a.get("envelope_id") == "env-1" for a in slack.socket_acks)
        )
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    assert slack.sockets == []


def test_usage_text_is_valid_mrkdwn() -> None:
    assert "<" not in USAGE and ">" not in USAGE


async def test_a_chinese_user_gets_the_usage_in_chinese(
    app: SlackHttp, engine: RecordingEngine, slack: FakeSlack
) -> None:
    slack.user_locales[USER] = "zh-CN"
    body = (await app.command("")).json()
    assert body["response_type"] == "ephemeral" and "用 Jupiter 制作视频" in body["text"]
    slack.post_errors[CHANNEL] = "not_in_channel"
    await app.command("一只猫", response_url=slack.response_url())
    (answer,) = await slack.wait_for(lambda: slack.responses)
    assert "我还不在这个频道里" in answer["text"]


async def test_a_users_locale_is_asked_for_once_and_kept_past_a_caller_that_stopped_waiting(
    slack: FakeSlack, tmp_path: Path
) -> None:
    """Callers asking at once share one users.info; one whose time runs out does not cancel
    it, and the answer is kept for the next. An error that may pass (Slack failing) is not
    kept: the next message asks again."""
    client = build_client(slack_settings(slack, tmp_path), Metrics(), 0.01)
    locales = UserLocales(client)
    slack.user_locales[USER] = "zh-CN"
    slack.holds["users.info"] = asyncio.Event()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await locales.get(USER)
    waiting = [asyncio.create_task(locales.get(USER, client)) for _ in range(3)]
    await slack.wait_for(lambda: slack.calls("users.info"))
    slack.holds["users.info"].set()
    assert await asyncio.gather(*waiting) == ["zh-CN"] * 3
    assert await locales.get(USER) == "zh-CN"
    assert len(slack.calls("users.info")) == 1

    slack.fail_next("users.info", status=500, count=3)  # past the client's retries
    assert await locales.get("U0FAILING") is None
    assert await locales.get("U0FAILING") == "en-US"  # asked again: Slack answers now
    assert len(slack.calls("users.info")) == 1 + 3 + 1
