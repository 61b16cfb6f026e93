"""A loopback Discord for tests: REST under `/api/v10`, a gateway websocket, and a CDN.

The real discord.py client runs against it unchanged (only `DISCORD_API_URL` and
`DISCORD_GATEWAY_URL` point here). Payloads follow Discord's documented shapes, as typed in
discord.py's `discord/types/*.py`, so its parsers accept them. The gateway speaks HELLO (op 10),
takes IDENTIFY (op 2), answers heartbeats (op 1 -> op 11 ACK) and numbers its dispatches; it
sends READY, GUILD_CREATE, and whatever a test injects (MESSAGE_CREATE, INTERACTION_CREATE),
plus THREAD_CREATE and the bot's own MESSAGE_CREATE echoes the way Discord does.

The payloads start from the JSON examples in `tests/payloads/discord_*.json`.

Strict where Discord is strict: REST needs `Authorization: Bot <token>` (interaction callbacks
and webhooks do not), a second thread from the same message is refused with code 160004, an
interaction is acknowledged once, a file over the guild's limit is refused with 413, and the
gateway closes with 4004 for a bad token and 4014 for a refused privileged intent.

    async with FakeDiscord() as discord_:
        settings = Settings(discord_api_url=discord_.api_url, discord_gateway_url=discord_.gateway_url, ...)
        ...
        await discord_.wait_ready()
        message = await discord_.post_message("<@bot> a sunset", mention_bot=True)
        call = await discord_.wait_for(lambda: discord_.find("POST", "/channels/*/messages/*/threads"))
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import functools
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import BodyPartReader, WSMsgType, web

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1420070400000
DEFAULT_FILE_LIMIT = 10 * 1024 * 1024
PREMIUM_FILE_LIMITS = {
    0: DEFAULT_FILE_LIMIT,
    1: DEFAULT_FILE_LIMIT,
    2: 50 * 1024 * 1024,
    3: 100 * 1024 * 1024,
}
MESSAGE_CONTENT_INTENT = 1 << 15
IS_COMPONENTS_V2 = 1 << 15
# Components V2 (Discord's "Component reference"): what may sit where.
ACTION_ROW, BUTTON, SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, SEPARATOR = (
    1,
    2,
    9,
    10,
    11,
    12,
    13,
    14,
)
CONTAINER = 17
FORUM = 15
# What a user-installed app may do where it has no bot member: answer through interactions
# (embed links, attach files, use external emojis), never post as a bot user.
INTERACTION_ONLY_PERMISSIONS = (1 << 14) | (1 << 15) | (1 << 18)
V2_TOP = {ACTION_ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER}
V2_IN_CONTAINER = V2_TOP - {CONTAINER}
V2_TEXT_LIMIT = 4000
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | MESSAGE_CONTENT_INTENT
EPHEMERAL = 1 << 6

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"

T = TypeVar("T")


@functools.cache
def _payload_text(name: str) -> str:
    return (PAYLOADS / f"discord_{name}.json").read_text(encoding="utf-8")


def payload(name: str) -> dict[str, Any]:
    """A fresh copy of `tests/payloads/discord_<name>.json`, a documented example payload."""
    data: dict[str, Any] = json.loads(_payload_text(name))
    return data


def iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), UTC).isoformat()


@dataclass
class UploadedPart:
    field: str
    filename: str | None
    size: int
    content_type: str | None


@dataclass
class Call:
    """One HTTP request the fake received (REST, webhook, interaction callback or CDN)."""

    method: str
    path: str  # without the /api/v10 prefix for REST; "/attachments/..." for the CDN
    query: dict[str, str]
    json: Any
    files: list[UploadedPart]
    headers: dict[str, str]
    status: int = 200
    answer: Any = None

    @property
    def authorized(self) -> bool:
        return self.headers.get("Authorization", "").startswith("Bot ")

    def matches(self, method: str, pattern: str) -> bool:
        return self.method == method and fnmatch.fnmatchcase(self.path, pattern)


@dataclass
class Interaction:
    id: int
    token: str
    payload: dict[str, Any]
    responses: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Session:
    ws: web.WebSocketResponse
    shard: tuple[int, int] = (0, 1)
    seq: int = 0
    session_id: str = ""
    identified: bool = False
    heartbeats: int = 0


class FakeDiscord:
    """One guild with one text channel, one human user, and the bot; add more as needed."""

    def __init__(
        self,
        *,
        token: str = "fake-discord-bot-token",
        allow_privileged: bool = True,
        heartbeat_ms: int = 1000,
        premium_tier: int = 0,
        forbid_threads: bool = False,
        threads_in_guild_create: bool = True,
        minimal: bool = False,
    ) -> None:
        self.token = token
        self.allow_privileged = allow_privileged
        self.heartbeat_ms = heartbeat_ms
        self.forbid_threads = forbid_threads
        self.threads_in_guild_create = threads_in_guild_create
        # A bare-bones Discord: no guilds in READY, no GUILD_CREATE, no GET /channels/{id}.
        self.minimal = minimal
        self._ids = itertools.count(1)
        self.app_id = self.snowflake()
        self.bot = self._user(self.app_id, "Jupiter", bot=True)
        self.guild_id = self.snowflake()
        self.channel_id = self.snowflake()
        self.user = self._user(self.snowflake(), "alice")
        self.other_user = self._user(self.snowflake(), "bob")
        self.premium_tier = premium_tier
        general = payload("guild_create")["channels"][0]
        general.update(id=str(self.channel_id), guild_id=str(self.guild_id))
        self.channels: dict[int, dict[str, Any]] = {self.channel_id: general}
        self.messages: dict[int, dict[str, Any]] = {}
        self.history: dict[int, list[str]] = {}  # every content a bot message has shown
        self.interactions: dict[int, Interaction] = {}
        self.commands: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.identifies: list[dict[str, Any]] = []
        self.cdn_files: dict[str, bytes] = {}
        # Discord's real ceiling when it is lower than what the guild reports (an upload it
        # refuses with 413 / code 40005 although the size looked fine).
        self.upload_refusal_limit: int | None = None
        self.closed_dms: set[str] = set()  # users who accept no DMs from the bot (50007)
        self.bot_manages_threads = True  # Manage Threads: tags on other people's posts
        self._sessions: list[_Session] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application(client_max_size=512 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{path:.*}", self._cdn)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_route("*", API_PREFIX + "/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for session in list(self._sessions):
            with contextlib.suppress(Exception):
                await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    # -- ids and payloads --------------------------------------------------------------------

    def snowflake(self) -> int:
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0x3FFFFF)

    @staticmethod
    def _user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": str(user_id),
            "username": name,
            "discriminator": "0",
            "global_name": name.title(),
            "avatar": None,
            "public_flags": 0,
        }
        if bot:
            user["bot"] = True
        return user

    def _member(self, user: dict[str, Any] | None = None) -> dict[str, Any]:
        member: dict[str, Any] = payload("message_create")["member"]
        member["joined_at"] = iso()
        if user is not None:
            member["user"] = user
        return member

    @property
    def filesize_limit(self) -> int:
        return PREMIUM_FILE_LIMITS[self.premium_tier]

    def guild_payload(self) -> dict[str, Any]:
        """GUILD_CREATE for the test guild, with its channels and (optionally) active threads."""
        threads = [c for c in self.channels.values() if c["type"] in (10, 11, 12)]
        guild = payload("guild_create")
        guild["roles"][0]["id"] = str(self.guild_id)
        guild.update(
            id=str(self.guild_id),
            owner_id=self.user["id"],
            premium_tier=self.premium_tier,
            joined_at=iso(),
            members=[self._member(self.bot)],
            channels=[c for c in self.channels.values() if c["type"] not in (1, 10, 11, 12)]
            if not self.minimal
            else [],
            threads=threads if self.threads_in_guild_create and not self.minimal else [],
        )
        return guild

    def dm_channel(self, user: dict[str, Any] | None = None) -> dict[str, Any]:
        """The DM channel between `user` (default: alice) and the bot, created on first use."""
        user = user or self.user
        for channel in self.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == user["id"]:
                return channel
        channel_id = self.snowflake()
        channel = {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "recipients": [user],
            "flags": 0,
        }
        self.channels[channel_id] = channel
        return channel

    def _message(
        self,
        channel_id: int,
        author: dict[str, Any],
        content: str,
        *,
        message_id: int | None = None,
        mentions: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        components: list[Any] | None = None,
        flags: int = 0,
        message_type: int = 0,
        webhook_id: int | None = None,
    ) -> dict[str, Any]:
        channel = self.channels.get(channel_id, {})
        message = payload("message_create")
        message.pop("nonce")
        message.update(
            id=str(message_id or self.snowflake()),
            channel_id=str(channel_id),
            author=author,
            content=content,
            timestamp=iso(),
            mention_everyone="@everyone" in content or "@here" in content,
            mentions=mentions or [],
            attachments=attachments or [],
            type=message_type,
            flags=flags,
            components=components or [],
        )
        message["member"]["joined_at"] = iso()
        if "guild_id" in channel:
            message["guild_id"] = channel["guild_id"]
        else:
            del message["guild_id"]
        if "guild_id" not in channel or webhook_id is not None:
            del message["member"]
        if webhook_id is not None:
            message["webhook_id"] = str(webhook_id)
        return message

    # -- what tests do -----------------------------------------------------------------------

    def attachment(
        self,
        filename: str,
        data: bytes = b"",
        *,
        size: int | None = None,
        content_type: str | None = None,
        channel_id: int | None = None,
    ) -> dict[str, Any]:
        """An attachment payload whose signed URL the fake CDN serves (`data`)."""
        attachment_id = self.snowflake()
        path = f"{channel_id or self.channel_id}/{attachment_id}/{filename}"
        self.cdn_files[path] = data
        query = (
            f"ex={int(time.time()) + 86400:x}&is={int(time.time()):x}&hm=deadbeef{attachment_id:x}"
        )
        url = f"{self.base_url}/attachments/{path}?{query}"
        payload: dict[str, Any] = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data) if size is None else size,
            "url": url,
            "proxy_url": url,
        }
        if content_type:
            payload["content_type"] = content_type
        return payload

    async def post_message(
        self,
        content: str,
        *,
        channel_id: int | None = None,
        author: dict[str, Any] | None = None,
        mention_bot: bool = False,
        mentions: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        message_id: int | None = None,
        message_type: int = 0,
        webhook_id: int | None = None,
    ) -> dict[str, Any]:
        """A user writes in a channel, thread or DM: MESSAGE_CREATE to the bot."""
        channel_id = channel_id or self.channel_id
        mentioned = list(mentions or [])
        if mention_bot:
            mentioned.append({**self.bot, "member": self._member()})
            if f"<@{self.bot['id']}>" not in content:
                content = f"<@{self.bot['id']}> {content}"
        message = self._message(
            channel_id,
            author or self.user,
            content,
            message_id=message_id,
            mentions=mentioned,
            attachments=attachments,
            message_type=message_type,
            webhook_id=webhook_id,
        )
        self.messages[int(message["id"])] = message
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def redeliver(self, message: dict[str, Any]) -> None:
        """The same MESSAGE_CREATE again (a gateway resume replays events)."""
        await self.dispatch("MESSAGE_CREATE", message)

    async def slash(
        self,
        name: str,
        options: dict[str, str | int] | None = None,
        *,
        channel_id: int | None = None,
        user: dict[str, Any] | None = None,
        locale: str = "en-US",
        **where: Any,
    ) -> Interaction:
        """A user runs a slash command: INTERACTION_CREATE type 2. `where` as for `_interact`
        (`user_install=True`, `context=2`, `app_permissions=...`, `permissions=...`)."""
        command = next((c for c in self.commands if c["name"] == name), None)
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self.snowflake()),
            "name": name,
            "type": 1,
        }
        if options:
            data["options"] = [
                {"name": k, "type": 4 if isinstance(v, int) else 3, "value": v}
                for k, v in options.items()
            ]
        return await self._interact(2, data, channel_id, user, locale, **where)

    async def submit(self, opened: Interaction, values: dict[str, str]) -> Interaction:
        """The user fills in the modal `opened` was answered with (callback type 9) and
        submits it: INTERACTION_CREATE type 5, values keyed by the text inputs' labels."""
        (modal,) = [r["data"] for r in opened.responses if r.get("type") == 9]
        rows = []
        for row in modal["components"]:
            inputs = row["components"] if row["type"] == ACTION_ROW else [row["component"]]
            answered = [
                {
                    "type": 4,
                    "custom_id": i["custom_id"],
                    "value": values.get(i["label"], i.get("value") or ""),
                }
                for i in inputs
            ]
            rows.append({"type": ACTION_ROW, "components": answered})
        data = {"custom_id": modal["custom_id"], "components": rows}
        channel_id = int(opened.payload["channel_id"])
        user = opened.payload.get("user") or opened.payload["member"]["user"]
        return await self._interact(5, data, channel_id, user, opened.payload["locale"])

    async def click(
        self,
        message: dict[str, Any],
        custom_id: str,
        *,
        channel_id: int | None = None,
        user: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> Interaction:
        """A user clicks a button on `message`: INTERACTION_CREATE type 3."""
        data = {"custom_id": custom_id, "component_type": 2}
        channel_id = channel_id or int(message["channel_id"])
        return await self._interact(3, data, channel_id, user, locale, message=message)

    async def _interact(
        self,
        kind: int,
        data: dict[str, Any],
        channel_id: int | None,
        user: dict[str, Any] | None,
        locale: str,
        *,
        message: dict[str, Any] | None = None,
        user_install: bool = False,
        context: int | None = None,
        app_permissions: str | None = None,
        permissions: str | None = None,
    ) -> Interaction:
        """A user install (`user_install`) in a server authorizes the user alone (owners
        `{"1": user}`), and the app there has only what interactions give (no Send Messages)."""
        channel_id = channel_id or self.channel_id
        channel = self.channels[channel_id]
        user = user or self.user
        interaction_id = self.snowflake()
        token = f"interaction-token-{interaction_id}"
        interaction = payload("interaction_command" if kind == 2 else "interaction_component")
        interaction.update(
            id=str(interaction_id),
            application_id=str(self.app_id),
            data=data,
            channel_id=str(channel_id),
            channel=channel,
            token=token,
            locale=locale,
            attachment_size_limit=self.filesize_limit,
        )
        member_permissions = permissions or "2248473465835073"
        if "guild_id" in channel:
            interaction["guild_id"] = channel["guild_id"]
            interaction["member"] = {**self._member(user), "permissions": member_permissions}
            interaction["authorizing_integration_owners"] = {"0": channel["guild_id"]}
            interaction["context"] = 0
            if user_install:
                interaction["authorizing_integration_owners"] = {"1": user["id"]}
                interaction["app_permissions"] = str(INTERACTION_ONLY_PERMISSIONS)
        else:
            for key in ("guild_id", "guild_locale", "member"):
                del interaction[key]
            interaction["user"] = user
            interaction["authorizing_integration_owners"] = {"1": user["id"]}
            interaction["context"] = 1
        if context is not None:
            interaction["context"] = context
        if app_permissions is not None:
            interaction["app_permissions"] = app_permissions
        if message is not None:
            interaction["message"] = message
        else:
            interaction.pop("message", None)
        if kind == 5:
            interaction["type"] = 5
        record = Interaction(interaction_id, token, interaction)
        self.interactions[interaction_id] = record
        await self.dispatch("INTERACTION_CREATE", interaction)
        return record

    # -- waiting on what the bot did --------------------------------------------------------

    def find(self, method: str, pattern: str) -> list[Call]:
        """Recorded calls whose path matches a glob (`*` spans segments), in order."""
        return [call for call in self.calls if call.matches(method, pattern)]

    def sent_messages(self, channel_id: int | str) -> list[dict[str, Any]]:
        """Messages the bot created in a channel, as they are now (edits applied)."""
        return [
            m
            for m in self.messages.values()
            if m["channel_id"] == str(channel_id) and m["author"]["id"] == self.bot["id"]
        ]

    async def wait_for(self, probe: Callable[[], T | None], timeout: float = 10.0) -> T:  # noqa: ASYNC109
        """Wait until `probe()` returns something truthy (re-checked on every change)."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                while True:
                    result = probe()
                    if result:
                        return result
                    await self._changed.wait()

    async def wait_ready(self, shards: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Every shard identified and got READY and its GUILD_CREATE."""
        await self.wait_for(
            lambda: len([s for s in self._sessions if s.identified]) >= shards, timeout
        )

    @property
    def heartbeat_acks(self) -> int:
        return sum(s.heartbeats for s in self._sessions)

    async def _changed_now(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- gateway ------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch (op 0) to the shard that owns the event's guild."""
        guild_id = data.get("guild_id")
        for session in list(self._sessions):
            if not session.identified or session.ws.closed:
                continue
            shard_id, count = session.shard
            if guild_id is None and shard_id != 0:
                continue
            if guild_id is not None and (int(guild_id) >> 22) % count != shard_id:
                continue
            await self._send_dispatch(session, event, data)

    async def _send_dispatch(self, session: _Session, event: str, data: Any) -> None:
        session.seq += 1
        await session.ws.send_str(json.dumps({"op": 0, "t": event, "s": session.seq, "d": data}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = _Session(ws)
        self._sessions.append(session)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_ms}}))
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                packet = json.loads(frame.data)
                op = packet.get("op")
                if op == 1:
                    session.heartbeats += 1
                    await ws.send_str(json.dumps({"op": 11}))
                    await self._changed_now()
                elif op == 2:
                    await self._identify(session, packet["d"])
                elif op == 6:
                    session.identified = True
                    await self._send_dispatch(session, "RESUMED", {})
        finally:
            if session in self._sessions:
                self._sessions.remove(session)
            await self._changed_now()
        return ws

    async def _identify(self, session: _Session, data: dict[str, Any]) -> None:
        self.identifies.append({k: v for k, v in data.items() if k != "token"})
        if data.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        if data.get("intents", 0) & PRIVILEGED_INTENTS and not self.allow_privileged:
            await session.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = data.get("shard") or [0, 1]
        session.shard = (int(shard[0]), int(shard[1]))
        session.session_id = f"session-{self.snowflake()}"
        guild_here = (self.guild_id >> 22) % session.shard[1] == session.shard[0]
        guild_here = guild_here and not self.minimal
        ready = payload("ready")
        ready.update(
            user={**ready["user"], **self.bot},
            guilds=[{"id": str(self.guild_id), "unavailable": True}] if guild_here else [],
            session_id=session.session_id,
            resume_gateway_url=self.gateway_url,
            shard=list(session.shard),
            application={"id": str(self.app_id), "flags": ready["application"]["flags"]},
        )
        await self._send_dispatch(session, "READY", ready)
        if guild_here:
            await self._send_dispatch(session, "GUILD_CREATE", self.guild_payload())
        session.identified = True
        await self._changed_now()

    # -- REST -----------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body, files = await self._read_body(request)
        call = Call(
            request.method,
            path,
            dict(request.query),
            body,
            files,
            {k: v for k, v in request.headers.items()},
        )
        self.calls.append(call)
        public = path.startswith(("/interactions/", "/webhooks/"))
        if not public and request.headers.get("Authorization") != f"Bot {self.token}":
            status, answer = 401, {"message": "401: Unauthorized", "code": 0}
        else:
            try:
                status, answer = await self._route(request.method, path, call)
            except _Refused as refused:
                status, answer = refused.status, {"message": refused.message, "code": refused.code}
        call.status, call.answer = status, answer
        await self._changed_now()
        if status == 204:
            return web.Response(status=204)
        # Exactly `application/json`, as Discord sends it: discord.py compares the header whole.
        return web.Response(
            body=json.dumps(answer).encode(),
            status=status,
            headers={"Content-Type": "application/json"},
        )

    async def _read_body(self, request: web.Request) -> tuple[Any, list[UploadedPart]]:
        if not request.body_exists:
            return None, []
        if request.content_type.startswith("multipart/"):
            payload: Any = None
            files: list[UploadedPart] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                    continue
                size = 0
                while chunk := await part.read_chunk(64 * 1024):
                    size += len(chunk)
                files.append(
                    UploadedPart(
                        part.name or "",
                        part.filename,
                        size,
                        part.headers.get("Content-Type"),
                    )
                )
            return payload, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    async def _route(self, method: str, path: str, call: Call) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        body = call.json or {}
        match method, parts:
            case "GET", ["users", "@me"]:
                return 200, {**self.bot, "verified": True, "mfa_enabled": False, "flags": 0}
            case "GET", ["oauth2", "applications", "@me"]:
                return 200, self._application()
            case "GET", ["gateway", "bot"]:
                limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
                return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}
            case "GET", ["gateway"]:
                return 200, {"url": self.gateway_url}
            case "PUT", ["applications", _, "commands"]:
                check_commands(body)
                self.commands = [
                    {
                        **c,
                        "id": str(self.snowflake()),
                        "application_id": str(self.app_id),
                        "version": str(self.snowflake()),
                        "default_member_permissions": None,
                        "type": c.get("type", 1),
                    }
                    for c in body
                ]
                return 200, self.commands
            case "GET", ["channels", channel_id] if not self.minimal:
                return 200, self._channel(int(channel_id))
            case "PATCH", ["channels", channel_id]:
                return 200, await self._edit_channel(int(channel_id), body)
            case "POST", ["channels", channel_id, "threads"]:
                return 201, await self._create_forum_post(int(channel_id), body)
            case "POST", ["users", "@me", "channels"]:
                user = next(
                    u for u in (self.user, self.other_user) if u["id"] == str(body["recipient_id"])
                )
                return 200, self.dm_channel(user)
            case "POST", ["channels", channel_id, "typing"]:
                self._channel(int(channel_id))
                return 204, None
            case "POST", ["channels", channel_id, "messages"]:
                return 200, await self._create_message(int(channel_id), body, call.files)
            case "GET", ["channels", channel_id, "messages"]:
                return 200, self._channel_messages(int(channel_id), call.query)
            case "PATCH", ["channels", channel_id, "messages", message_id]:
                return 200, self._edit_message(int(channel_id), int(message_id), body, call.files)
            case "POST", ["channels", channel_id, "messages", message_id, "threads"]:
                return 201, await self._create_thread(int(channel_id), int(message_id), body)
            case "POST", ["interactions", interaction_id, token, "callback"]:
                return self._callback(int(interaction_id), token, body, call.query)
            case "POST", ["webhooks", _, token]:
                return 200, self._followup(token, body, call.files)
            case "PATCH", ["webhooks", _, token, "messages", message_id]:
                interaction = self._interaction_by_token(token)
                channel_id = int(interaction.payload["channel_id"])
                if message_id == "@original":
                    raise _Refused(404, 10008, "Unknown Message")
                return 200, self._edit_message(channel_id, int(message_id), body, call.files)
        raise _Refused(404, 0, f"404: Not Found ({method} {path})")

    def _application(self) -> dict[str, Any]:
        return {**payload("application"), "id": str(self.app_id), "owner": self.user}

    def _channel(self, channel_id: int) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise _Refused(404, 10003, "Unknown Channel")
        return channel

    async def _create_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[UploadedPart],
        *,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        channel = self._channel(channel_id)
        if channel["type"] == 1 and channel["recipients"][0]["id"] in self.closed_dms:
            raise _Refused(403, 50007, "Cannot send messages to this user")
        content = body.get("content") or ""
        if len(content) > 2000:
            raise _Refused(
                400, 50035, "Invalid Form Body: content: Must be 2000 or fewer in length."
            )
        if not content and not files and not body.get("embeds") and not body.get("components"):
            raise _Refused(400, 50006, "Cannot send an empty message")
        check_components(body, [f.filename or "" for f in files])
        attachments = self._stored_files(channel, files)
        message = self._message(
            channel_id,
            self.bot,
            content,
            message_id=message_id,
            attachments=attachments,
            components=body.get("components") or [],
            flags=body.get("flags", 0),
        )
        message["embeds"] = body.get("embeds") or []
        message["mention_everyone"] = False  # allowed mentions decide; the bot's never ping
        message["allowed_mentions"] = body.get("allowed_mentions")
        if "message_reference" in body:
            message["message_reference"] = body["message_reference"]
        self.messages[int(message["id"])] = message
        self.history[int(message["id"])] = [shown_text(message)]
        if channel["type"] in (10, 11, 12):
            channel["message_count"] = channel.get("message_count", 0) + 1
        channel["last_message_id"] = message["id"]
        echo = {k: v for k, v in message.items() if k != "allowed_mentions"}
        await self.dispatch("MESSAGE_CREATE", echo)
        return echo

    def _stored_files(
        self, channel: dict[str, Any], files: list[UploadedPart]
    ) -> list[dict[str, Any]]:
        """Attachments as Discord stores them; files over the limit are refused (413, 40005)."""
        limit = self.filesize_limit if "guild_id" in channel else DEFAULT_FILE_LIMIT
        if self.upload_refusal_limit is not None:
            limit = min(limit, self.upload_refusal_limit)
        if sum(f.size for f in files) > limit:
            raise _Refused(413, 40005, "Request entity too large")
        channel_id = channel["id"]
        return [
            {
                "id": str(self.snowflake()),
                "filename": f.filename or "file",
                "size": f.size,
                "url": f"{self.base_url}/attachments/{channel_id}/{self.snowflake()}/{f.filename}",
                "proxy_url": f"{self.base_url}/attachments/{channel_id}/x/{f.filename}",
                "content_type": f.content_type or "application/octet-stream",
            }
            for f in files
        ]

    def _channel_messages(self, channel_id: int, query: dict[str, str]) -> list[dict[str, Any]]:
        """As Discord answers GET /channels/{id}/messages: newest first, `limit` (1..100,
        default 50) of them, before the `before` id when given."""
        self._channel(channel_id)
        limit = min(max(int(query.get("limit", 50)), 1), 100)
        before = int(query["before"]) if query.get("before") else None
        found = sorted(
            (
                m
                for mid, m in self.messages.items()
                if m["channel_id"] == str(channel_id) and (before is None or mid < before)
            ),
            key=lambda m: int(m["id"]),
            reverse=True,
        )
        return [
            {k: v for k, v in m.items() if k not in ("allowed_mentions", "edits")}
            for m in found[:limit]
        ]

    def _edit_message(
        self, channel_id: int, message_id: int, body: dict[str, Any], files: list[UploadedPart]
    ) -> dict[str, Any]:
        message = self.messages.get(message_id)
        if message is None or message["channel_id"] != str(channel_id):
            raise _Refused(404, 10008, "Unknown Message")
        if message["author"]["id"] != self.bot["id"]:
            raise _Refused(403, 50005, "Cannot edit a message authored by another user")
        merged = {"flags": message.get("flags", 0), **body}
        check_components(merged, [f.filename or "" for f in files], message["attachments"])
        if files or "attachments" in body:
            kept = {str(a.get("id")) for a in body.get("attachments") or [] if "id" in a}
            old = [a for a in message["attachments"] if a["id"] in kept]
            channel = self._channel(channel_id)
            message["attachments"] = old + self._stored_files(channel, files)
        if "content" in body:
            if body["content"] and len(body["content"]) > 2000:
                raise _Refused(
                    400, 50035, "Invalid Form Body: content: Must be 2000 or fewer in length."
                )
            message["content"] = body["content"] or ""
        for key in ("embeds", "components", "allowed_mentions"):
            if key in body:
                message[key] = body[key]
        if "content" in body or "components" in body:
            self.history.setdefault(message_id, []).append(shown_text(message))
        if "flags" in body:  # IS_COMPONENTS_V2 cannot be taken off once set
            message["flags"] = body["flags"] | (message.get("flags", 0) & IS_COMPONENTS_V2)
        message["edited_timestamp"] = iso()
        message.setdefault("edits", 0)
        message["edits"] += 1
        return {k: v for k, v in message.items() if k not in ("allowed_mentions", "edits")}

    async def _create_thread(
        self, channel_id: int, message_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        parent = self._channel(channel_id)
        if self.forbid_threads:
            raise _Refused(403, 50013, "Missing Permissions")
        if message_id not in self.messages:
            raise _Refused(404, 10008, "Unknown Message")
        if message_id in self.channels:
            raise _Refused(400, 160004, "A thread has already been created for this message")
        name = body.get("name", "")
        if not 1 <= len(name) <= 100:
            raise _Refused(
                400, 50035, "Invalid Form Body: name: Must be between 1 and 100 in length."
            )
        thread = self._thread_payload(message_id, parent, name, self.bot)
        thread["thread_metadata"]["auto_archive_duration"] = body.get("auto_archive_duration", 1440)
        self.channels[message_id] = thread
        self.messages[message_id]["thread"] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    def _thread_payload(
        self, thread_id: int, parent: dict[str, Any], name: str, owner: dict[str, Any]
    ) -> dict[str, Any]:
        thread = payload("thread_create")
        del thread["newly_created"]
        now = iso()
        thread.update(
            id=str(thread_id),
            guild_id=parent["guild_id"],
            parent_id=parent["id"],
            owner_id=owner["id"],
            name=name,
            applied_tags=[],
        )
        thread["thread_metadata"].update(archive_timestamp=now, create_timestamp=now)
        return thread

    async def _create_forum_post(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /channels/{forum}/threads` with a starter `message`: the post and its first
        message, whose id is the post's (as Discord numbers them)."""
        forum = self._channel(channel_id)
        if forum["type"] != FORUM:
            raise _Refused(400, 50024, "Cannot execute action on this channel type")
        if self.forbid_threads:
            raise _Refused(403, 50013, "Missing Permissions")
        name, message = body.get("name", ""), body.get("message") or {}
        if not 1 <= len(name) <= 100:
            raise _Refused(400, 50035, "Invalid Form Body: name")
        if not message.get("content") and not message.get("components"):
            raise _Refused(400, 50006, "Cannot send an empty message")
        check_components(message, [])
        tags = _checked_tags(forum, body.get("applied_tags") or [])
        post_id = self.snowflake()
        thread = self._thread_payload(post_id, forum, name, self.bot)
        thread["applied_tags"] = tags
        self.channels[post_id] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        starter = await self._create_message(post_id, message, [], message_id=post_id)
        return {**thread, "message": starter}

    async def _edit_channel(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """`PATCH /channels/{thread}`: a post's tags (its owner, or Manage Threads)."""
        thread = self._channel(channel_id)
        if "applied_tags" in body:
            if thread["owner_id"] != self.bot["id"] and not self.bot_manages_threads:
                raise _Refused(403, 50013, "Missing Permissions")
            forum = self._channel(int(thread["parent_id"]))
            thread["applied_tags"] = _checked_tags(forum, body["applied_tags"])
        await self.dispatch("THREAD_UPDATE", thread)
        return thread

    async def add_forum(self, tags: tuple[str, ...] = ("working", "ready")) -> dict[str, Any]:
        """A forum channel (type 15) in the guild with these tags; CHANNEL_CREATE to the bot."""
        forum_id = self.snowflake()
        forum = {
            **self.channels[self.channel_id],
            "id": str(forum_id),
            "type": FORUM,
            "name": "videos",
            "available_tags": [
                {
                    "id": str(self.snowflake()),
                    "name": name,
                    "moderated": False,
                    "emoji_id": None,
                    "emoji_name": None,
                }
                for name in tags
            ],
            "default_reaction_emoji": None,
            "default_sort_order": None,
            "default_forum_layout": 0,
            "flags": 0,
        }
        self.channels[forum_id] = forum
        await self.dispatch("CHANNEL_CREATE", forum)
        return forum

    def tag_id(self, forum: dict[str, Any], name: str) -> str:
        return next(t["id"] for t in forum["available_tags"] if t["name"] == name)

    async def user_post(
        self, forum: dict[str, Any], content: str, *, mention_bot: bool = False
    ) -> dict[str, Any]:
        """A user opens a forum post: THREAD_CREATE (owned by the user), then its starter
        message, whose id is the post's."""
        post_id = self.snowflake()
        thread = self._thread_payload(post_id, forum, content[:90] or "post", self.user)
        self.channels[post_id] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return await self.post_message(
            content, channel_id=post_id, mention_bot=mention_bot, message_id=post_id
        )

    def _interaction_by_token(self, token: str) -> Interaction:
        for interaction in self.interactions.values():
            if interaction.token == token:
                return interaction
        raise _Refused(404, 10015, "Unknown Webhook")

    def _callback(
        self, interaction_id: int, token: str, body: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, Any]:
        interaction = self.interactions.get(interaction_id)
        if interaction is None or interaction.token != token:
            raise _Refused(404, 10062, "Unknown interaction")
        if interaction.responses:
            raise _Refused(400, 40060, "Interaction has already been acknowledged.")
        interaction.responses.append(body)
        kind = body.get("type")
        data = body.get("data") or {}
        flags = data.get("flags", 0)
        if kind == 4:
            channel_id = int(interaction.payload["channel_id"])
            message = self._message(
                channel_id, self.bot, data.get("content", ""), flags=flags, message_type=20
            )
            message["allowed_mentions"] = data.get("allowed_mentions")
            self.messages[int(message["id"])] = message
        if query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(interaction_id),
                "type": interaction.payload["type"],
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(flags & EPHEMERAL),
            },
            "resource": {"type": kind},
        }
        return 200, answer

    def _followup(
        self, token: str, body: dict[str, Any], files: list[UploadedPart]
    ) -> dict[str, Any]:
        interaction = self._interaction_by_token(token)
        if not interaction.responses:
            raise _Refused(404, 10015, "Unknown Webhook")
        channel_id = int(interaction.payload["channel_id"])
        message = self._message(
            channel_id,
            self.bot,
            body.get("content") or "",
            flags=body.get("flags", 0),
            webhook_id=self.app_id,
            message_type=20,
        )
        message["allowed_mentions"] = body.get("allowed_mentions")
        message["interaction_token"] = token
        self.messages[int(message["id"])] = message
        return {
            k: v for k, v in message.items() if k not in ("allowed_mentions", "interaction_token")
        }

    def followups(self, interaction: Interaction) -> list[dict[str, Any]]:
        return [
            m for m in self.messages.values() if m.get("interaction_token") == interaction.token
        ]

    # -- CDN ------------------------------------------------------------------------------------

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        call = Call(
            "GET", "/attachments/" + path, dict(request.query), None, [], dict(request.headers)
        )
        self.calls.append(call)
        data = self.cdn_files.get(path)
        signed = all(k in request.query for k in ("ex", "is", "hm"))
        if data is None or not signed:
            call.status = 404
            await self._changed_now()
            return web.Response(status=404, text="This content is no longer available.")
        await self._changed_now()
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(data)
        await response.prepare(request)
        for start in range(0, len(data), 64 * 1024):
            await response.write(data[start : start + 64 * 1024])
        await response.write_eof()
        return response

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        self.calls.append(
            Call("GET", "/redirect", dict(request.query), None, [], dict(request.headers))
        )
        await self._changed_now()
        raise web.HTTPFound(request.query["to"])


def _checked_tags(forum: dict[str, Any], wanted: list[Any]) -> list[str]:
    """A post's tags: at most 5, each one the forum's own."""
    tags = [str(t) for t in wanted]
    known = {t["id"] for t in forum.get("available_tags", [])}
    if not set(tags) <= known or len(tags) > 5:
        raise _Refused(400, 50035, "Invalid Form Body: applied_tags")
    return tags


def check_commands(commands: list[dict[str, Any]]) -> None:
    """Refuse what Discord refuses in a bulk overwrite: unknown install types (0 guild, 1 user)
    or contexts (0 guild, 1 bot DM, 2 private channel), names outside `^[-_a-z0-9]{1,32}$`."""
    for command in commands:
        if not re.fullmatch(r"[-_a-z0-9]{1,32}", command.get("name", "")):
            raise _Refused(400, 50035, "Invalid Form Body: name")
        if not set(command.get("integration_types") or [0]) <= {0, 1}:
            raise _Refused(400, 50035, "Invalid Form Body: integration_types")
        if not set(command.get("contexts") or []) <= {0, 1, 2}:
            raise _Refused(400, 50035, "Invalid Form Body: contexts")


def shown_text(message: dict[str, Any]) -> str:
    """What a reader sees as text: the content, or a V2 message's text displays in order."""
    texts: list[str] = [message.get("content") or ""] if message.get("content") else []

    def walk(components: list[dict[str, Any]]) -> None:
        for component in components:
            if component.get("type") == TEXT_DISPLAY:
                texts.append(component.get("content", ""))
            walk(component.get("components") or [])

    if message.get("flags", 0) & IS_COMPONENTS_V2:
        walk(message.get("components") or [])
    return "\n".join(texts)


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button on a message, in order: in action rows, containers or beside sections."""
    found: list[dict[str, Any]] = []

    def walk(components: list[dict[str, Any]]) -> None:
        for component in components:
            if component.get("type") == BUTTON:
                found.append(component)
            walk(component.get("components") or [])
            if component.get("accessory"):
                walk([component["accessory"]])

    walk(message.get("components") or [])
    return found


def check_components(
    body: dict[str, Any], uploaded: list[str], existing: list[dict[str, Any]] | None = None
) -> None:
    """Refuse what Discord refuses (400, 50035): a Components V2 message (flag 1 << 15) has
    no `content` or embeds, only V2 types in their places, at most 4,000 characters of text,
    and `attachment://` media naming a file it carries; without the flag only action rows."""
    components = body.get("components") or []
    if not body.get("flags", 0) & IS_COMPONENTS_V2:
        if any(c.get("type") != ACTION_ROW for c in components):
            raise _Refused(400, 50035, "Invalid Form Body: components: V2 needs the flag")
        for row in components:
            _check_row(row)
        return
    if body.get("content") or body.get("embeds"):
        raise _Refused(
            400, 50035, "Invalid Form Body: content and embeds cannot be used with V2 components"
        )
    names = set(uploaded) | {a.get("filename", "") for a in existing or []}
    texts: list[str] = []
    for component in components:
        if component.get("type") not in V2_TOP:
            raise _Refused(400, 50035, f"Invalid Form Body: component type {component.get('type')}")
        _check_v2(component, names, texts)
    if sum(len(t) for t in texts) > V2_TEXT_LIMIT:
        raise _Refused(400, 50035, "Invalid Form Body: text displays over 4000 characters")


def _check_row(row: dict[str, Any]) -> None:
    children = row.get("components") or []
    if not 1 <= len(children) <= 5 or any(b.get("type") != BUTTON for b in children):
        raise _Refused(400, 50035, "Invalid Form Body: an action row holds 1 to 5 buttons")
    for button in children:
        if len(button.get("label") or "") > 80 or len(button.get("custom_id") or "") > 100:
            raise _Refused(400, 50035, "Invalid Form Body: button label or custom_id too long")


def _check_v2(component: dict[str, Any], names: set[str], texts: list[str]) -> None:
    kind = component.get("type")
    if kind == ACTION_ROW:
        _check_row(component)
    elif kind == TEXT_DISPLAY:
        if not component.get("content"):
            raise _Refused(400, 50035, "Invalid Form Body: a text display needs content")
        texts.append(component["content"])
    elif kind == SECTION:
        inner = component.get("components") or []
        if not 1 <= len(inner) <= 3 or any(c.get("type") != TEXT_DISPLAY for c in inner):
            raise _Refused(400, 50035, "Invalid Form Body: a section holds 1 to 3 text displays")
        accessory = component.get("accessory") or {}
        if accessory.get("type") not in (BUTTON, THUMBNAIL):
            raise _Refused(400, 50035, "Invalid Form Body: a section needs a button or thumbnail")
        for child in [*inner, accessory]:
            _check_v2(child, names, texts)
    elif kind in (THUMBNAIL, MEDIA_GALLERY):
        items = component.get("items") or [] if kind == MEDIA_GALLERY else [component]
        if not 1 <= len(items) <= 10:
            raise _Refused(400, 50035, "Invalid Form Body: a gallery holds 1 to 10 items")
        for item in items:
            url = (item.get("media") or {}).get("url", "")
            if url.startswith("attachment://"):
                if url.removeprefix("attachment://") not in names:
                    raise _Refused(400, 50035, f"Invalid Form Body: no attachment for {url}")
            elif not url.startswith(("http://", "https://")):
                raise _Refused(400, 50035, f"Invalid Form Body: media url {url!r}")
    elif kind == CONTAINER:
        for child in component.get("components") or []:
            if child.get("type") not in V2_IN_CONTAINER:
                raise _Refused(400, 50035, "Invalid Form Body: not allowed in a container")
            _check_v2(child, names, texts)
    elif kind == BUTTON:
        pass


class _Refused(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
