"""Slack fixtures: the fake Web API, signed requests exactly as Slack sends them, the HTTP app.

Requests go through the real stack: aiohttp server -> Bolt's `async_dispatch` (signature check,
auth.test, self-event filter, listener matching, ack) -> the adapter -> an engine. The engine is
either the real one (with the local backend) or `RecordingEngine`, a stand-in that only records.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from aiohttp import web

from bots.health import web_runner
from bots.slack.app import build, build_web_app, share, web_session
from bots.slack.settings import SlackSettings
from bots.slack.thread import SlackThreads
from core.metrics import Metrics
from core.port import ThreadKey
from core.settings import Settings
from tests.fakes.engine import RecordingEngine  # noqa: F401  (re-exported for the tests)
from tests.fakes.slack_api import FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1111-2222-testtoken"
TEAM = "T0TEAM"
CHANNEL = "C0VIDEO"
USER = "U0ALICE"
PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"slack_{name}.json").read_text())
    return data


def sign(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


class SlackTestSettings(Settings, SlackSettings):
    """The shared settings and the adapter's in one object, as a test runtime carries them."""


def slack_settings(slack: FakeSlack, tmp_path: Path, **overrides: Any) -> SlackTestSettings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'jupiter.db'}",
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SECRET,
        "slack_api_url": slack.api_url,
        "heartbeat_seconds": 0.05,
        "render_poll_seconds": 0.05,
        "render_timeout_seconds": 20,
        "retry_after_seconds": 0.01,
        "recovery_seconds": 0.05,
        "retry_backoff_seconds": 0.01,
        "turn_timeout_seconds": 20,
        "stream_idle_seconds": 5,
        "job_lease_seconds": 2,
        "http_port": 0,
    }
    values.update(overrides)
    return SlackTestSettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class FakeRuntime:
    """The slice of `core.runtime.Runtime` that `serve`/`build` use, around a stand-in engine."""

    settings: SlackTestSettings
    http: httpx.AsyncClient
    engine: Any
    metrics: Metrics = field(default_factory=Metrics)
    health: bool = True

    async def healthy(self) -> bool:
        return self.health


@dataclass
class SlackHttp:
    """The app's HTTP endpoint on a free loopback port, and a client that talks like Slack."""

    url: str
    client: httpx.AsyncClient
    threads: SlackThreads
    secret: str = SECRET
    _ids: int = 0

    def next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:06d}"

    async def send(
        self,
        body: str,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> httpx.Response:
        signed = sign(body, secret=secret or self.secret, timestamp=timestamp)
        return await self.client.post(
            f"{self.url}/slack/events",
            content=body.encode(),
            headers={"Content-Type": content_type, **signed, **(headers or {})},
        )

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        body = {
            "token": "verification-token-unused",
            "team_id": TEAM,
            "api_app_id": "A0JUPITER",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or self.next_id("Ev"),
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": "U0JUPITER", "is_bot": True}],
        }
        return await self.send(json.dumps(body), "application/json", **kwargs)

    async def command(
        self,
        text: str,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        **fields: str,
    ) -> httpx.Response:
        form = {
            "token": "verification-token-unused",
            "team_id": TEAM,
            "team_domain": "jupiter-test",
            "channel_id": CHANNEL,
            "channel_name": "video",
            "user_id": USER,
            "user_name": "alice",
            "command": "/video",
            "text": text,
            "api_app_id": "A0JUPITER",
            "response_url": fields.pop("response_url", "https://hooks.slack.com/commands/x"),
            "trigger_id": self.next_id("trigger."),
            **fields,
        }
        return await self.send(
            urlencode(form),
            "application/x-www-form-urlencoded",
            secret=secret,
            timestamp=timestamp,
        )

    async def click(
        self, action: str, key: ThreadKey, value: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        data = payload("block_actions")
        data["actions"][0]["action_id"] = f"jupiter_{action}"
        data["actions"][0]["value"] = str(key) if value is None else value
        data["actions"][0]["action_ts"] = f"{time.time():.6f}"
        data["channel"]["id"] = key.channel
        data["container"]["channel_id"] = key.channel
        data["message"]["thread_ts"] = key.thread
        body = urlencode({"payload": json.dumps(data)})
        return await self.send(body, "application/x-www-form-urlencoded", **kwargs)


@asynccontextmanager
async def running(rt: Any) -> AsyncIterator[SlackHttp]:
    """Build the app exactly as `serve` does (HTTP mode) and run it on 127.0.0.1:0."""
    bolt_app, threads = build(rt, rt.settings, socket=False)
    secret = rt.settings.slack_signing_secret.get_secret_value()
    runner = web_runner(build_web_app(rt, bolt_app, secret))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with web_session() as session, httpx.AsyncClient(timeout=10) as client:
            share(threads, session)  # the Web API on one shared session, as `serve` does
            yield SlackHttp(f"http://127.0.0.1:{port}", client, threads)
    finally:
        await runner.cleanup()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=BOT_TOKEN, team_id=TEAM) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


async def eventually(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
    """Poll a condition that no fake can signal (engine state) until it holds or time runs out."""
    async with asyncio.timeout(timeout):
        # Nothing signals engine-internal state, so this one polls.
        while not (value := predicate()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return value
