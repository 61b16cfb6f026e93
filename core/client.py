"""The NemoVideo backend client: one shared `httpx.AsyncClient`, typed answers, careful retries.

What must hold:
- Attribution headers on every request; `X-Client-Id` on the token call; `Bearer` elsewhere.
  The token is never put in a URL, a log line or an exception message.
- Every call goes through the one retry loop of `core.client_transport` (1001 renewed once,
  429 waited out once, transport errors and 5xx backed off for idempotent calls only).
- A turn (`run_turn`, see `core.client_turns`) yields whole typed events and raises in-stream
  errors as `core.errors` types; it is never re-sent once the backend may have accepted it.
- A duplicate render id is raised as `DuplicateRenderId`, not retried here: the caller persists
  a job row for every id before starting it, so it owns the one retry with a new id.
- HTTP 402 on a render is `ExportBlocked` (a plan matter), never retried.
- A finished video is fetched only under the media guard (`client_media`): public addresses or
  the backend's own host, redirects checked by hand, bytes capped; else the fallback download.
- The task detail link is `task_link(NEMO_WEB_URL, await claim_token(...))`; the session's
  `task_id` comes from `create_session`. No link ever carries an `nmv_usr_` token.

Its parts: `client_transport` (pools, headers, tokens, retries), `client_envelopes` (answers to
data or errors), `client_turns` (the SSE turn), `client_uploads` (streamed multipart).
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import httpx

from core import __version__
from core.client_envelopes import parse
from core.client_media import MediaGuard, Resolver
from core.client_transport import ClientTiming, Credentials, Transport, new_client_id
from core.client_turns import run_turn
from core.client_uploads import multipart_stream
from core.errors import DuplicateRenderId
from core.files import MAX_UPLOAD_BYTES, check_upload
from core.models import (
    Balance,
    ClaimToken,
    Draft,
    RenderStatus,
    SessionInfo,
    State,
    Token,
    TurnEvent,
    UploadResult,
)
from core.wire import AiohttpTransport

StreamOpener = Callable[[], AsyncIterator[bytes]]
RENDER_PATH = "/api/render/proxy/lambda"
CLAIM_PATH = "/api/auth/claim-token"

__all__ = [
    "ClaimToken",
    "ClientTiming",
    "Credentials",
    "DuplicateRenderId",
    "NemoClient",
    "new_client_id",
    "task_link",
]


def task_link(web_url: str, claim: ClaimToken | str) -> str:
    """The task detail link `<web>/workspace/claim?ct=<clm_...>`: the only link that may point
    at a project (it opens the web editor and grants no API access; never an `nmv_usr_` token)."""
    value = claim.token if isinstance(claim, ClaimToken) else claim
    return f"{web_url.rstrip('/')}/workspace/claim?ct={quote(value, safe='')}"


class NemoClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        timing: ClientTiming | None = None,
        version: str = __version__,
        resolver: Resolver | None = None,
        wire: AiohttpTransport | None = None,
    ) -> None:
        """`resolver`: host name to addresses for the media guard (tests inject one). `wire`:
        the aiohttp transport under `http`, if it is one (its JSON calls and turn streams then
        go direct)."""
        self._transport = Transport(http, base_url, timing or ClientTiming(), version, wire)
        self._last_render_ms = 0
        self._media = MediaGuard(http, base_url, resolver)

    @property
    def timing(self) -> ClientTiming:
        return self._transport.timing

    @timing.setter
    def timing(self, timing: ClientTiming) -> None:
        self._transport.timing = timing

    # -- auth and sessions -----------------------------------------------------------------

    async def anonymous_token(self, client_id: str, platform: str = "console") -> Token:
        return await self._transport.anonymous_token(client_id, platform)

    async def renew(self, creds: Credentials, stale_token: str | None) -> None:
        """Get a fresh anonymous token unless another task already replaced `stale_token`."""
        await self._transport.renew(creds, stale_token)

    async def create_session(self, creds: Credentials, language: str = "en") -> SessionInfo:
        data = await self._transport.call(
            "POST",
            "/api/tasks/me/with-session/nemo_agent",
            creds,
            idempotent=False,
            json_body={"task_name": "project", "language": language},
        )
        info = parse(SessionInfo, data)
        if info.user_id and not creds.user_id:
            creds.user_id = info.user_id
        return info

    async def claim_token(self, creds: Credentials, task_id: str, session_id: str) -> ClaimToken:
        """A claim token for the task detail link (`task_link`); it expires (`expires_at`),
        after which a new one is needed. Safe to repeat: it charges nothing."""
        data = await self._transport.call(
            "POST",
            CLAIM_PATH,
            creds,
            idempotent=True,
            json_body={"task_id": task_id, "session_id": session_id},
        )
        return parse(ClaimToken, _claim_fields(data))

    async def balance(self, creds: Credentials) -> Balance:
        data = await self._transport.call(
            "GET", "/api/credits/balance/simple", creds, idempotent=True
        )
        return parse(Balance, data)

    async def state(self, creds: Credentials, session_id: str) -> State:
        path = f"/api/state/nemo_agent/me/{session_id}/latest"
        return parse(State, await self._transport.call("GET", path, creds, idempotent=True))

    # -- turns and uploads -----------------------------------------------------------------

    def run_turn(self, creds: Credentials, session_id: str, text: str) -> AsyncIterator[TurnEvent]:
        """Send one message; yield whole events until `EndEvent` (see `core.client_turns`)."""
        return run_turn(self._transport, creds, session_id, text)

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
        data = await self._transport.call(
            "POST",
            f"/api/upload-video/nemo_agent/me/{session_id}",
            creds,
            idempotent=False,
            body=lambda: multipart_stream(filename, content_type, size, opener()),
        )
        return parse(UploadResult, data)

    # -- renders and their videos ----------------------------------------------------------

    def new_render_id(self) -> str:
        """`render_<ms>`, strictly increasing within this process, so rapid calls never collide."""
        now = int(time.time() * 1000)
        self._last_render_ms = max(now, self._last_render_ms + 1)
        return f"render_{self._last_render_ms}"

    async def start_render(
        self, creds: Credentials, session_id: str, draft: Draft, render_id: str | None = None
    ) -> RenderStatus:
        """Start a render of `draft` as sent back unchanged. A taken id raises
        `DuplicateRenderId`; the caller retries with a new id (see the module docstring)."""
        render_id = render_id or self.new_render_id()
        data = await self._transport.call(
            "POST",
            RENDER_PATH,
            creds,
            idempotent=False,
            json_body={
                "id": render_id,
                "sessionId": session_id,
                "draft": draft.raw,
                "output": {"format": "mp4", "quality": "high"},
            },
        )
        status = parse(RenderStatus, data)
        return status if status.id else status.model_copy(update={"id": render_id})

    async def render_status(self, creds: Credentials, render_id: str) -> RenderStatus:
        path = f"{RENDER_PATH}/{render_id}"
        status = parse(
            RenderStatus, await self._transport.call("GET", path, creds, idempotent=True)
        )
        return status if status.id else status.model_copy(update={"id": render_id})

    async def cancel_render(self, creds: Credentials, render_id: str) -> None:
        path = f"{RENDER_PATH}/{render_id}/cancel"
        await self._transport.call("POST", path, creds, idempotent=True)

    # Media: every fetch goes through the guard of `core.client_media`.

    async def media_size(self, url: str) -> int | None:
        """The size of a finished video from a HEAD request, when the server says (None too
        when the guard refuses the address)."""
        return await self._media.size(url)

    def download(self, url: str, limit: int = MAX_UPLOAD_BYTES) -> AsyncIterator[bytes]:
        """Stream a finished video (no auth header: output URLs are public links), at most
        `limit` bytes and its declared length; an address the guard refuses raises."""
        return self._media.stream(url, limit)

    def fallback_url(self, render_id: str) -> str:
        return f"{self._transport.base}/api/render/proxy/{quote(render_id, safe='')}/download"

    async def video(
        self, creds: Credentials, render_id: str, url: str, limit: int, size: int | None = None
    ) -> tuple[int, AsyncIterator[bytes]] | None:
        """A finished video's size and bytes within `limit`, from `url` when the guard allows it
        and it answers, else from the protocol's fallback download (the backend's own host,
        behind the token); None when neither gives a size that fits."""
        if await self._media.allows(url):
            known = size or await self._media.size(url)
            if known is not None:
                return (known, self._media.stream(url, known)) if known <= limit else None
        fallback = self.fallback_url(render_id)
        headers = self._transport.headers(creds, creds.platform)
        known = await self._media.size(fallback, headers)
        if known is None or known > limit:
            return None
        return known, self._media.stream(fallback, known, headers)


def _claim_fields(data: Any) -> Any:
    """`expires_in` (seconds from now) as an absolute `expires_at`."""
    if not isinstance(data, dict):
        return data
    token = data.get("claim_token", data.get("claimToken", data.get("token")))
    expires_in = data.get("expires_in", data.get("expiresIn"))
    seconds = float(expires_in) if isinstance(expires_in, int | float) else 7 * 24 * 3600.0
    return {"claim_token": token, "expires_at": time.time() + seconds}
