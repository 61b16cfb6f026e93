"""The one Slack Web API client, pointed at `SLACK_API_URL`, that survives Slack's bad moments.

Web API calls survive rate limits (429, honouring `Retry-After`) and brief server errors, and
each retry is counted in `jupiter_chat_api_retries_total`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.web.deprecation import show_deprecation_warning_if_any
from slack_sdk.web.internal_utils import _get_url, get_user_agent

from core import http1
from core.http1 import Limits, Pool
from core.jsonio import json_bytes
from core.metrics import Metrics

from .settings import SlackSettings

log = logging.getLogger("jupiter.slack")


def api_base(url: str) -> str:
    """slack_sdk joins method names onto the base with `urljoin`: it must end with a slash."""
    return url if url.endswith("/") else url + "/"


class _ProportionalJitter(Jitter):
    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random() / 10)


class _RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Waits exactly what `Retry-After` asks (plus a sliver), and counts the retry."""

    def __init__(self, metrics: Metrics, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._metrics = metrics

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("rate limited without a response")
        state.next_attempt_requested = True
        wait = 1.0
        for name, values in response.headers.items():
            if name.lower() == "retry-after" and values:
                try:
                    wait = max(float(values[0]), 0.0)
                except ValueError:
                    pass
        self._metrics.chat_retries.labels(platform="slack").inc()
        log.info("slack rate limited, retrying", extra={"retry_after": wait})
        await asyncio.sleep(_ProportionalJitter().recalculate(wait))
        state.increment_current_attempt()


SERVER_ERRORS = frozenset({500, 502, 503, 504})
CONNECTION_ERRORS = (ServerConnectionError, ServerDisconnectedError, ClientOSError)


class _TransientRetry(AsyncRetryHandler):
    """Retries a brief server error or a dropped connection after a jittered backoff, and
    counts each retry (`max_retry_count` differs: a 5xx twice, a connection once)."""

    def __init__(self, metrics: Metrics, backoff: float, *, max_retry_count: int) -> None:
        calculator = BackoffRetryIntervalCalculator(backoff, jitter=_ProportionalJitter())
        super().__init__(max_retry_count=max_retry_count, interval_calculator=calculator)
        self._metrics = metrics

    def transient(self, response: HttpResponse | None, error: Exception | None) -> bool:
        return response is not None and response.status_code in SERVER_ERRORS

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        retry = self.transient(response, error)
        if retry:
            self._metrics.chat_retries.labels(platform="slack").inc()
        return retry


class _ConnectionRetry(_TransientRetry):
    def transient(self, response: HttpResponse | None, error: Exception | None) -> bool:
        return isinstance(error, CONNECTION_ERRORS)


TokenLookup = Callable[[str], Awaitable[str | None]]
_USER_AGENT = get_user_agent()

# Slack's answers are a few KB; the largest the bot asks for (a thread's replies, a page of
# 200) stay well under a megabyte. Anything past this is not an answer to hold whole.
ANSWER_MAX_BYTES = 16 * 1024 * 1024


class AnswerTooLarge(aiohttp.ClientPayloadError):
    """A Web API answer over `ANSWER_MAX_BYTES` (declared or as it arrived, decoded)."""


class BoundedResponse(aiohttp.ClientResponse):
    """The Web API session's responses (`response_class`): the body is read within
    `ANSWER_MAX_BYTES` as it arrives, decoded, on both roads (slack_sdk's reads it with
    `text()`/`json()`, which read through here). A huge or endless answer fails the call
    with `AnswerTooLarge` instead of growing the process. An answer that declares its length
    and is not compressed is read whole at once: aiohttp's parser reads no byte past the
    declared length, and the declaration was checked against the bound."""

    async def read(self) -> bytes:
        if self._body is None:
            try:
                self._body = await self._within(ANSWER_MAX_BYTES)
            except BaseException:
                self.close()
                raise
        return await super().read()

    async def _within(self, limit: int) -> bytes:
        declared = self.content_length
        if declared is not None and declared > limit:
            raise AnswerTooLarge(f"Slack's answer is too large ({declared} bytes declared)")
        if declared is not None and self.headers.get("Content-Encoding", "identity") == "identity":
            return await self.content.read()  # the parser reads no byte past the declared length
        parts: list[bytes] = []
        total = 0
        while chunk := await self.content.readany():
            total += len(chunk)
            if total > limit:
                raise AnswerTooLarge(f"Slack's answer is too large (over {limit} bytes)")
            parts.append(chunk)
        return b"".join(parts)


_POOLS: weakref.WeakKeyDictionary[aiohttp.ClientSession, Pool] = weakref.WeakKeyDictionary()
CALL_CONNECTIONS = 256  # kept-alive connections to Slack for the JSON POSTs


@contextlib.asynccontextmanager
async def own_road(session: aiohttp.ClientSession) -> AsyncIterator[Pool]:
    """While inside, the JSON POSTs of every client on `session` go on a pool of kept-alive
    connections of their own (`core.http1`, see `WebClient`); closed on the way out."""
    pool = _POOLS[session] = Pool(limit=CALL_CONNECTIONS, keepalive=30.0)
    try:
        yield pool
    finally:
        _POOLS.pop(session, None)
        await pool.aclose()


class WebClient(AsyncWebClient):
    """slack_sdk's client with a shorter road for the calls a conversation makes: a JSON POST
    (`chat.update`, `chat.postMessage`, the assistant status) or a GET with plain parameters
    (`users.info`), on the shared session.

    slack_sdk's own request path costs about a third again of the aiohttp request under it
    (its retry bookkeeping per attempt, the response read through aiohttp's JSON helper with
    the standard library), and the aiohttp request itself three to four times what the same
    exchange costs on `core.http1`. This one sends the same request on the session's own
    pool (`own_road`), reads the body within `ANSWER_MAX_BYTES` with orjson, and asks the same
    retry handlers only when Slack did not answer 200 (the handlers retry 429s, server errors
    and dropped connections, never a 200) or the connection failed. What it returns goes
    through slack_sdk's response and `validate` as before, so errors are the same
    `SlackApiError`. Every other call (forms, files; and every call of a client with its own
    `ssl` or `proxy`, or on a session without the pool) takes slack_sdk's road.

    `api_call` shortens the way to it for those calls: the method's URL is joined once, and
    checked for deprecation once, not on every call (a tenth of a call's CPU); the request's
    arguments are slack_sdk's (the client's default parameters, a `token` argument over the
    client's, its headers over the defaults)."""

    _joined: dict[tuple[str, str], str] | None = None

    async def api_call(  # type: ignore[override]
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = None,
    ) -> AsyncSlackResponse:
        if http_verb != "POST" or json is None or files or data or params or headers or auth:
            return await super().api_call(
                api_method,
                http_verb=http_verb,
                files=files,
                data=data,
                params=params,
                json=json,
                headers=headers,
                auth=auth,
            )
        url = self._url_of(api_method)
        body = {**self.default_params, **json}
        token = body.pop("token", None) or self.token
        req_args: dict[str, Any] = {
            "headers": self._json_headers(token),
            "json": body,
            "ssl": self.ssl,
            "proxy": self.proxy,
        }
        answer = await self._request(http_verb="POST", api_url=url, req_args=req_args)
        response = AsyncSlackResponse(
            client=self, http_verb="POST", api_url=url, req_args=req_args, **answer
        )
        return response.validate()  # type: ignore[no-any-return, no-untyped-call]

    def _url_of(self, api_method: str) -> str:
        if self._joined is None:
            self._joined = {}
        key = (self.base_url, api_method)
        url = self._joined.get(key)
        if url is None:
            show_deprecation_warning_if_any(api_method)
            url = self._joined[key] = _get_url(self.base_url, api_method)
        return url

    def _json_headers(self, token: str | None) -> dict[str, str]:
        headers = {} if "User-Agent" in self.headers else {"User-Agent": _USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(self.headers)
        headers["Content-Type"] = "application/json;charset=utf-8"
        return headers

    async def _request(self, *, http_verb: str, api_url: str, req_args: dict[str, Any]) -> Any:
        session = self.session
        pool = None if session is None or session.closed else _POOLS.get(session)
        road = _own_road(http_verb, api_url, req_args)
        if pool is None or road is None:
            return await super()._request(http_verb=http_verb, api_url=api_url, req_args=req_args)
        url, content = road
        headers = req_args["headers"]
        state = RetryState()
        request: HttpRequest | None = None
        for _ in range(100):  # as slack_sdk's own loop: the handlers' counts end it first
            state.next_attempt_requested = False
            try:
                status, answered, raw = await self._exchange(pool, url, headers, content)
            except Exception as exc:
                request = request or _retry_request(http_verb, url, headers)
                if not await self._retried(state, request, None, exc):
                    raise
                continue
            data = _json_or_none(raw)
            if status != 200:
                request = request or _retry_request(http_verb, url, headers)
                response = HttpResponse(status_code=status, headers=dict(answered), body=data)
                if await self._retried(state, request, response, None):
                    continue
            elif data is None:  # as slack_sdk: a 200 that is not JSON is an error
                text = raw[:200].decode(errors="replace")
                message = f"Received a response in a non-JSON format: {text}"
                # (the answer as a response with no data, so `exc.response.get` works)
                empty = AsyncSlackResponse(
                    client=self,
                    http_verb=http_verb,
                    api_url=api_url,
                    req_args=req_args,
                    data={},
                    headers=dict(answered),
                    status_code=status,
                )
                raise SlackApiError(message, empty)  # type: ignore[no-untyped-call]
            return {"data": data or {}, "headers": answered, "status_code": status}
        raise SlackRequestError("retried a Web API call a hundred times")

    async def _exchange(
        self, pool: Pool, url: str, headers: dict[str, str], content: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One call (a POST with `content`, else a GET) on the calls' own road (`core.http1`),
        its failures as aiohttp's (what the retry handlers and callers know): a connection that
        failed is `ServerDisconnectedError` (or `ClientOSError` when it was never made), and
        one that stayed silent is a `TimeoutError`, each phase within the client's `timeout`."""
        seconds = float(self.timeout)
        limits = Limits(connect=seconds, read=seconds, begin=seconds, total=seconds)
        try:
            method = "GET" if content is None else "POST"
            answer = await pool.request(method, url, headers.items(), content, limits)
            raw = await answer.read(ANSWER_MAX_BYTES, _too_large)
        except http1.ConnectFailed as exc:
            raise ClientOSError(str(exc)) from exc
        except http1.Broken as exc:
            raise ServerDisconnectedError(str(exc)) from exc
        except (http1.Silent, http1.PoolTimedOut) as exc:
            raise TimeoutError(str(exc)) from exc
        return answer.status_code, answer.headers, raw

    async def _retried(
        self,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None,
        error: Exception | None,
    ) -> bool:
        for handler in self.retry_handlers:
            if await handler.can_retry_async(
                state=state, request=request, response=response, error=error
            ):
                await handler.prepare_for_next_attempt_async(
                    state=state, request=request, response=response, error=error
                )
                return state.next_attempt_requested
        return False


def _too_large(message: str) -> AnswerTooLarge:
    return AnswerTooLarge(f"Slack's {message}")


def _retry_request(method: str, url: str, headers: dict[str, Any]) -> HttpRequest:
    return HttpRequest(method=method, url=url, headers=headers)


_PLAIN = (str, int, float)


def _own_road(
    http_verb: str, url: str, req_args: dict[str, Any]
) -> tuple[str, bytes | None] | None:
    """Where a call goes on the own road: a JSON POST's URL and body, or a GET's URL with its
    parameters (slack_sdk has made its booleans "1"/"0"); None for what is slack_sdk's alone
    (forms, files, basic auth, a client's own TLS or proxy)."""
    if any(req_args.get(k) for k in ("data", "files", "auth", "ssl", "proxy")):
        return None
    body, params = req_args.get("json"), req_args.get("params")
    if http_verb == "POST" and body is not None and not params:
        return url, json_bytes(body)
    if http_verb == "GET" and body is None:
        if not params:
            return url, None
        if all(isinstance(value, _PLAIN) for value in params.values()):
            return f"{url}?{urlencode(params)}", None
    return None


def _json_or_none(raw: bytes) -> dict[str, Any] | None:
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


class TeamClient(WebClient):
    """One installed team's client (OAuth installs): its bot token is read from the
    installation store on first use, because resumed work has no request that carries it;
    `forget` drops it when the team uninstalls."""

    def __init__(self, tenant: str, lookup: TokenLookup, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tenant = tenant
        self._lookup = lookup

    async def ensure_token(self) -> None:
        if not self.token:
            self.token = await self._lookup(self._tenant)

    async def api_call(self, api_method: str, **kwargs: Any) -> Any:
        await self.ensure_token()
        return await super().api_call(api_method, **kwargs)

    def forget(self) -> None:
        self.token = None


def build_client(
    settings: SlackSettings,
    metrics: Metrics,
    backoff_seconds: float,
    *,
    tenant: str | None = None,
    lookup: TokenLookup | None = None,
) -> AsyncWebClient:
    """A Web API client pointed at `SLACK_API_URL`, with the retries: the one client of a
    single-workspace app (`SLACK_BOT_TOKEN`), or one installed team's (`tenant`, `lookup`)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    handlers: list[AsyncRetryHandler] = [
        _RateLimitRetry(metrics, max_retry_count=3),
        _TransientRetry(metrics, backoff_seconds, max_retry_count=2),
        _ConnectionRetry(metrics, backoff_seconds, max_retry_count=1),
    ]
    options: dict[str, Any] = {
        "base_url": api_base(settings.slack_api_url),
        "retry_handlers": handlers,
        "logger": logging.getLogger("jupiter.slack.web"),
    }
    if tenant is not None and lookup is not None:
        return TeamClient(tenant, lookup, **options)
    return WebClient(token=None if settings.oauth else token, **options)
