"""The road to the backend: connection pools, attribution headers, anonymous tokens, and the one
retry loop every call goes through (plain calls, the token call, and the opening of a turn).

The retry rules, held in `Transport.retrying` and nowhere else:
- `TokenRejected` (1001, 1010, 1011 or HTTP 401): renew the anonymous token with the same client
  id, retry once. A configured `NEMO_TOKEN` is never renewed. A token past its `expires_at` is
  renewed before it is used.
- One token request per client id is in flight at a time: concurrent renewals share it (the
  backend answers a second request within 7 days with 429, so a burst must not spend it).
- A 429 from the token call keeps the stored token when there is one (it may still be good);
  with none, the loop waits once and then raises `RateLimited` saying what ran out.
- `RateLimited` (HTTP 429): wait `retry_after_seconds`, retry once.
- Transport errors and `BackendUnavailable` (5xx): capped exponential backoff up to
  `max_attempts`, for idempotent calls only. A turn or an upload is never re-sent: it charges.

Every answer is read within `client_envelopes.MAX_BODY_BYTES` before it is parsed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx

from core import SKILL_SOURCE
from core.client_envelopes import Answer, parse, read_capped, unwrap
from core.errors import BackendUnavailable, MissingClientId, RateLimited, TokenRejected
from core.jsonio import json_bytes
from core.models import Token
from core.wire import AiohttpTransport

RenewHook = Callable[["Credentials"], Awaitable[None]]
ReloadHook = Callable[["Credentials"], Awaitable[None]]
TOKEN_PATH = "/api/auth/anonymous-token"
_T = TypeVar("_T")


@dataclass
class Credentials:
    """Who a call is made as. Mutable: a renewed token replaces the old one in place."""

    client_id: str
    platform: str = "console"
    token: str | None = None
    user_id: str | None = None
    fixed: bool = False  # a configured NEMO_TOKEN: cannot be renewed anonymously
    on_renew: RenewHook | None = None
    # Reads the token another process of the same tenant stored; called when the backend
    # refuses this client id a new token (429) and none is held here.
    reload: ReloadHook | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)
    expires_at: float | None = None  # `time.time()` instant the token lapses; None: unknown

    def __repr__(self) -> str:  # never show the token
        return f"Credentials(client_id={self.client_id!r}, platform={self.platform!r})"

    @property
    def expired(self) -> bool:
        """The token is known to lapse within `EXPIRY_MARGIN` seconds (so renew it first)."""
        return self.expires_at is not None and self.expires_at - EXPIRY_MARGIN <= time.time()


EXPIRY_MARGIN = 60.0


def expiry_time(value: str | None) -> float | None:
    """An ISO 8601 `expires_at` (with `Z` or an offset) as a `time.time()` instant."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


@dataclass(frozen=True)
class ClientTiming:
    retry_after_seconds: float = 30.0
    backoff_seconds: float = 0.5
    backoff_cap_seconds: float = 8.0
    max_attempts: int = 4
    turn_timeout_seconds: float = 900.0
    stream_idle_seconds: float = 180.0
    heartbeat_only_seconds: float = 600.0  # a turn with nothing but heartbeats this long is over
    request_timeout_seconds: float = 30.0


def new_client_id() -> str:
    return f"jupiter-{uuid.uuid4().hex}"


class Transport:
    """`wire`: the aiohttp transport under `http`, when it is one; the JSON calls
    (`AiohttpTransport.exchange`) and the turn's stream (`open_stream`) then go straight to it,
    uploads and the media guard's fetches through httpx."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        timing: ClientTiming,
        version: str,
        wire: AiohttpTransport | None = None,
    ) -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self.timing = timing
        self._version = version
        self._wire = wire
        # the httpx client's own (User-Agent), for the direct road; httpx gives them lower-case
        self._client_headers = dict(http.headers.items()) | {"accept-encoding": "gzip, deflate"}
        self._token_calls: dict[str, asyncio.Future[Token]] = {}  # in flight, by client id

    def headers(self, creds: Credentials | None, platform: str) -> dict[str, str]:
        headers = {
            "X-Skill-Source": SKILL_SOURCE,
            "X-Skill-Version": self._version,
            "X-Skill-Platform": platform,
            "Accept": "application/json",
        }
        if creds is not None and creds.token:
            headers["Authorization"] = f"Bearer {creds.token}"
        return headers

    async def retrying(
        self,
        creds: Credentials | None,
        attempt: Callable[[], Awaitable[_T]],
        *,
        idempotent: bool,
    ) -> _T:
        """Run `attempt` under the retry rules of the module docstring. `creds` is None for the
        token call itself, which cannot be renewed."""
        renewed = waited = False
        tries = 0
        if creds is not None and not creds.fixed and (creds.token is None or creds.expired):
            await self.renew(creds, creds.token)
        while True:
            tries += 1
            used_token = creds.token if creds is not None else None
            try:
                return await attempt()
            except TokenRejected:
                if creds is None or creds.fixed or renewed:
                    raise
                renewed = True
                await self.renew(creds, used_token)
            except RateLimited:
                if waited:
                    raise
                waited = True
                await asyncio.sleep(self.timing.retry_after_seconds)
            except (httpx.TransportError, BackendUnavailable) as exc:
                if not idempotent or tries >= self.timing.max_attempts:
                    if isinstance(exc, httpx.TransportError):
                        raise transport_error(exc) from None
                    raise
                await asyncio.sleep(self._backoff(tries))

    async def call(
        self,
        method: str,
        path: str,
        creds: Credentials,
        *,
        idempotent: bool,
        json_body: Any = None,
        body: Callable[[], tuple[dict[str, str], Any]] | None = None,
    ) -> Any:
        """One logical call; returns `data`. `body` builds a streamed body per attempt."""

        async def attempt() -> Any:
            headers = self.headers(creds, creds.platform)
            if body is None and self._wire is not None:
                return await self._exchange(method, path, headers, json_body)
            content = None
            if body is not None:
                extra, content = body()
                headers.update(extra)
            http = self.http
            request = http.build_request(
                method,
                self.base + path,
                headers=headers,
                json=json_body if content is None else None,
                content=content,
                timeout=self.timing.request_timeout_seconds if content is None else None,
            )
            return await self.answer(http, request, path)

        return await self.retrying(creds, attempt, idempotent=idempotent)

    @property
    def wire(self) -> AiohttpTransport | None:
        return self._wire

    def direct_headers(self, headers: dict[str, str]) -> dict[str, str]:
        """A call's headers on the direct road: the httpx client's own, then the call's, by
        name (lower-case, as httpx gives its own)."""
        return self._client_headers | {name.lower(): value for name, value in headers.items()}

    async def _exchange(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        json_body: Any = None,
        *,
        missing_id: bool = False,
    ) -> Any:
        """`answer`'s work on the direct road (see the class docstring)."""
        assert self._wire is not None
        content = None
        headers = self.direct_headers(headers)
        if json_body is not None:
            content = json_bytes(json_body)
            headers["content-type"] = "application/json"
        response = await self._wire.exchange(
            method,
            self.base + path,
            headers,
            content,
            seconds=self.timing.request_timeout_seconds,
        )
        return await _read_answer(response, path, missing_id=missing_id)

    async def answer(
        self,
        http: httpx.AsyncClient,
        request: httpx.Request,
        path: str,
        *,
        missing_id: bool = False,
    ) -> Any:
        """Send `request` and read its answer within `MAX_BODY_BYTES` (never held whole past
        it); `missing_id`: an HTTP 400 is the token call's missing client id."""
        return await _read_answer(
            await http.send(request, stream=True), path, missing_id=missing_id
        )

    async def anonymous_token(
        self, client_id: str, platform: str = "console", *, patient: bool = True
    ) -> Token:
        """A new anonymous token; callers asking for the same client id meanwhile share the one
        request. `patient`: wait out one 429 (else the first 429 is raised at once)."""
        pending = self._token_calls.get(client_id)
        if pending is None:
            pending = asyncio.ensure_future(self._request_token(client_id, platform, patient))
            self._token_calls[client_id] = pending
            pending.add_done_callback(lambda done: self._token_done(client_id, done))
        return await asyncio.shield(pending)

    def _token_done(self, client_id: str, done: asyncio.Future[Token]) -> None:
        if self._token_calls.get(client_id) is done:
            del self._token_calls[client_id]
        if not done.cancelled():
            done.exception()  # retrieved here: a caller that went away must not leave it unread

    async def _request_token(self, client_id: str, platform: str, patient: bool) -> Token:
        headers = self.headers(None, platform)
        headers["X-Client-Id"] = client_id

        async def attempt() -> Any:
            if self._wire is not None:
                return await self._exchange("POST", TOKEN_PATH, headers, missing_id=True)
            http = self.http
            request = http.build_request(
                "POST",
                self.base + TOKEN_PATH,
                headers=headers,
                timeout=self.timing.request_timeout_seconds,
            )
            return await self.answer(http, request, TOKEN_PATH, missing_id=True)

        if not patient:
            return parse(Token, await attempt())
        return parse(Token, await self.retrying(None, attempt, idempotent=True))

    async def renew(self, creds: Credentials, stale_token: str | None) -> None:
        """Get a fresh anonymous token unless another task already replaced `stale_token`.
        A 429 keeps a stored token (see the module docstring)."""
        if creds.fixed:
            raise TokenRejected("the configured NEMO_TOKEN was rejected", code=1001)
        async with creds.lock:
            if creds.token is not None and creds.token != stale_token:
                return
            try:
                token = await self._fetch(creds)
            except RateLimited:
                if creds.token is None and creds.reload is not None:
                    await creds.reload(creds)
                if creds.token is not None:
                    return  # keep using the token we have until the backend refuses it
                raise RateLimited(
                    "no NemoVideo token could be had: the anonymous-token limit was reached "
                    "(one per client a week, about ten per address); set NEMO_TOKEN"
                ) from None
            creds.token = token.token
            creds.user_id = token.user_id or creds.user_id
            creds.expires_at = expiry_time(token.expires_at)
            if creds.on_renew is not None:
                await creds.on_renew(creds)

    async def _fetch(self, creds: Credentials) -> Token:
        patient = creds.token is None
        try:
            return await self.anonymous_token(creds.client_id, creds.platform, patient=patient)
        except MissingClientId:
            creds.client_id = new_client_id()
            return await self.anonymous_token(creds.client_id, creds.platform, patient=patient)

    def _backoff(self, attempt: int) -> float:
        timing = self.timing
        return float(min(timing.backoff_cap_seconds, timing.backoff_seconds * 2 ** (attempt - 1)))


async def _read_answer(response: Answer, path: str, *, missing_id: bool) -> Any:
    """The `data` of an answer read within `MAX_BODY_BYTES`, the answer closed either way."""
    try:
        if missing_id and response.status_code == 400:
            raise MissingClientId("the token call was refused for a missing client id")
        content = await read_capped(response)
    finally:
        await response.aclose()
    return unwrap(response.status_code, path, content)


def transport_error(exc: httpx.TransportError) -> BackendUnavailable:
    if isinstance(exc, httpx.TimeoutException):
        return BackendUnavailable("the video service did not answer in time")
    return BackendUnavailable(f"the video service is unreachable ({exc.__class__.__name__})")
