"""`SlackThread`: the engine's port (`ChatThread`) for one Slack thread.

What must hold:
- every message carries the thread's `thread_ts`; Bolt's `say` would post to the channel instead;
- progress is one message edited in place (`chat.update`), not a flood of posts;
- the bot token goes only to Slack: shared files are fetched from `*.slack.com`,
  `*.slack-edge.com` or the `SLACK_API_URL` host, redirects are followed by hand and refused
  anywhere else, and the token never appears in an error message;
- the finished MP4 is streamed to Slack's upload URL chunk by chunk, never held in memory;
- Web API calls survive rate limits (429, honouring `Retry-After`) and brief server errors, and
  each retry is counted in `jupiter_chat_api_retries_total`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from slack_sdk.errors import SlackApiError
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

from core.errors import FileRejected, FileTooLarge
from core.files import MAX_UPLOAD_BYTES
from core.metrics import Metrics
from core.port import Attachment, Reply, ReplyKind, ThreadKey
from core.settings import Settings

from .render import render

log = logging.getLogger("jupiter.slack")

STATUS_REFRESH_SECONDS = 90.0  # Slack clears an assistant status after 2 minutes
MAX_REDIRECTS = 5
LACKS_FILES_READ = (
    "Slack sent a web page instead of the file: the app lacks the files:read scope "
    "(reinstall it with the manifest in deploy/slack/manifest.yml)"
)
# setStatus answers these when the app cannot use it at all; anything else is about one thread.
_STATUS_UNAVAILABLE = frozenset(
    {
        "missing_scope",
        "not_allowed",
        "not_allowed_token_type",
        "no_permission",
        "unknown_method",
        "method_deprecated",
        "feature_not_enabled",
        "team_access_not_granted",
    }
)


class AttachmentUnavailable(FileRejected):
    """A shared file could not be fetched from Slack; the message says why, for the user."""


class SlackUploadError(Exception):
    """Slack refused the finished video; the engine falls back to the link."""


def api_base(url: str) -> str:
    """slack_sdk joins method names onto the base with `urljoin`: it must end with a slash."""
    return url if url.endswith("/") else url + "/"


# -- where the token may go ------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port


@dataclass(frozen=True, slots=True)
class TokenHosts:
    """Where a request carrying the bot token may go: Slack's own hosts and the API's origin."""

    api_origin: tuple[str, str, int] | None

    @classmethod
    def for_api(cls, api_url: str) -> TokenHosts:
        return cls(_origin(api_url))

    def allows(self, url: str) -> bool:
        origin = _origin(url)
        if origin is None:
            return False
        if origin == self.api_origin:
            return True
        scheme, host, _ = origin
        slack = any(host == d or host.endswith("." + d) for d in ("slack.com", "slack-edge.com"))
        return slack and scheme == "https"


def _host(url: str) -> str:
    return urlsplit(url).hostname or "an unknown host"


# -- retries ---------------------------------------------------------------------------------


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


def build_client(settings: Settings, metrics: Metrics) -> AsyncWebClient:
    """The one Web API client for the app and every thread, pointed at `SLACK_API_URL`."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    handlers: list[AsyncRetryHandler] = [
        _RateLimitRetry(metrics, max_retry_count=3),
        _ServerErrorRetry(metrics, settings.retry_backoff_seconds),
        _ConnectionRetry(metrics, settings.retry_backoff_seconds),
    ]
    return AsyncWebClient(
        token=token,
        base_url=api_base(settings.slack_api_url),
        retry_handlers=handlers,
        logger=logging.getLogger("jupiter.slack.web"),
    )


# -- the port --------------------------------------------------------------------------------


class StatusSupport:
    """Whether this app may call `assistant.threads.setStatus`; learnt once, shared by threads."""

    def __init__(self) -> None:
        self.available = True


class SlackThread:
    """One Slack thread as the engine sees it. Cheap: build one per event, or on resume."""

    def __init__(
        self,
        key: ThreadKey,
        *,
        client: AsyncWebClient,
        http: httpx.AsyncClient,
        settings: Settings,
        status: StatusSupport | None = None,
        status_refresh_seconds: float = STATUS_REFRESH_SECONDS,
    ) -> None:
        self.key = key
        self._client = client
        self._http = http
        self._settings = settings
        self._status = status or StatusSupport()
        self._status_refresh = status_refresh_seconds
        self._status_works_here = True
        self._status_shown = False
        self._status_text = ""
        self._refresher: asyncio.Task[None] | None = None
        self._hosts = TokenHosts.for_api(settings.slack_api_url)

    def __repr__(self) -> str:  # the client holds the token; show the key only
        return f"SlackThread({self.key})"

    @property
    def upload_limit(self) -> int:
        return self._settings.slack_upload_max_bytes

    # -- messages ----------------------------------------------------------------------------

    async def post(self, reply: Reply) -> str:
        first: str | None = None
        for message in render(reply, self.key):
            response = await self._client.chat_postMessage(
                channel=self.key.channel,
                thread_ts=self.key.thread,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
            first = first or str(response["ts"])
        assert first is not None  # render always returns at least one message
        return first

    async def update(self, message_id: str, reply: Reply) -> None:
        message = render(reply, self.key)[0]
        await self._client.chat_update(
            channel=self.key.channel, ts=message_id, text=message.text, blocks=message.blocks
        )

    # -- busy indicator ----------------------------------------------------------------------

    async def set_busy(self, text: str | None) -> None:
        if (
            text is not None
            and self._status_shown
            and text[:100] == self._status_text
            and self._refresher is not None
            and not self._refresher.done()
        ):
            return  # shown, and kept alive by the refresher: a heartbeat need not resend it
        await self._stop_refreshing()
        if text is None:
            if self._status_shown:
                self._status_shown = False
                await self._set_status("")
            return
        if await self._set_status(text[:100]):
            self._status_shown, self._status_text = True, text[:100]
            self._refresher = asyncio.create_task(self._keep_status(text[:100]))

    async def _keep_status(self, text: str) -> None:
        deadline = asyncio.get_running_loop().time() + (
            self._settings.turn_timeout_seconds + self._settings.render_timeout_seconds
        )
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(self._status_refresh)
            if not await self._set_status(text):
                return

    async def _stop_refreshing(self) -> None:
        task, self._refresher = self._refresher, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

    async def _set_status(self, text: str) -> bool:
        if not (self._status.available and self._status_works_here):
            return False
        try:
            await self._client.assistant_threads_setStatus(
                channel_id=self.key.channel, thread_ts=self.key.thread, status=text
            )
            return True
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in _STATUS_UNAVAILABLE:
                if self._status.available:
                    log.info("assistant status unavailable, not trying again: %s", error)
                self._status.available = False
            else:
                log.debug("assistant status not shown in this thread: %s", error)
                self._status_works_here = False
        except Exception as exc:  # a busy indicator must never break a turn
            log.warning("assistant status failed: %s", exc.__class__.__name__)
        return False

    # -- files -------------------------------------------------------------------------------

    async def upload(
        self, filename: str, size: int, chunks: AsyncIterator[bytes], reply: Reply
    ) -> None:
        if size > self.upload_limit:
            raise SlackUploadError(
                f"{filename} is {size} bytes, over the Slack upload limit of {self.upload_limit}"
            )
        ticket = await self._client.files_getUploadURLExternal(filename=filename, length=size)
        upload_url, file_id = str(ticket["upload_url"]), str(ticket["file_id"])
        # The upload URL is pre-signed: it gets the bytes, never the token.
        response = await self._http.post(
            upload_url,
            content=chunks,
            headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
            timeout=httpx.Timeout(60.0, connect=10.0),
            follow_redirects=False,
        )
        if response.status_code != 200:
            raise SlackUploadError(f"Slack refused the video upload (HTTP {response.status_code})")
        # The engine posts a video's link before its file; the file need not repeat it.
        comment = None if reply.kind is ReplyKind.VIDEO else render(reply, self.key)[0].text
        await self._client.files_completeUploadExternal(
            files=[{"id": file_id, "title": filename}],
            channel_id=self.key.channel,
            thread_ts=self.key.thread,
            initial_comment=comment,
        )

    async def open_attachment(self, attachment: Attachment) -> AsyncIterator[bytes]:
        token = self._client.token or ""
        url = attachment.source
        for _ in range(MAX_REDIRECTS + 1):
            if not self._hosts.allows(url):
                raise AttachmentUnavailable(
                    f"{attachment.filename} is not hosted by Slack ({_host(url)}); "
                    "the bot only downloads files from Slack"
                )
            request = self._http.build_request(
                "GET",
                url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(60.0, connect=10.0),
            )
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                _check_file_response(response, attachment)
                total = 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > MAX_UPLOAD_BYTES:
                        raise FileTooLarge(f"{attachment.filename} is over the 500 MB limit")
                    yield chunk
                return
            finally:
                await response.aclose()
        raise AttachmentUnavailable(f"too many redirects fetching {attachment.filename} from Slack")


def _check_file_response(response: httpx.Response, attachment: Attachment) -> None:
    if response.status_code != 200:
        raise AttachmentUnavailable(
            f"Slack would not hand over {attachment.filename} (HTTP {response.status_code})"
        )
    if "text/html" in response.headers.get("content-type", "").lower():
        raise AttachmentUnavailable(LACKS_FILES_READ)


class SlackThreads:
    """Builds a `SlackThread` for any key: the resolver the engine uses after a restart too."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        http: httpx.AsyncClient,
        settings: Settings,
        status_refresh_seconds: float = STATUS_REFRESH_SECONDS,
    ) -> None:
        self.client = client
        self._http = http
        self._settings = settings
        self._status = StatusSupport()
        self._status_refresh = status_refresh_seconds

    def __call__(self, key: ThreadKey) -> SlackThread:
        return SlackThread(
            key,
            client=self.client,
            http=self._http,
            settings=self._settings,
            status=self._status,
            status_refresh_seconds=self._status_refresh,
        )

    @property
    def status_available(self) -> bool:
        return self._status.available


def slack_error(exc: BaseException) -> str:
    """The Slack error code of a failed Web API call (`not_in_channel`, ...), or ''."""
    if isinstance(exc, SlackApiError):
        data: Any = exc.response.get("error", "")
        return str(data)
    return ""
