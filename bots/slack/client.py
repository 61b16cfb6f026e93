"""The one Slack Web API client, pointed at `SLACK_API_URL`, that survives Slack's bad moments.

Web API calls survive rate limits (429, honouring `Retry-After`) and brief server errors, and
each retry is counted in `jupiter_chat_api_retries_total`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

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


class TeamClient(AsyncWebClient):
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
    return AsyncWebClient(token=None if settings.oauth else token, **options)
