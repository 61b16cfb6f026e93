"""A loopback fake of the Slack Web API, strict where the real one is strict.

It answers the methods the adapter uses the way Slack does (JSON `{"ok": ...}` bodies, bearer
tokens, form or JSON arguments, Block Kit limits), accepts uploads at the URLs it hands out
(streamed and counted, never kept whole), serves private files at `/files-pri/...` only to the
bot token, and takes orders from tests: fail the next N calls with 429 + `Retry-After` or a 5xx,
answer a file request with a login page (the app lacks files:read), or redirect it elsewhere.

A second listener plays "another host" (`other_url`): it records every request that reaches it,
so a test can prove the bot token never went there.

Files are Slack's external upload: `files.getUploadURLExternal` hands out a loopback upload URL
and a file id, the bytes are POSTed there (raw, no token), `files.completeUploadExternal` makes
the file (shared where `channel_id` says, else private to the uploader). `views.publish` resolves
every `slack_file` of the view the way Slack does: an unknown, deleted, unfinished or non-image
file, or one the caller cannot see, is `invalid_blocks` with a json-pointer to it. The token's
scopes (`scopes`) ride on every answer as `X-OAuth-Scopes`, and a method whose scope is missing
answers `missing_scope` with `needed` / `provided`.

    async with FakeSlack(bot_token="xoxb-...") as slack:
        settings = Settings(slack_api_url=slack.api_url, ...)
        ...
        await slack.wait_for(lambda: slack.calls("chat.postMessage"))
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from aiohttp import WSMsgType, web

SECTION_TEXT_LIMIT = 3000
BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100  # a Home tab or modal
SLACK_FILE_ID = re.compile(r"^[F][A-Z0-9]{8,}$")
IMAGE_TYPES = {"png", "jpg", "jpeg", "gif"}  # what a slack_file may be
# The scopes of the manifest (deploy/slack/manifest.yml): what a fresh install grants.
MANIFEST_SCOPES = frozenset(
    yaml.safe_load((Path(__file__).parents[2] / "deploy/slack/manifest.yml").read_text())[
        "oauth_config"
    ]["scopes"]["bot"]
)
METHOD_SCOPES = {  # Slack's method reference pages, for the methods whose scope tests take away
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "users.info": "users:read",
}


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    headers: dict[str, str]

    @property
    def token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    edits: int = 0
    metadata: dict[str, Any] | None = None
    streaming: bool = False
    task: str = ""  # a stream's task line (`task_update` chunks with one id replace it)

    @property
    def all_text(self) -> str:
        """The fallback text and every text in its blocks, as a user would read them."""
        parts = [self.text, self.task]
        for block in self.blocks:
            if isinstance(block.get("text"), dict):
                parts.append(block["text"].get("text", ""))
            for item in block.get("fields", []) + block.get("elements", []):
                if isinstance(item, dict):
                    text = item.get("text")
                    parts.append(text.get("text", "") if isinstance(text, dict) else str(text))
        return "\n".join(parts)


@dataclass
class Upload:
    file_id: str
    filename: str
    length: int
    received: int = 0
    chunks: int = 0
    sha256: str = ""
    content_length_header: str | None = None
    completed: dict[str, Any] | None = None
    uploader: str | None = None  # the token that asked for the upload URL (the file's owner)
    deleted: bool = False
    data: bytes = b""  # kept only for images (posters are small; videos are only counted)

    @property
    def shared(self) -> bool:
        return bool(
            self.completed and (self.completed.get("channel_id") or self.completed.get("channels"))
        )


@dataclass
class PrivateFile:
    name: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass
class Fault:
    status: int
    count: int
    retry_after: float | None = None


@dataclass
class FileRequest:
    path: str
    headers: dict[str, str]


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], Message] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    files: dict[str, PrivateFile] = field(default_factory=dict)
    file_requests: list[FileRequest] = field(default_factory=list)
    other_requests: list[FileRequest] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, Fault] = field(default_factory=dict)


class FakeSlack:
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-bot-token",
        team_id: str = "T0TEAM",
        bot_user_id: str = "U0JUPITER",
        bot_id: str = "B0JUPITER",
        app_token: str = "xapp-1-A0JUPITER-test",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.status_error: str | None = None  # e.g. "missing_scope" for setStatus
        # Slack's agent platform (agent sessions, streaming): off answers unknown_method, as
        # an older workspace does; tests turn it on.
        self.agent_platform = False
        self.sessions: dict[tuple[str, str], str] = {}  # (channel, thread_ts) -> status
        self.admins: set[str] = set()
        self.views: list[dict[str, Any]] = []  # views.publish / views.open, in order
        self.other_tokens: dict[str, str] = {}  # more installed teams: token -> team id
        self.oauth_codes: dict[str, dict[str, Any]] = {}  # code -> oauth.v2.access answer
        self._caller: str | None = None
        self.users_error: str | None = None
        self.user_locales: dict[str, str] = {}
        # A method named here answers only once its event is set (a slow Slack).
        self.holds: dict[str, asyncio.Event] = {}
        self.cookie: str | None = None  # a Set-Cookie every Web API answer carries, as Slack's do
        self.post_errors: dict[str, str] = {}  # channel -> error for chat.postMessage
        self.file_mode = "ok"  # ok | html | redirect_other | redirect_slack | forbidden
        self.scopes: set[str] = set(MANIFEST_SCOPES)  # what the bot token was granted
        # Upload POSTs of files named "*.jpg" (say) answer this HTTP status instead of 200.
        self.upload_refusals: dict[str, int] = {}
        self._state = _State()
        self._changed = asyncio.Condition()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._runners: list[web.AppRunner] = []
        self._sockets: list[web.WebSocketResponse] = []
        self.base_url = ""
        self.other_url = ""

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        self.base_url = await self._serve(self._app())
        self.other_url = await self._serve(self._other_app())
        return self

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _serve(self, app: web.Application, host: str = "127.0.0.1") -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = runner.addresses[0][1]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    # -- what tests read ----------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        return [c for c in self._state.calls if method is None or c.method == method]

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """Messages posted in a thread (the root included when the bot posted it), in order."""
        found = [
            m
            for m in self._state.messages.values()
            if m.channel == channel and (m.thread_ts == thread_ts or m.ts == thread_ts)
        ]
        return sorted(found, key=lambda m: float(m.ts))

    def messages(self) -> list[Message]:
        return sorted(self._state.messages.values(), key=lambda m: float(m.ts))

    @property
    def uploads(self) -> list[Upload]:
        return list(self._state.uploads.values())

    @property
    def file_requests(self) -> list[FileRequest]:
        return list(self._state.file_requests)

    @property
    def other_requests(self) -> list[FileRequest]:
        return list(self._state.other_requests)

    @property
    def sockets(self) -> list[web.WebSocketResponse]:
        """Socket Mode connections the app holds open."""
        return [s for s in self._sockets if not s.closed]

    @property
    def socket_acks(self) -> list[dict[str, Any]]:
        """What the app sent back over Socket Mode (acknowledgements, by `envelope_id`)."""
        return list(self._state.socket_acks)

    async def socket_send(self, envelope: dict[str, Any]) -> None:
        """Deliver a Socket Mode envelope (events_api, slash_commands, interactive)."""
        (socket,) = self.sockets
        await socket.send_json(envelope)

    @property
    def responses(self) -> list[dict[str, Any]]:
        """Bodies posted to a slash command's `response_url`."""
        return list(self._state.responses)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Wait until `predicate()` is truthy (checked after every request); return its value."""
        async with asyncio.timeout(timeout), self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                await self._changed.wait()

    async def _touch(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- what tests set -----------------------------------------------------------------------

    def fail_next(
        self, method: str, *, status: int = 429, count: int = 1, retry_after: float | None = None
    ) -> None:
        """The next `count` calls to `method` answer `status` (429 carries `Retry-After`)."""
        if status == 429 and retry_after is None:
            retry_after = 0
        self._state.faults[method] = Fault(status, count, retry_after)

    def delete_file(self, file_id: str) -> None:
        """As a workspace admin deleting an uploaded file in Slack."""
        self._state.uploads[file_id].deleted = True

    def add_file(self, file_id: str, name: str, data: bytes, content_type: str = "") -> str:
        """Serve `data` as a private file; returns its `url_private_download`."""
        self._state.files[file_id] = PrivateFile(name, data, content_type or _guess(name))
        return f"{self.base_url}/files-pri/{self.team_id}-{file_id}/download/{name}"

    def file_event(self, file_id: str, name: str, size: int, mimetype: str = "") -> dict[str, Any]:
        """A `files` entry as Slack puts it in a message event."""
        url = f"{self.base_url}/files-pri/{self.team_id}-{file_id}/download/{name}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype or _guess(name),
            "filetype": name.rsplit(".", 1)[-1],
            "size": size,
            "mode": "hosted",
            "url_private": url.replace("/download/", "/"),
            "url_private_download": url,
        }

    # -- the Web API --------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=1024**3)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{tail:.*}", self._private_file)
        app.router.add_post("/respond/{id}", self._respond)
        app.router.add_get("/login", self._login)
        app.router.add_get("/socket", self._socket)
        return app

    def _other_app(self) -> web.Application:
        async def anything(request: web.Request) -> web.Response:
            self._state.other_requests.append(FileRequest(request.path_qs, dict(request.headers)))
            await self._touch()
            return web.Response(body=b"stolen", content_type="application/octet-stream")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", anything)
        return app

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                args.update(json.loads(raw or b"{}"))
            else:
                args.update(parse_qsl(raw.decode(), keep_blank_values=True))
        call = Call(method, args, dict(request.headers))
        self._state.calls.append(call)
        hold = self.holds.get(method)
        if hold is not None:
            await self._touch()  # seen, not answered yet
            await hold.wait()
        try:
            fault = self._state.faults.get(method)
            if fault is not None and fault.count > 0:
                fault.count -= 1
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                body = {"ok": False, "error": "ratelimited" if fault.status == 429 else "fatal"}
                return web.json_response(body, status=fault.status, headers=headers)
            expected = self.app_token if method == "apps.connections.open" else self.bot_token
            if method == "oauth.v2.access":  # client credentials (HTTP Basic), no bearer token
                expected = call.token
                call.args.update(_basic_auth(call.headers.get("Authorization", "")))
            if call.token != expected and call.token not in self.other_tokens:
                return _error("not_authed" if call.token is None else "invalid_auth")
            self._caller = call.token
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                return _error("unknown_method")
            headers = {"X-OAuth-Scopes": ",".join(sorted(self.scopes))}
            if self.cookie is not None:
                headers["Set-Cookie"] = self.cookie
            needed = METHOD_SCOPES.get(method)
            if needed and needed not in self.scopes:
                provided = ",".join(sorted(self.scopes))
                missing = {"ok": False, "error": "missing_scope", "needed": needed}
                return web.json_response({**missing, "provided": provided}, headers=headers)
            answer: dict[str, Any] = handler(args)
            return web.json_response(answer, headers=headers)
        finally:
            await self._touch()

    def _m_auth_test(self, _: dict[str, Any]) -> dict[str, Any]:
        team = self.other_tokens.get(self._caller or "")
        if team is not None:  # an installed team's token: that team's bot
            return {"ok": True, "team_id": team, "user_id": f"U0BOT{team}", "bot_id": f"B{team}"}
        return {
            "ok": True,
            "url": "https://jupiter-test.slack.com/",
            "team": "Jupiter Test",
            "user": "jupiter",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_oauth_v2_access(self, args: dict[str, Any]) -> dict[str, Any]:
        """As Slack answers it for a bot install (workspace or Enterprise Grid org-wide)."""
        answer = self.oauth_codes.pop(str(args.get("code") or ""), None)
        if answer is None or not args.get("client_id") or not args.get("client_secret"):
            return {"ok": False, "error": "invalid_code"}
        owner = (answer.get("team") or {}).get("id") or (answer.get("enterprise") or {}).get("id")
        self.other_tokens[answer["access_token"]] = owner or ""
        return {"ok": True, "token_type": "bot", "app_id": "A0JUPITER", **answer}

    def _agent_only(self) -> dict[str, Any] | None:
        return None if self.agent_platform else {"ok": False, "error": "unknown_method"}

    def _m_agents_sessions_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        refused = self._agent_only()
        if refused:
            return refused
        status = str(args.get("status") or "")
        if status not in {"processing", "active", "suspended", "closed"}:
            return {"ok": False, "error": "invalid_status"}
        if not args.get("channel_id") or not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        self.sessions[(str(args["channel_id"]), str(args["thread_ts"]))] = status
        return {"ok": True}

    def _m_chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        refused = self._agent_only()
        if refused:
            return refused
        channel = str(args.get("channel") or "")
        if not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if not channel.startswith("D") and not (
            args.get("recipient_team_id") and args.get("recipient_user_id")
        ):
            return {"ok": False, "error": "missing_recipient_user_id"}
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = Message(channel, ts, "", [], str(args["thread_ts"]))
        message.streaming = True
        _append_chunks(message, args)
        self._state.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts}

    def _streaming(self, args: dict[str, Any]) -> Message | dict[str, Any]:
        message = self._state.messages.get((str(args.get("channel")), str(args.get("ts"))))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        return message

    def _m_chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming(args)
        if isinstance(message, dict):
            return message
        _append_chunks(message, args)
        message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _m_chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self._streaming(args)
        if isinstance(message, dict):
            return message
        _append_chunks(message, args)
        message.blocks = _blocks(args)
        message.streaming = False
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": {}}

    def _m_assistant_threads_setSuggestedPrompts(self, args: dict[str, Any]) -> dict[str, Any]:
        prompts = args.get("prompts") or []
        if not args.get("channel_id") or not prompts or len(prompts) > 4:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if not args.get("user_id") or not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        blocks = view.get("blocks") or []
        if len(blocks) > VIEW_BLOCK_LIMIT:
            return {"ok": False, "error": "invalid_blocks"}
        problems = self._slack_file_problems(blocks)
        if problems:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": problems,
                "response_metadata": {"messages": [f"[ERROR] {p}" for p in problems]},
            }
        self.views.append({"user_id": args["user_id"], **view})
        return {"ok": True, "view": {"id": f"V{next(self._ids):08d}", **view}}

    def _slack_file_problems(self, blocks: list[dict[str, Any]]) -> list[str]:
        """Slack's refusals of the view's `slack_file` references, worded as Slack words them."""
        problems = []
        for pointer, ref in _slack_files(blocks):
            if not isinstance(ref, dict) or ("id" in ref) == ("url" in ref):
                problems.append(f"must provide either url or id [json-pointer:{pointer}]")
                continue
            file_id = str(ref.get("id") or "")
            if "id" in ref and not SLACK_FILE_ID.match(file_id):
                problems.append(
                    f"input must match regex pattern: ^[F][A-Z0-9]{{8,}}$ [json-pointer:{pointer}/id]"
                )
                continue
            if "url" in ref:
                file_id = str(ref["url"]).split("/files-pri/", 1)[-1].split("/", 1)[0]
                file_id = file_id.split("-", 1)[-1]
            if not self._visible_image(file_id):
                problems.append(f"invalid slack file [json-pointer:{pointer}]")
        return problems

    def _visible_image(self, file_id: str) -> bool:
        """A finished, undeleted image the caller may see: shared, or its own private file."""
        upload = self._state.uploads.get(file_id)
        if upload is None or upload.completed is None or upload.deleted:
            return False
        if upload.filename.rsplit(".", 1)[-1].lower() not in IMAGE_TYPES:
            return False
        return upload.shared or upload.uploader == self._caller

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if not args.get("trigger_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        self.views.append(view)
        return {"ok": True, "view": {"id": f"V{next(self._ids):08d}", **view}}

    def _m_apps_connections_open(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.base_url.replace("http://", "ws://") + "/socket"}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.post_errors:
            return {"ok": False, "error": self.post_errors[channel]}
        problem = _check_content(args)
        if problem:
            return {"ok": False, "error": problem}
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        thread_ts = args.get("thread_ts") or None
        blocks = _blocks(args)
        message = Message(channel, ts, str(args.get("text") or ""), blocks, thread_ts)
        metadata = args.get("metadata")
        message.metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        self._state.messages[(channel, ts)] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "message": {"type": "message", "text": message.text, "ts": ts, "bot_id": self.bot_id},
        }

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """As Slack answers it: the parent and its replies, oldest first, paged by `limit` and
        `cursor`; message metadata only with `include_all_metadata` true."""
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        replies = sorted(
            (
                m
                for m in self._state.messages.values()
                if m.channel == channel and (m.ts == ts or m.thread_ts == ts)
            ),
            key=lambda m: float(m.ts),
        )
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        page = replies[start : start + limit]
        with_metadata = str(args.get("include_all_metadata", "")).lower() in {"1", "true"}
        messages = []
        for m in page:
            item: dict[str, Any] = {"type": "message", "ts": m.ts, "text": m.text}
            if m.thread_ts:
                item["thread_ts"] = m.thread_ts
            if with_metadata and m.metadata:
                item["metadata"] = m.metadata
            messages.append(item)
        more = start + limit < len(replies)
        return {
            "ok": True,
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (str(args.get("channel") or ""), str(args.get("ts") or ""))
        message = self._state.messages.get(key)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        problem = _check_content(args)
        if problem:
            return {"ok": False, "error": problem}
        message.text = str(args.get("text") or "")
        message.blocks = _blocks(args)
        message.edits += 1
        return {"ok": True, "channel": key[0], "ts": key[1], "text": message.text}

    def _m_assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.status_error:
            return {"ok": False, "error": self.status_error, "needed": "assistant:write"}
        if not args.get("channel_id") or not args.get("thread_ts") or "status" not in args:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            length = int(args.get("length", ""))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not args.get("filename"):
            return {"ok": False, "error": "invalid_arguments"}
        if length <= 0:
            return {"ok": False, "error": "missing_argument"}
        file_id = f"F{next(self._ids):08d}"
        upload = Upload(file_id, str(args["filename"]), length, uploader=self._caller)
        self._state.uploads[file_id] = upload
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            files = json.loads(args.get("files") or "[]")
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        done = []
        for item in files:
            upload = self._state.uploads.get(item.get("id", ""))
            if upload is None or upload.received != upload.length:
                return {"ok": False, "error": "file_not_found"}
            upload.completed = dict(args)
            done.append(self._file_object(upload, item.get("title")))
        return {"ok": True, "files": done}

    def _file_object(self, upload: Upload, title: str | None) -> dict[str, Any]:
        """The file object Slack answers with (the fields a client reads)."""
        extension = upload.filename.rsplit(".", 1)[-1].lower()
        private = f"{self.base_url}/files-pri/{self.team_id}-{upload.file_id}/{upload.filename}"
        channel = (upload.completed or {}).get("channel_id")
        return {
            "id": upload.file_id,
            "name": upload.filename,
            "title": title or upload.filename,
            "mimetype": _guess(upload.filename),
            "filetype": extension,
            "size": upload.length,
            "user": self.bot_user_id,
            "is_public": bool(channel),
            "url_private": private,
            "url_private_download": private.replace(
                f"/{upload.filename}", f"/download/{upload.filename}"
            ),
            "permalink": f"{self.base_url}/files/{self.bot_user_id}/{upload.file_id}/{upload.filename}",
            "channels": [channel] if channel else [],
        }

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.users_error:
            return {"ok": False, "error": self.users_error}
        user = str(args.get("user") or "")
        profile: dict[str, Any] = {"id": user, "team_id": self.team_id, "name": user.lower()}
        profile["is_admin"] = profile["is_owner"] = user in self.admins
        if str(args.get("include_locale", "")).lower() in {"1", "true"}:
            profile["locale"] = self.user_locales.get(user, "en-US")
        return {"ok": True, "user": profile}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        return {
            "ok": True,
            "channel": {"id": channel, "is_im": channel.startswith("D"), "is_member": True},
        }

    # -- uploads, private files, response_url -------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self._state.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="unknown upload")
        upload.content_length_header = request.headers.get("Content-Length")
        status = self.upload_refusals.get("." + upload.filename.rsplit(".", 1)[-1].lower())
        if status is not None:
            await request.read()
            await self._touch()
            return web.Response(status=status, text=f"refused - {status}")
        digest = hashlib.sha256()
        image = upload.filename.rsplit(".", 1)[-1].lower() in IMAGE_TYPES
        async for chunk in request.content.iter_any():
            upload.received += len(chunk)
            upload.chunks += 1
            digest.update(chunk)
            if image:
                upload.data += chunk
        upload.sha256 = digest.hexdigest()
        await self._touch()
        return web.Response(text=f"OK - {upload.received}")

    async def _private_file(self, request: web.Request) -> web.StreamResponse:
        self._state.file_requests.append(FileRequest(request.path_qs, dict(request.headers)))
        await self._touch()
        if self.file_mode == "redirect_other":
            raise web.HTTPFound(f"{self.other_url}/steal{request.path}")
        if self.file_mode == "redirect_slack":
            self.file_mode = "ok"
            raise web.HTTPFound(request.path)  # same host: allowed
        authorized = request.headers.get("Authorization") == f"Bearer {self.bot_token}"
        if self.file_mode == "html" or not authorized:
            return web.Response(
                text="<!DOCTYPE html><html><body>Sign in to Slack</body></html>",
                content_type="text/html",
            )
        if self.file_mode == "forbidden":
            return web.Response(status=403, text="forbidden")
        file_id = request.match_info["tail"].split("/", 1)[0].split("-", 1)[-1]
        stored = self._state.files.get(file_id)
        if stored is None:
            return web.Response(status=404, text="file not found")
        response = web.StreamResponse(headers={"Content-Type": stored.content_type})
        response.content_length = len(stored.data)
        await response.prepare(request)
        for start in range(0, len(stored.data), 64 * 1024):
            await response.write(stored.data[start : start + 64 * 1024])
        await response.write_eof()
        return response

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        hello = {
            "type": "hello",
            "num_connections": len(self.sockets),
            "connection_info": {"app_id": "A0JUPITER"},
            "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
        }
        await socket.send_json(hello)
        await self._touch()
        async for frame in socket:
            if frame.type is WSMsgType.TEXT:
                self._state.socket_acks.append(json.loads(frame.data))
                await self._touch()
        await self._touch()
        return socket

    async def _respond(self, request: web.Request) -> web.Response:
        self._state.responses.append(await request.json())
        await self._touch()
        return web.Response(text="ok")

    async def _login(self, _: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    def response_url(self, name: str = "1") -> str:
        return f"{self.base_url}/respond/{name}"


def _slack_files(blocks: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(json-pointer, slack_file) of every image block, section accessory and context image."""
    found = []
    for i, block in enumerate(blocks):
        if block.get("type") == "image" and "image_url" not in block:
            found.append((f"/blocks/{i}/slack_file", block.get("slack_file")))
        accessory = block.get("accessory") or {}
        if accessory.get("type") == "image" and "image_url" not in accessory:
            found.append((f"/blocks/{i}/accessory/slack_file", accessory.get("slack_file")))
        for j, element in enumerate(block.get("elements") or []):
            if isinstance(element, dict) and element.get("type") == "image":
                if "image_url" not in element:
                    pointer = f"/blocks/{i}/elements/{j}/slack_file"
                    found.append((pointer, element.get("slack_file")))
    return found


def _append_chunks(message: Message, args: dict[str, Any]) -> None:
    """A stream's chunks as Slack shows them: markdown appended, a task line replaced."""
    chunks = args.get("chunks") or []
    chunks = json.loads(chunks) if isinstance(chunks, str) else chunks
    if args.get("markdown_text"):
        message.text += str(args["markdown_text"])
    for chunk in chunks:
        if chunk.get("type") == "markdown_text":
            message.text += str(chunk.get("text") or "")
        elif chunk.get("type") == "task_update" and chunk.get("title"):
            message.task = str(chunk["title"])


def _basic_auth(header: str) -> dict[str, str]:
    """`client_id` / `client_secret` from `Authorization: Basic ...`, as Slack reads them."""
    if not header.startswith("Basic "):
        return {}
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return {"client_id": user, "client_secret": password}


def _error(code: str) -> web.Response:
    return web.json_response({"ok": False, "error": code})


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return list(blocks or [])


def _check_content(args: dict[str, Any]) -> str | None:
    """Slack's own refusals for message content: the adapter must never trigger them."""
    try:
        blocks = _blocks(args)
    except ValueError:
        return "invalid_blocks_format"
    if not args.get("text") and not blocks:
        return "no_text"
    if len(blocks) > BLOCK_LIMIT:
        return "invalid_blocks"
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and len(text.get("text", "")) > SECTION_TEXT_LIMIT:
            return "invalid_blocks"
        if block.get("type") == "actions" and not block.get("elements"):
            return "invalid_blocks"
    return None


def _guess(name: str) -> str:
    extension = name.rsplit(".", 1)[-1].lower()
    return {
        "mp4": "video/mp4",
        "mov": "video/quicktime",
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "mp3": "audio/mpeg",
        "txt": "text/plain",
        "exe": "application/x-msdownload",
    }.get(extension, "application/octet-stream")
