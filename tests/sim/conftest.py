"""Loopback fixtures for the local backend: a fast `LocalBackend` and a small protocol client.

The client is written here against NEMO_PROTOCOL.md with plain httpx on purpose: these tests hold
the server to the protocol, not to whatever the project's own client happens to accept.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from core.sim import Faults, LocalBackend

# Small renders keep the suite fast; tests of the default size render through render.encode.
FAST = {
    "turn_seconds": 0.2,
    "heartbeat_seconds": 0.04,
    "render_seconds": 0.2,
    "render_long_side": 320,
}
ATTRIBUTION = {
    "X-Skill-Source": "jupiter-text-to-video",
    "X-Skill-Version": "0.1.0",
    "X-Skill-Platform": "console",
}


@dataclass
class Turn:
    """One `/run_sse` call as the client saw it."""

    status: int
    frames: list[str] = field(default_factory=list)  # raw frames, without the blank line
    events: list[dict[str, Any]] = field(default_factory=list)  # decoded `data:` payloads
    cut: bool = False  # the connection closed mid-body
    body: Any = None  # the JSON body of a non-stream answer

    def kinds(self) -> list[str]:
        """Event kinds, without ADK's partial chunks and content-less events (`all_kinds`)."""
        return [kind for kind in self.all_kinds() if kind not in ("partial", "bare")]

    def all_kinds(self) -> list[str]:
        return [kind_of(event) for event in self.events]

    def texts(self) -> list[str]:
        return [text_of(event) for event in self.events if kind_of(event) == "text"]

    def tools(self) -> list[tuple[str, str]]:
        """(kind, tool name) for each tool event."""
        return [
            (kind_of(event), tool_name(event))
            for event in self.events
            if kind_of(event) in ("tool_call", "tool_result")
        ]

    def shape(self) -> str:
        """Which of the three documented shapes the turn's texts use."""
        for event in self.events:
            if "content" in event and isinstance(event["content"], dict):
                return "adk"
            if event.get("type") == "text":
                return "plain"
            if "text" in event and "type" not in event:
                return "top_level"
        return "none"


def kind_of(event: dict[str, Any]) -> str:
    if event.get("partial") is True:
        return "partial"  # an ADK chunk its final text repeats whole
    if (
        isinstance(event.get("content"), dict) is False
        and "author" in event
        and "type" not in event
    ):
        return "bare"  # an ADK event without content
    if "error" in event or "errorCode" in event:
        return "error"
    if isinstance(event.get("content"), dict):
        part = event["content"]["parts"][0]
        if "functionCall" in part:
            return "tool_call"
        if "functionResponse" in part:
            return "tool_result"
        return "text"
    if "type" in event:
        return str(event["type"])
    return "text" if "text" in event else "unknown"


def text_of(event: dict[str, Any]) -> str:
    if isinstance(event.get("content"), dict):
        return str(event["content"]["parts"][0]["text"])
    return str(event.get("content") if event.get("type") == "text" else event["text"])


def tool_name(event: dict[str, Any]) -> str:
    if isinstance(event.get("content"), dict):
        part = event["content"]["parts"][0]
        return str((part.get("functionCall") or part.get("functionResponse"))["name"])
    return str(event["name"])


class Nemo:
    """Just enough protocol client to drive the sim endpoint by endpoint."""

    ATTRIBUTION = ATTRIBUTION

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @staticmethod
    def auth(token: str, **extra: str) -> dict[str, str]:
        """Bearer and the attribution headers the strict backend wants on every call."""
        return {"Authorization": f"Bearer {token}", **ATTRIBUTION, **extra}

    async def token(self, client_id: str = "test-client") -> tuple[str, str]:
        reply = await self.http.post(
            "/api/auth/anonymous-token", headers={"X-Client-Id": client_id, **ATTRIBUTION}
        )
        data = reply.json()["data"]
        return data["token"], data["user_id"]

    async def api_token(self) -> str:
        """A registered user's API token (render scope), minted by the sim's admin path."""
        reply = await self.http.post("/_sim/api-token")
        return str(reply.json()["data"]["token"])

    async def session(self, token: str, language: str = "en") -> str:
        reply = await self.http.post(
            "/api/tasks/me/with-session/nemo_agent",
            headers=self.auth(token, **ATTRIBUTION),
            json={"task_name": "project", "language": language},
        )
        return str(reply.json()["data"]["session_id"])

    async def start(self, token: str | None = None, session: str | None = None) -> tuple[str, str]:
        token = token or (await self.token())[0]
        return token, session or await self.session(token)

    def run_body(self, session: str, text: str) -> dict[str, Any]:
        return {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": session,
            "new_message": {"role": "user", "parts": [{"text": text}]},
        }

    async def turn(self, token: str, session: str, text: str) -> Turn:
        headers = self.auth(token, Accept="text/event-stream", **ATTRIBUTION)
        body = self.run_body(session, text)
        async with self.http.stream("POST", "/run_sse", headers=headers, json=body) as reply:
            turn = Turn(status=reply.status_code)
            if reply.status_code != 200:
                turn.body = json.loads(await reply.aread())
                return turn
            assert reply.headers["content-type"].startswith("text/event-stream")
            buffer = ""
            try:
                async for chunk in reply.aiter_text():
                    buffer += chunk
                    while "\n\n" in buffer:
                        raw, buffer = buffer.split("\n\n", 1)
                        turn.frames.append(raw)
                        data = "\n".join(
                            line[5:].lstrip()
                            for line in raw.split("\n")
                            if line.startswith("data:")
                        )
                        if data:
                            turn.events.append(json.loads(data))
            except httpx.RemoteProtocolError:
                turn.cut = True
            assert not buffer.strip() or turn.cut
        return turn

    async def state(self, token: str, session: str) -> dict[str, Any]:
        """The session state in the nested layout, whichever layout the server chose."""
        reply = await self.http.get(
            f"/api/state/nemo_agent/me/{session}/latest", headers=self.auth(token)
        )
        body = reply.json()
        assert body["code"] == 0, body
        data = body["data"]
        return data["state"] if "state" in data else data

    async def balance(self, token: str) -> dict[str, int]:
        reply = await self.http.get("/api/credits/balance/simple", headers=self.auth(token))
        return dict(reply.json()["data"])

    async def export(self, token: str, session: str, render_id: str) -> httpx.Response:
        draft = (await self.state(token, session))["draft"]
        body = {
            "id": render_id,
            "sessionId": session,
            "draft": draft,
            "output": {"format": "mp4", "quality": "high"},
        }
        headers = self.auth(token, **ATTRIBUTION)
        return await self.http.post("/api/render/proxy/lambda", headers=headers, json=body)

    async def wait_render(self, token: str, render_id: str, deadline: float = 15.0) -> list[Any]:
        """Polls until completed or failed; returns every status body seen."""
        seen: list[Any] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        while loop.time() < end:
            reply = await self.http.get(
                f"/api/render/proxy/lambda/{render_id}", headers=self.auth(token)
            )
            seen.append(reply.json())
            status = self.render_status(seen[-1])
            if status in ("completed", "failed"):
                return seen
            await asyncio.sleep(0.05)
        raise AssertionError(f"render {render_id} did not finish: {seen[-3:]}")

    @staticmethod
    async def poll(
        fetch: Callable[[], Awaitable[Any]], accept: Callable[[Any], bool], deadline: float = 5.0
    ) -> Any:
        """Fetches until `accept` holds or the deadline passes; returns the last value."""
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        while True:
            value = await fetch()
            if accept(value) or loop.time() >= end:
                return value
            await asyncio.sleep(0.02)

    async def faults(self, **changes: Any) -> dict[str, Any]:
        reply = await self.http.post("/_sim/faults", json=changes)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    @staticmethod
    def render_status(body: Any) -> str:
        """The status in either documented render layout."""
        return str(body["data"]["status"] if "data" in body else body["status"])

    @staticmethod
    def render_url(body: Any) -> str | None:
        if "data" in body:
            return body["data"].get("outputUrl")
        return (body.get("output") or {}).get("url")


@pytest.fixture
async def backend() -> AsyncIterator[LocalBackend]:
    async with LocalBackend(seed=7, faults=Faults(**FAST)) as running:
        yield running


@pytest.fixture
async def http(backend: LocalBackend) -> AsyncIterator[httpx.AsyncClient]:
    """A client that attributes every call, as the strict backend requires (tests of that rule
    make their own)."""
    async with httpx.AsyncClient(
        base_url=backend.base_url, timeout=20, headers=ATTRIBUTION
    ) as client:
        yield client


@pytest.fixture
def nemo(http: httpx.AsyncClient) -> Nemo:
    return Nemo(http)


@pytest.fixture
def nemo_class() -> type[Nemo]:
    """For tests that run their own backend."""
    return Nemo
