"""A scripted NemoVideo behind `httpx.MockTransport`: answers by route, records every request.

Each route holds a queue of answers; the last one repeats. An answer is a `Reply` (built fresh for
every request, so a streamed body is never reused), an exception (raised as the transport would),
or a function of the request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.client import ClientTiming, Credentials, NemoClient

BASE = "https://nemo.test"
VERSION = "9.9.9"
PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"

TOKEN_PATH = "/api/auth/anonymous-token"
SESSION_PATH = "/api/tasks/me/with-session/nemo_agent"
BALANCE_PATH = "/api/credits/balance/simple"
RUN_PATH = "/run_sse"
RENDER_PATH = "/api/render/proxy/lambda"


def state_path(sid: str) -> str:
    return f"/api/state/nemo_agent/me/{sid}/latest"


def upload_path(sid: str) -> str:
    return f"/api/upload-video/nemo_agent/me/{sid}"


FAST = ClientTiming(
    retry_after_seconds=0.01,
    backoff_seconds=0.001,
    backoff_cap_seconds=0.004,
    max_attempts=4,
    turn_timeout_seconds=5.0,
    stream_idle_seconds=5.0,
    request_timeout_seconds=5.0,
)


def payload(name: str) -> Any:
    """A JSON fixture from tests/payloads/client_<name>.json."""
    return json.loads((PAYLOADS / f"client_{name}.json").read_text(encoding="utf-8"))


def sse(*events: Any) -> bytes:
    """Frames as the backend writes them: `data: <json>` and a blank line each."""
    return b"".join(
        b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n" for event in events
    )


Chunk = bytes | BaseException | float  # a float is a pause in seconds


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # JSON
    raw: bytes | None = None
    chunks: tuple[Chunk, ...] | Callable[[], AsyncIterator[bytes]] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def build(self) -> httpx.Response:
        if self.chunks is not None:
            stream = self.chunks() if callable(self.chunks) else _play(self.chunks)
            headers = {"content-type": "text/event-stream", **self.headers}
            return httpx.Response(self.status, headers=headers, content=stream)
        if self.raw is not None:
            return httpx.Response(self.status, headers=self.headers, content=self.raw)
        return httpx.Response(self.status, headers=self.headers, json=self.body)


async def _play(chunks: Iterable[Chunk]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        if isinstance(chunk, BaseException):
            raise chunk
        if isinstance(chunk, float):
            await asyncio.sleep(chunk)
            continue
        yield chunk


def ok(data: Any) -> Reply:
    return Reply(body={"code": 0, "message": "success", "data": data})


def success(data: Any) -> Reply:
    return Reply(body={"success": True, "data": data})


def code(number: int, message: str = "refused", status: int = 200) -> Reply:
    return Reply(status, {"code": number, "message": message, "data": None})


def stream(*chunks: Chunk) -> Reply:
    return Reply(chunks=chunks)


def token_reply(token: str = "nmv_usr_fresh") -> Reply:
    return ok(
        {"token": token, "user_id": "anon_42", "expires_at": "2030-01-01T00:00:00Z", "credits": 100}
    )


Answer = Reply | BaseException | Callable[[httpx.Request], Any]


PUBLIC_HOSTS = {"cdn.example": "93.184.216.34", "cdn6.example": "2606:2800:220:1::1"}


async def resolve(host: str) -> list[str]:
    """Names as the media guard sees them, without the network: the fake CDN is public, every
    other name is whatever address it spells (so `10.0.0.8.nip.example` style names are easy)."""
    if host in PUBLIC_HOSTS:
        return [PUBLIC_HOSTS[host]]
    return [host.removesuffix(".internal.example")]


class Backend:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._routes: dict[tuple[str, str], list[Answer]] = {}
        self.http: httpx.AsyncClient | None = None

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self._routes[(method, path)] = list(answers)

    def client(self, **timing: Any) -> NemoClient:
        assert self.http is not None
        base = FAST if not timing else ClientTiming(**{**FAST.__dict__, **timing})
        return NemoClient(self.http, BASE, base, version=VERSION, resolver=resolve)

    def calls(self, path: str | None = None) -> list[httpx.Request]:
        return [r for r in self.requests if path is None or r.url.path == path]

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answers = self._routes.get((request.method, request.url.path))
        if not answers:
            return httpx.Response(404, json={"detail": "Not Found"})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Reply):
            return answer.build()
        result = answer(request)
        return result.build() if isinstance(result, Reply) else result


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    fake = Backend()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        fake.http = http
        yield fake


@pytest.fixture
def nemo(backend: Backend) -> NemoClient:
    return backend.client()


@pytest.fixture
def creds() -> Credentials:
    """Credentials that already hold a token, so only the call under test is made."""
    return Credentials(client_id="cid-1", platform="slack", token="nmv_usr_old", user_id="anon_42")
