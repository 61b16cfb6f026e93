"""The HTTP edge as an attacker or a careless client meets it: the signature is checked before
any parsing, headers, bodies and idle connections are limited, a click without a team is
refused, and the bind address is a setting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import bots.health
from bots.slack.incoming import from_action
from core.port import ChatThread, Incoming, NotStored, ThreadKey
from core.settings import load_settings
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import (
    CHANNEL,
    TEAM,
    FakeRuntime,
    RecordingEngine,
    SlackHttp,
    eventually,
    payload,
    running,
    slack_settings,
)

ROOT = ThreadKey("slack", TEAM, CHANNEL, "1700000000.000100")


@pytest.fixture
async def app(
    slack: FakeSlack, http: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SlackHttp]:
    monkeypatch.setattr(bots.health, "IDLE_SECONDS", 0.3)
    rt = FakeRuntime(slack_settings(slack, tmp_path), http, RecordingEngine())
    async with running(rt) as server:
        yield server


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("{not json", "application/json"),
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        ("\x00\xff" * 50, "application/json"),
    ],
)
async def test_unsigned_malformed_bodies_get_401_and_no_error_log(
    app: SlackHttp, caplog: pytest.LogCaptureFixture, body: str, kind: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = await app.client.post(
            f"{app.url}/slack/events", content=body, headers={"Content-Type": kind}
        )
    assert answer.status_code == 401
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_body_over_the_limit_is_refused(app: SlackHttp) -> None:
    big = b"x" * (bots.health.BODY_MAX_BYTES + 1)
    answer = await app.client.post(f"{app.url}/slack/events", content=big)
    assert answer.status_code in (401, 413)
    assert (await app.client.get(f"{app.url}/healthz")).status_code == 200


async def test_oversized_headers_are_refused(app: SlackHttp) -> None:
    headers = {"X-Long": "a" * (bots.health.MAX_LINE_BYTES + 10)}
    answer = await app.client.get(f"{app.url}/healthz", headers=headers)
    assert answer.status_code in (400, 431)
    many = {f"X-H{n}": "1" for n in range(bots.health.MAX_HEADERS + 5)}
    assert (await app.client.get(f"{app.url}/healthz", headers=many)).status_code in (400, 431)


async def test_a_slow_client_is_dropped(app: SlackHttp) -> None:
    host, port = app.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # the server closed the connection
    finally:
        writer.close()


def _click(team: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "channel": {"id": "C1"},
        "message": {"ts": "1.1", "thread_ts": "1.0"},
        "actions": [
            {"action_id": "jupiter_status", "value": "slack:TVICTIM:C1:1.0", "action_ts": "1"}
        ],
    }
    if team is not None:
        body["team"] = team
    return body


def test_a_button_payload_without_a_team_is_refused() -> None:
    assert from_action(_click(None)) is None
    assert from_action(_click({"id": ""})) is None
    routed = from_action(_click({"id": "T1"}))
    assert routed is not None and routed.key.tenant == "T1"


def test_the_bind_address_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPITER_HTTP_HOST", raising=False)
    assert load_settings(_env_file=None).http_host == "0.0.0.0"
    monkeypatch.setenv("JUPITER_HTTP_HOST", "127.0.0.1")
    assert load_settings(_env_file=None).http_host == "127.0.0.1"


class RefusingEngine(RecordingEngine):
    """An engine whose store refuses the next `refuse` messages (`NotStored`), then recovers."""

    def __init__(self, refuse: int) -> None:
        super().__init__(owned=(ROOT,))
        self.refuse = refuse

    async def handle(self, thread: ChatThread, incoming: Incoming) -> None:
        if self.refuse:
            self.refuse -= 1
            raise NotStored(str(thread.key))
        await super().handle(thread, incoming)


@asynccontextmanager
async def refusing_app(
    slack: FakeSlack, http: httpx.AsyncClient, tmp_path: Path, refuse: int
) -> AsyncIterator[tuple[SlackHttp, RefusingEngine]]:
    engine = RefusingEngine(refuse)
    async with running(FakeRuntime(slack_settings(slack, tmp_path), http, engine)) as server:
        yield server, engine


async def test_an_event_the_store_refused_is_not_acked_and_its_redelivery_is(
    slack: FakeSlack, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    async with refusing_app(slack, http, tmp_path, refuse=1) as (app, engine):
        mention = payload("app_mention")["event"]
        assert (await app.event(mention, event_id="Ev1")).status_code >= 500
        assert engine.handled == []
        retry = await app.event(mention, event_id="Ev1", headers={"X-Slack-Retry-Num": "1"})
        assert retry.status_code == 200
        assert [i.event_id for i in await engine.wait_handled()] == ["slack:Ev1"]


async def test_a_click_the_store_refused_is_said_in_the_thread(
    slack: FakeSlack, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    async with refusing_app(slack, http, tmp_path, refuse=1) as (app, _):
        assert (await app.click("status", ROOT)).status_code >= 500
        (said,) = slack.thread(ROOT.channel, ROOT.thread)
        assert "couldn't save your message" in said.text


async def test_a_video_command_the_store_refused_is_said_in_its_thread(
    slack: FakeSlack, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    async with refusing_app(slack, http, tmp_path, refuse=1) as (app, _):
        assert (await app.command("a cat")).status_code == 200  # acked before the thread exists
        await eventually(
            lambda: any("couldn't save your message" in m.text for m in slack.messages())
        )
        error = next(m for m in slack.messages() if "couldn't save" in m.text)
        assert error.thread_ts is not None
