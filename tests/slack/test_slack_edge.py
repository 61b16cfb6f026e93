"""The HTTP edge as an attacker or a careless client meets it: the signature is checked before
any parsing, headers, bodies and idle connections are limited, a click without a team is
refused, and the bind address is a setting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import bots.health
from bots.slack.incoming import from_action
from core.settings import load_settings
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import FakeRuntime, RecordingEngine, SlackHttp, running, slack_settings


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
