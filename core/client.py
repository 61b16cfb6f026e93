"""The NemoVideo backend client: one shared `httpx.AsyncClient`, typed answers, careful retries.

What must hold:
- Attribution headers on every request; `X-Client-Id` on the token call; `Bearer` elsewhere.
  The token is never put in a URL, a log line or an exception message.
- 1001 renews the anonymous token with the same client id and retries once; HTTP 429 waits
  `retry_after` seconds and retries once; HTTP 400 on the token call means a missing client id,
  so a fresh one is generated and the call retried.
- Transport errors and 5xx retry with capped exponential backoff, but only for idempotent calls.
  A turn (`/run_sse`) is never re-sent once the backend may have accepted it: it charges twice.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import mimetypes
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from core import SKILL_SOURCE, __version__
from core.errors import (
    BackendUnavailable,
    MissingClientId,
    NemoError,
    ProtocolError,
    RateLimited,
    RenderFailed,
    RenderTimedOut,
    SessionNotFound,
    StreamInterrupted,
    TokenRejected,
    TurnTimedOut,
    error_for_code,
)
from core.files import check_upload
from core.models import (
    Balance,
    Draft,
    EndEvent,
    RenderStatus,
    SessionInfo,
    State,
    Token,
    TurnEvent,
    UploadResult,
)
from core.sse import decode_event, iter_sse

RenewHook = Callable[["Credentials"], Awaitable[None]]
StreamOpener = Callable[[], AsyncIterator[bytes]]


@dataclass
class Credentials:
    """Who a call is made as. Mutable: a renewed token replaces the old one in place."""

    client_id: str
    platform: str = "console"
    token: str | None = None
    user_id: str | None = None
    fixed: bool = False  # a configured NEMO_TOKEN: cannot be renewed anonymously
    on_renew: RenewHook | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)

    def __repr__(self) -> str:  # never show the token
        return f"Credentials(client_id={self.client_id!r}, platform={self.platform!r})"


@dataclass
class _Refusals:
    """Retries already spent on one call: one token renewal (1001), one wait after HTTP 429."""

    renewed: bool = False
    waited: bool = False


class DuplicateRenderId(RenderFailed):
    pass


@dataclass(frozen=True)
class ClientTiming:
    retry_after_seconds: float = 30.0
    backoff_seconds: float = 0.5
    backoff_cap_seconds: float = 8.0
    max_attempts: int = 4
    turn_timeout_seconds: float = 900.0
    stream_idle_seconds: float = 180.0
    render_poll_seconds: float = 30.0
    render_timeout_seconds: float = 300.0
    request_timeout_seconds: float = 30.0


class NemoClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        timing: ClientTiming | None = None,
        version: str = __version__,
        stream_clients: Sequence[httpx.AsyncClient] = (),
    ) -> None:
        """`stream_clients`, when given, carry the API calls: turn streams spread by session,
        other calls in turn. httpx's pool does work proportional to its open connections on
        every request, so a thousand streams in one pool would slow every call (and the event
        loop) down. `http` itself is kept for downloads."""
        self._http = http
        self._streams = tuple(stream_clients) or (http,)
        self._next_pool = itertools.cycle(self._streams)
        self._base = base_url.rstrip("/")
        self.timing = timing or ClientTiming()
        self._version = version
        self._last_render_ms = 0

    # -- plumbing --------------------------------------------------------------------------

    def _pool(self) -> httpx.AsyncClient:
        return next(self._next_pool)

    def _headers(
        self, creds: Credentials | None, platform: str, *, auth: bool = True
    ) -> dict[str, str]:
        headers = {
            "X-Skill-Source": SKILL_SOURCE,
            "X-Skill-Version": self._version,
            "X-Skill-Platform": platform,
            "Accept": "application/json",
        }
        if auth and creds is not None and creds.token:
            headers["Authorization"] = f"Bearer {creds.token}"
        return headers

    async def _call(
        self,
        method: str,
        path: str,
        creds: Credentials,
        *,
        idempotent: bool,
        json_body: Any = None,
        stream_headers: Callable[[], tuple[dict[str, str], AsyncIterator[bytes]]] | None = None,
    ) -> Any:
        """One logical call with the retry policy of the module docstring; returns `data`."""
        refusals = _Refusals()
        attempt = 0
        await self._ensure_token(creds)
        while True:
            attempt += 1
            used_token = creds.token
            headers = self._headers(creds, creds.platform)
            content: AsyncIterator[bytes] | None = None
            if stream_headers is not None:
                extra, content = stream_headers()
                headers.update(extra)
            try:
                response = await self._pool().request(
                    method,
                    self._base + path,
                    headers=headers,
                    json=json_body if content is None else None,
                    content=content,
                    timeout=self.timing.request_timeout_seconds if content is None else None,
                )
                return self._unwrap(response, path)
            except (TokenRejected, RateLimited) as exc:
                await self._after_refusal(exc, creds, used_token, refusals)
            except httpx.TransportError as exc:
                if not idempotent or attempt >= self.timing.max_attempts:
                    raise _transport_error(exc) from None
                await asyncio.sleep(self._backoff(attempt))
            except BackendUnavailable:
                if not idempotent or attempt >= self.timing.max_attempts:
                    raise
                await asyncio.sleep(self._backoff(attempt))

    async def _ensure_token(self, creds: Credentials) -> None:
        if creds.token is None and not creds.fixed:
            await self.renew(creds, None)

    async def _after_refusal(
        self, exc: NemoError, creds: Credentials, used_token: str | None, seen: _Refusals
    ) -> None:
        """Prepare the one retry a refusal allows (a renewed token, or a wait after 429), or
        raise `exc` when that retry was already spent."""
        if isinstance(exc, TokenRejected) and not seen.renewed and not creds.fixed:
            seen.renewed = True
            await self.renew(creds, used_token)
        elif isinstance(exc, RateLimited) and not seen.waited:
            seen.waited = True
            await asyncio.sleep(self.timing.retry_after_seconds)
        else:
            raise exc

    def _backoff(self, attempt: int) -> float:
        return float(
            min(self.timing.backoff_cap_seconds, self.timing.backoff_seconds * 2 ** (attempt - 1))
        )

    def _unwrap(self, response: httpx.Response, path: str) -> Any:
        status = response.status_code
        if status == 429:
            raise RateLimited("the video service is busy (rate limited)")
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            body = None
        if status >= 500:
            raise BackendUnavailable(f"the video service answered HTTP {status}", code=status)
        if isinstance(body, dict):
            code = body.get("code")
            if isinstance(code, int) and code not in (0, 200):
                raise error_for_code(code, _text(body.get("message") or body.get("msg")))
            if body.get("success") is False and status != 402:
                error = (
                    _text(body.get("error") or body.get("message")) or "the render service refused"
                )
                if status == 409 or "duplicate" in error.lower():
                    raise DuplicateRenderId(error, code=409)
                raise RenderFailed(error, code=status if status >= 400 else None)
        if status == 401:
            raise TokenRejected("token expired or invalid", code=1001)
        if status == 402:
            raise error_for_code(402, "exporting needs a paid NemoVideo plan")
        if status == 404:
            detail = _text(body.get("detail")) if isinstance(body, dict) else ""
            if "/render/" in path:
                raise RenderFailed(detail or "render not found", code=404)
            raise SessionNotFound(detail or "session not found")
        if status == 409 and "/render/" in path:
            raise DuplicateRenderId("duplicate render id", code=409)
        if status >= 400:
            raise error_for_code(
                status, _text(body.get("message")) if isinstance(body, dict) else ""
            )
        if not isinstance(body, dict):
            raise ProtocolError(f"unexpected answer from the video service (HTTP {status})")
        data = body.get("data", body) if ("code" in body or "success" in body) else body
        return data if data is not None else {}

    # -- auth and sessions -----------------------------------------------------------------

    async def anonymous_token(self, client_id: str, platform: str = "console") -> Token:
        headers = self._headers(None, platform, auth=False)
        headers["X-Client-Id"] = client_id
        response = await self._with_transport_retries(
            lambda: self._pool().post(
                self._base + "/api/auth/anonymous-token",
                headers=headers,
                timeout=self.timing.request_timeout_seconds,
            )
        )
        if response.status_code == 400:
            raise MissingClientId("the token call was refused for a missing client id")
        data = self._unwrap(response, "/api/auth/anonymous-token")
        return _parse(Token, data)

    async def _with_transport_retries(
        self, send: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        rate_retried = False
        for attempt in range(1, self.timing.max_attempts + 1):
            try:
                response = await send()
            except httpx.TransportError as exc:
                if attempt >= self.timing.max_attempts:
                    raise _transport_error(exc) from None
            else:
                if response.status_code == 429 and not rate_retried:
                    rate_retried = True
                    await asyncio.sleep(self.timing.retry_after_seconds)
                    continue
                if response.status_code < 500 or attempt >= self.timing.max_attempts:
                    return response
            await asyncio.sleep(self._backoff(attempt))
        raise BackendUnavailable("the video service is unreachable")  # pragma: no cover

    async def renew(self, creds: Credentials, stale_token: str | None) -> None:
        """Get a fresh anonymous token unless another task already replaced `stale_token`."""
        if creds.fixed:
            raise TokenRejected("the configured NEMO_TOKEN was rejected", code=1001)
        async with creds.lock:
            if creds.token is not None and creds.token != stale_token:
                return
            try:
                token = await self.anonymous_token(creds.client_id, creds.platform)
            except MissingClientId:
                creds.client_id = new_client_id()
                token = await self.anonymous_token(creds.client_id, creds.platform)
            creds.token = token.token
            creds.user_id = token.user_id or creds.user_id
            if creds.on_renew is not None:
                await creds.on_renew(creds)

    async def create_session(self, creds: Credentials, language: str = "en") -> SessionInfo:
        data = await self._call(
            "POST",
            "/api/tasks/me/with-session/nemo_agent",
            creds,
            idempotent=False,
            json_body={"task_name": "project", "language": language},
        )
        info = _parse(SessionInfo, data)
        if info.user_id and not creds.user_id:
            creds.user_id = info.user_id
        return info

    async def balance(self, creds: Credentials) -> Balance:
        data = await self._call("GET", "/api/credits/balance/simple", creds, idempotent=True)
        return _parse(Balance, data)

    async def state(self, creds: Credentials, session_id: str) -> State:
        data = await self._call(
            "GET", f"/api/state/nemo_agent/me/{session_id}/latest", creds, idempotent=True
        )
        return _parse(State, data)

    # -- turns -----------------------------------------------------------------------------

    async def run_turn(
        self, creds: Credentials, session_id: str, text: str
    ) -> AsyncIterator[TurnEvent]:
        """Send one message and yield the agent's events until the stream closes.

        Retries (1001, 429) happen only before the backend accepted the turn. Once the stream is
        open, a break is reported as `StreamInterrupted` and nothing is re-sent.
        """
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"parts": [{"text": text}]},
        }
        timing = self.timing
        deadline = time.monotonic() + timing.turn_timeout_seconds
        timeout = httpx.Timeout(
            connect=15.0, read=timing.stream_idle_seconds, write=30.0, pool=15.0
        )
        refusals = _Refusals()
        await self._ensure_token(creds)
        while True:
            headers = self._headers(creds, creds.platform)
            headers["Accept"] = "text/event-stream"
            used_token = creds.token
            try:
                http = self._streams[zlib.crc32(session_id.encode()) % len(self._streams)]
                async with http.stream(
                    "POST", self._base + "/run_sse", json=body, headers=headers, timeout=timeout
                ) as response:
                    content_type = response.headers.get("content-type", "")
                    if response.status_code != 200 or "json" in content_type:
                        # refused before streaming; errors may come as HTTP 200 {"code":1001}
                        await response.aread()
                        self._unwrap(response, "/run_sse")
                        raise ProtocolError(f"the turn was refused (HTTP {response.status_code})")
                    events = iter_sse(response.aiter_bytes()).__aiter__()
                    while True:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise TurnTimedOut("the turn ran past its time limit")
                        try:
                            data = await asyncio.wait_for(events.__anext__(), remaining)
                        except StopAsyncIteration:
                            break
                        except TimeoutError:
                            raise TurnTimedOut("the turn ran past its time limit") from None
                        for event in decode_event(data):
                            yield event
                    yield EndEvent()
                    return
            except (TokenRejected, RateLimited) as exc:
                # refused before the stream opened: the turn was not taken, a retry is safe
                await self._after_refusal(exc, creds, used_token, refusals)
            except httpx.ReadTimeout:
                raise TurnTimedOut(
                    f"no word from the video service for {timing.stream_idle_seconds:g} s"
                ) from None
            except httpx.TransportError as exc:
                raise StreamInterrupted(
                    f"the connection to the video service broke ({exc.__class__.__name__})"
                ) from None

    # -- uploads ---------------------------------------------------------------------------

    async def upload_stream(
        self,
        creds: Credentials,
        session_id: str,
        filename: str,
        size: int,
        opener: StreamOpener,
    ) -> UploadResult:
        """Stream one file as multipart field `files`; `opener` yields its bytes (called per attempt)."""
        check_upload(filename, size)
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"

        def build() -> tuple[dict[str, str], AsyncIterator[bytes]]:
            return multipart_stream(filename, content_type, size, opener())

        data = await self._call(
            "POST",
            f"/api/upload-video/nemo_agent/me/{session_id}",
            creds,
            idempotent=False,
            stream_headers=build,
        )
        return _parse(UploadResult, data)

    async def upload_urls(
        self, creds: Credentials, session_id: str, urls: list[str]
    ) -> UploadResult:
        for url in urls:
            check_upload(url.split("?", 1)[0].rsplit("/", 1)[-1], None)
        data = await self._call(
            "POST",
            f"/api/upload-video/nemo_agent/me/{session_id}",
            creds,
            idempotent=False,
            json_body={"urls": urls, "source_type": "url"},
        )
        return _parse(UploadResult, data)

    # -- renders ---------------------------------------------------------------------------

    def new_render_id(self) -> str:
        now = int(time.time() * 1000)
        self._last_render_ms = max(now, self._last_render_ms + 1)
        return f"render_{self._last_render_ms}"

    async def start_render(
        self,
        creds: Credentials,
        session_id: str,
        draft: Draft,
        render_id: str | None = None,
        *,
        retry_duplicate: bool = True,
    ) -> RenderStatus:
        """Start a render; a duplicate id is retried once with a fresh one (unless the caller
        tracks ids itself and asks for `retry_duplicate=False`)."""
        render_id = render_id or self.new_render_id()
        for attempt in (1, 2) if retry_duplicate else (2,):
            try:
                data = await self._call(
                    "POST",
                    "/api/render/proxy/lambda",
                    creds,
                    idempotent=False,
                    json_body={
                        "id": render_id,
                        "sessionId": session_id,
                        "draft": draft.raw,
                        "output": {"format": "mp4", "quality": "high"},
                    },
                )
            except DuplicateRenderId:
                if attempt == 2:
                    raise
                render_id = self.new_render_id()
                continue
            status = _parse(RenderStatus, data)
            return status if status.id else status.model_copy(update={"id": render_id})
        raise RenderFailed("could not start the render")  # pragma: no cover

    async def render_status(self, creds: Credentials, render_id: str) -> RenderStatus:
        data = await self._call(
            "GET", f"/api/render/proxy/lambda/{render_id}", creds, idempotent=True
        )
        status = _parse(RenderStatus, data)
        return status if status.id else status.model_copy(update={"id": render_id})

    async def cancel_render(self, creds: Credentials, render_id: str) -> None:
        await self._call(
            "POST", f"/api/render/proxy/lambda/{render_id}/cancel", creds, idempotent=True
        )

    async def wait_render(
        self,
        creds: Credentials,
        render_id: str,
        on_progress: Callable[[RenderStatus], Awaitable[None]] | None = None,
    ) -> RenderStatus:
        """Poll until the render finishes; give up after the documented bound."""
        deadline = time.monotonic() + self.timing.render_timeout_seconds
        while True:
            status = await self.render_status(creds, render_id)
            if status.finished:
                if not status.succeeded:
                    raise RenderFailed(status.error or f"the render ended {status.status}")
                return status
            if on_progress is not None:
                await on_progress(status)
            if time.monotonic() >= deadline:
                raise RenderTimedOut("the render did not finish in time")
            await asyncio.sleep(self.timing.render_poll_seconds)

    async def media_size(self, url: str) -> int | None:
        """The size of a finished video from a HEAD request, when the server says."""
        try:
            response = await self._pool().head(url, timeout=15.0, follow_redirects=True)
        except httpx.TransportError:
            return None
        length = response.headers.get("content-length")
        return int(length) if response.status_code == 200 and length and length.isdigit() else None

    async def download(self, url: str) -> AsyncIterator[bytes]:
        """Stream a finished video (no auth header: output URLs are public links)."""
        async with self._pool().stream(
            "GET", url, timeout=httpx.Timeout(30.0, read=120.0)
        ) as response:
            if response.status_code != 200:
                raise BackendUnavailable(
                    f"the video could not be downloaded (HTTP {response.status_code})"
                )
            async for chunk in response.aiter_bytes(256 * 1024):
                yield chunk


def multipart_stream(
    filename: str, content_type: str, size: int, chunks: AsyncIterator[bytes]
) -> tuple[dict[str, str], AsyncIterator[bytes]]:
    """A `multipart/form-data` body with one `files` part, streamed with a known length."""
    boundary = uuid.uuid4().hex
    safe_name = "".join(ch for ch in filename if ch not in '"\r\n\\') or "upload"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="files"; filename="{safe_name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        sent = 0
        async for chunk in chunks:
            sent += len(chunk)
            if sent > size:
                raise NemoError(f"{filename!r} is larger than announced")
            yield chunk
        if sent != size:
            raise NemoError(f"{filename!r} ended after {sent} of {size} bytes")
        yield tail

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
    }
    return headers, body()


_M = TypeVar("_M", bound=BaseModel)


def _parse(model: type[_M], data: Any) -> _M:
    """A typed answer, or `ProtocolError` when the backend's JSON has the wrong shape."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "answer"
        raise ProtocolError(
            f"unexpected answer from the video service ({model.__name__}.{where})"
        ) from None


def new_client_id() -> str:
    return f"jupiter-{uuid.uuid4().hex}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _transport_error(exc: httpx.TransportError) -> BackendUnavailable:
    if isinstance(exc, httpx.TimeoutException):
        return BackendUnavailable("the video service did not answer in time")
    return BackendUnavailable(f"the video service is unreachable ({exc.__class__.__name__})")
