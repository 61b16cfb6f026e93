"""The one Slack Web API client, pointed at `SLACK_API_URL`, that survives Slack's bad moments.

Web API calls survive rate limits (429, honouring `Retry-After`) and brief server errors, and
each retry is counted in `jupiter_chat_api_retries_total`.
"""

from __future__ import annotations

import asyncio
import logging
import random

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
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


class _ServerErrorRetry(AsyncServerErrorRetryHandler):
    def __init__(self, metrics: Metrics, backoff: float) -> None:
        calculator = BackoffRetryIntervalCalculator(backoff, jitter=_ProportionalJitter())
        super().__init__(max_retry_count=2, interval_calculator=calculator)
        self._metrics = metrics

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        retry = response is not None and response.status_code in {500, 502, 503, 504}
        if retry:
            self._metrics.chat_retries.labels(platform="slack").inc()
        return retry


class _ConnectionRetry(AsyncConnectionErrorRetryHandler):
    def __init__(self, metrics: Metrics, backoff: float) -> None:
        calculator = BackoffRetryIntervalCalculator(backoff, jitter=_ProportionalJitter())
        super().__init__(max_retry_count=1, interval_calculator=calculator)
        self._metrics = metrics

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        retry = await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )
        if retry:
            self._metrics.chat_retries.labels(platform="slack").inc()
        return retry


def build_client(
    settings: SlackSettings, metrics: Metrics, backoff_seconds: float
) -> AsyncWebClient:
    """The one Web API client for the app and every thread, pointed at `SLACK_API_URL`."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    handlers: list[AsyncRetryHandler] = [
        _RateLimitRetry(metrics, max_retry_count=3),
        _ServerErrorRetry(metrics, backoff_seconds),
        _ConnectionRetry(metrics, backoff_seconds),
    ]
    return AsyncWebClient(
        token=token,
        base_url=api_base(settings.slack_api_url),
        retry_handlers=handlers,
        logger=logging.getLogger("jupiter.slack.web"),
    )
