"""`SlackThread`: the engine's port (`ChatThread`) for one Slack thread.

What must hold:
- every message carries the thread's `thread_ts`; Bolt's `say` would post to the channel instead;
- progress is one message edited in place (`chat.update`), not a flood of posts;
- the bot token goes only to Slack: shared files are fetched through `SlackFiles` (Slack's
  hosts only, redirects re-checked), and the token never appears in an error message;
- the finished MP4 is streamed to Slack's upload URL chunk by chunk, never held in memory; one
  over `JUPITER_SLACK_UPLOAD_MAX_BYTES` is refused (`UploadTooLarge`) and the link stands;
- `post` returns the first message's `ts`, so `update` edits the head of a long reply;
- during a turn the status message is Slack's stream and the session status Slack's agent
  session where the workspace allows them (`agent.py`), else post-and-update as before;
- a delivery (`Reply.marker`) carries Slack message metadata (`event_type` `jupiter_delivery`,
  `event_payload.render_id`) on its first message, invisible to readers, so `find_delivery`
  can find it in the thread's replies (`include_all_metadata`) after a crash mid-post.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.base.uploads import check_fits, within_limit
from core.messages import Msg, say
from core.port import Attachment, Reply, ReplyKind, ThreadKey

from .agent import AgentSession, Support, TurnStream
from .client import TeamClient
from .files import SlackFiles
from .render import SlackMessage, render
from .settings import SlackSettings

log = logging.getLogger("jupiter.slack")

DELIVERY_EVENT = "jupiter_delivery"  # message metadata event_type of a delivered video
REPLIES_PAGES = 20  # conversations.replies pages (200 messages each) read looking for one
STATUS_REFRESH_SECONDS = 90.0  # Slack clears an assistant status after 2 minutes
STATUS_MAX_SECONDS = 1200.0  # the longest a status is kept alive: a turn plus a render, at most
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


class SlackUploadError(Exception):
    """Slack refused the finished video; the engine falls back to the link."""


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
        settings: SlackSettings,
        status: StatusSupport | None = None,
        status_refresh_seconds: float = STATUS_REFRESH_SECONDS,
        status_max_seconds: float = STATUS_MAX_SECONDS,
        support: Support | None = None,
        user: str = "",
        prompt: str = "",
        delivered: Callable[[str, str], None] | None = None,
    ) -> None:
        self.key = key
        self._user = user
        self._delivered = delivered
        support = support or Support()
        self._session = AgentSession(client, key, support, user, prompt)
        self._stream = TurnStream(client, key, support, user)
        self._client = client
        self._http = http
        self._settings = settings
        self._status_max = status_max_seconds
        self._status = status or StatusSupport()
        self._status_refresh = status_refresh_seconds
        self._status_lock = asyncio.Lock()
        self._status_works_here = True
        self._status_shown = False
        self._status_text = ""
        self._refresher: asyncio.Task[None] | None = None

    def __repr__(self) -> str:  # the client holds the token; show the key only
        return f"SlackThread({self.key})"

    @property
    def upload_limit(self) -> int:
        return self._settings.slack_upload_max_bytes

    # -- messages ----------------------------------------------------------------------------

    async def post(self, reply: Reply) -> str:
        if self._stream.open:
            if reply.kind is ReplyKind.TEXT:
                self._stream.hold(reply.text)
                await self._stream.words_now()
                assert self._stream.ts is not None
                return self._stream.ts
            await self._close_stream(None, done=False)  # an error or a stop: words first
        elif reply.kind is ReplyKind.STATUS and reply.text == say(Msg.CONNECTING, reply.language):
            started = await self._stream.start(reply.text)
            if started is not None:
                return started
        return await self._post(reply)

    async def _close_stream(self, reply: Reply | None, *, done: bool = True) -> None:
        """End the stream with `reply` below the held words. Where Slack refuses (the stream
        timed out, a method error), the held words are posted as messages of their own and the
        failure raised, so the engine posts the answer instead: no word is lost."""
        messages = render(reply, self.key) if reply is not None else []
        try:
            await self._stream.stop(messages[0].blocks if messages else None, done=done)
        except SlackApiError as exc:
            log.info("stream not stopped, posting instead: %s", slack_error(exc))
            language = reply.language if reply is not None else "en"
            for words in self._stream.take_held():
                await self._post(Reply(ReplyKind.TEXT, words, language=language))
            if reply is not None:
                raise
            return
        for message in messages[1:]:  # a very long answer continues below the stream
            await self._post_message(message, None)

    async def _post_message(self, message: SlackMessage, marker: str | None) -> str:
        response = await self._client.chat_postMessage(
            channel=self.key.channel,
            thread_ts=self.key.thread,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
            metadata=_delivery_metadata(marker) if marker is not None else None,
        )
        return str(response["ts"])

    async def _post(self, reply: Reply) -> str:
        first: str | None = None
        for message in render(reply, self.key):
            ts = await self._post_message(message, reply.marker if first is None else None)
            first = first or ts
        assert first is not None  # render always returns at least one message
        if reply.marker is not None and self._user and self._delivered is not None:
            self._delivered(self.key.tenant, self._user)  # the Home lists the new video
        return first

    async def find_delivery(self, marker: str) -> bool:
        """Reads the thread's replies with their metadata (Slack leaves it out unless asked)."""
        cursor: str | None = None
        for _ in range(REPLIES_PAGES):
            page = await self._client.conversations_replies(
                channel=self.key.channel,
                ts=self.key.thread,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == DELIVERY_EVENT and payload.get("render_id") == marker:
                    return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or cursor is None:
                return False
        return False

    async def update(self, message_id: str, reply: Reply) -> None:
        if self._stream.open and message_id == self._stream.ts:
            if reply.kind is ReplyKind.STATUS:
                await self._stream.beat(reply.text)
            else:
                await self._close_stream(reply)
            return
        message = render(reply, self.key)[0]
        await self._client.chat_update(
            channel=self.key.channel, ts=message_id, text=message.text, blocks=message.blocks
        )

    # -- busy indicator ----------------------------------------------------------------------

    async def set_busy(self, text: str | None) -> None:
        """The agent session where the workspace has one, else the assistant status."""
        if await self._session.set("processing" if text is not None else "active"):
            return
        await self._assistant_status(text)

    async def end_session(self) -> None:
        """Away from `processing` whatever this object saw (a native stop button may come
        from another request than the turn's); best effort."""
        self._session.processing = True
        await self._session.set("active")

    async def _assistant_status(self, text: str | None) -> None:
        """One change at a time: a heartbeat asking while the turn's first status is still
        on its way would otherwise see none shown and send it again."""
        async with self._status_lock:
            await self._change_status(text)

    async def _change_status(self, text: str | None) -> None:
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
        deadline = asyncio.get_running_loop().time() + self._status_max
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
        check_fits(filename, size, self.upload_limit, "Slack", reply.language)
        ticket = await self._client.files_getUploadURLExternal(filename=filename, length=size)
        upload_url, file_id = str(ticket["upload_url"]), str(ticket["file_id"])
        # The upload URL is pre-signed: it gets the bytes, never the token.
        response = await self._http.post(
            upload_url,
            content=within_limit(chunks, filename, self.upload_limit, reply.language),
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

    def open_attachment(self, attachment: Attachment, language: str = "en") -> AsyncIterator[bytes]:
        return self._download(attachment, language)

    async def _download(self, attachment: Attachment, language: str) -> AsyncIterator[bytes]:
        """Through `SlackFiles` with this team's token (an installed team's is read first)."""
        if isinstance(self._client, TeamClient):
            await self._client.ensure_token()
        files = SlackFiles(self._http, self._settings.slack_api_url, self._client.token or "")
        async for chunk in files.stream(attachment.source, attachment.filename, language):
            yield chunk


def _delivery_metadata(marker: str | None) -> dict[str, Any]:
    return {"event_type": DELIVERY_EVENT, "event_payload": {"render_id": marker}}


class SlackThreads:
    """Builds a `SlackThread` for any key: the resolver the engine uses after a restart too."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        http: httpx.AsyncClient,
        settings: SlackSettings,
        status_refresh_seconds: float = STATUS_REFRESH_SECONDS,
        status_max_seconds: float = STATUS_MAX_SECONDS,
        team_clients: Callable[[str], AsyncWebClient] | None = None,
    ) -> None:
        self.client = client
        self._team_clients = team_clients
        self._http = http
        self._settings = settings
        self._status = StatusSupport()
        self.support = Support()
        # Set by the Home: publish a user's Home (tenant, user), best effort; `refresh_home`
        # runs it on a task of its own, after a delivery and when the Home tab opens.
        self.on_delivered: Callable[[str, str], Coroutine[Any, Any, None]] | None = None
        self._refreshing: set[asyncio.Task[None]] = set()
        self._status_refresh = status_refresh_seconds
        self._status_max = status_max_seconds

    @property
    def team_clients(self) -> Callable[[str], AsyncWebClient] | None:
        return self._team_clients

    def __call__(self, key: ThreadKey, *, user: str = "", prompt: str = "") -> SlackThread:
        """`user` and `prompt` (the message that starts a turn) name the agent session and
        the stream's recipient; without them (resumed work) the thread posts and updates."""
        return SlackThread(
            key,
            client=self.client_for(key.tenant),
            support=self.support,
            user=user,
            prompt=prompt,
            delivered=self.refresh_home,
            http=self._http,
            settings=self._settings,
            status=self._status,
            status_refresh_seconds=self._status_refresh,
            status_max_seconds=self._status_max,
        )

    def refresh_home(self, tenant: str, user: str) -> None:
        """Publish `user`'s Home on a task of its own (after a delivery, when the tab opens)."""
        if self.on_delivered is None:
            return
        task = asyncio.create_task(self.on_delivered(tenant, user), name="slack home refresh")
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    def client_for(self, tenant: str) -> AsyncWebClient:
        """The tenant's own client (OAuth installs: its bot token), else the one client."""
        return self._team_clients(tenant) if self._team_clients is not None else self.client

    @property
    def status_available(self) -> bool:
        return self._status.available


def slack_error(exc: BaseException) -> str:
    """The Slack error code of a failed Web API call (`not_in_channel`, ...), or ''."""
    if isinstance(exc, SlackApiError):
        data: Any = exc.response.get("error", "")
        return str(data)
    return ""
