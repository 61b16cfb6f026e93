"""Running the Slack app: Socket Mode, or HTTP with `/slack/events`, `/healthz` and `/metrics`.

What must hold:
- in HTTP mode nothing is processed unless the signature checks out (`X-Slack-Signature` over
  `v0:{timestamp}:{body}`, timestamp within 5 minutes): 401 otherwise. It is checked on the raw
  bytes *before* anything parses them, so an unsigned malformed body costs a 401 and a warning,
  never a parser error; the body must arrive within `BODY_SECONDS` and fit `BODY_MAX_BYTES`;
- missing credentials stop start-up with a `SettingsError` naming the variable, before any
  socket is opened;
- `/healthz` and `/metrics` answer on `JUPITER_HTTP_PORT` in both modes, so an orchestrator can
  watch a Socket Mode replica too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import aiohttp
import httpx
from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from bots.base.adapter import Engine
from bots.health import BODY_SECONDS, HealthRuntime, add_health_routes, web_app, web_runner
from core.jsonio import json_text
from core.metrics import Metrics
from core.port import ThreadResolver
from core.redact import register_secret_patterns
from core.settings import Settings, SettingsError, load

from . import words
from .client import BoundedResponse, build_client, own_road
from .handlers import build_app
from .oauth import TeamClients, add_oauth_routes, oauth_flow
from .settings import SlackSettings
from .startup import check_bot_token, connect_socket
from .thread import SlackThreads

log = logging.getLogger("jupiter.slack")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

EVENTS_PATH = "/slack/events"


class SlackRuntime(Protocol):
    """What `serve` needs from `core.runtime.Runtime`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def http(self) -> httpx.AsyncClient: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def metrics(self) -> Metrics: ...

    async def healthy(self) -> bool: ...


def _secret(value: SecretStr | None) -> str | None:
    text = value.get_secret_value().strip() if value is not None else ""
    return text or None


def _require(value: SecretStr | None, name: str, why: str) -> str:
    secret = _secret(value)
    if secret is None:
        raise SettingsError(f"{name} is not set ({why})")
    return secret


def build_web_app(
    rt: HealthRuntime, bolt_app: AsyncApp | None, signing_secret: str = ""
) -> web.Application:
    """`/healthz`, `/metrics`, and `/slack/events` when a Bolt app is given (HTTP mode)."""
    app = web_app()
    add_health_routes(app, rt)
    if bolt_app is not None:
        app.router.add_post(EVENTS_PATH, _events_handler(bolt_app, signing_secret))
        if bolt_app.oauth_flow is not None:
            add_oauth_routes(app, bolt_app.oauth_flow)
    return app


def _events_handler(bolt_app: AsyncApp, signing_secret: str) -> Handler:
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def slack_events(request: web.Request) -> web.StreamResponse:
        try:
            async with asyncio.timeout(BODY_SECONDS):
                body = await request.read()
        except TimeoutError:
            return web.Response(status=408, text="request body too slow")
        if verifier is not None and not verifier.is_valid_request(body, request.headers):
            log.warning("rejected a request to %s: bad or stale Slack signature", EVENTS_PATH)
            return web.Response(status=401, text="invalid signature")
        response = await bolt_app.async_dispatch(await to_bolt_request(request))
        if response.status == 401:
            log.warning("rejected a request to %s: bad or stale Slack signature", EVENTS_PATH)
        return await to_aiohttp_response(response)

    return slack_events


def build(
    rt: SlackRuntime, settings: SlackSettings, *, socket: bool
) -> tuple[AsyncApp, SlackThreads]:
    """The Bolt app wired to the runtime, and the thread factory registered with the engine."""
    core = rt.settings
    if not settings.oauth:
        _require(settings.slack_bot_token, "SLACK_BOT_TOKEN", words.NEED_BOT_TOKEN)
    if not socket:
        _require(
            settings.slack_signing_secret,
            "SLACK_SIGNING_SECRET",
            words.NEED_SIGNING_SECRET,
        )
    store = getattr(rt.engine, "store", None)
    flow = oauth_flow(settings, store) if settings.oauth and store is not None else None
    teams = None
    if flow is not None and store is not None:
        teams = TeamClients(settings, store, rt.metrics, core.retry_backoff_seconds)
    threads = SlackThreads(
        client=build_client(settings, rt.metrics, core.retry_backoff_seconds),
        http=rt.http,
        settings=settings,
        status_max_seconds=core.turn_timeout_seconds + core.render_timeout_seconds,
        team_clients=teams,
    )
    resolver: ThreadResolver = threads
    rt.engine.register("slack", resolver)
    bolt_app = build_app(settings=settings, engine=rt.engine, threads=threads, oauth_flow=flow)
    if teams is not None:
        teams_forget(bolt_app, teams)
    return bolt_app, threads


def teams_forget(bolt_app: AsyncApp, teams: TeamClients) -> None:
    """After Bolt's revocation listeners deleted an installation, drop its cached client."""

    @bolt_app.middleware
    async def forget(body: dict[str, Any], next: Callable[[], Awaitable[Any]]) -> Any:
        answer = await next()
        event = body.get("event") or {}
        if event.get("type") in {"tokens_revoked", "app_uninstalled"}:
            teams.forget(body.get("team_id"), body.get("enterprise_id"))
        return answer


async def serve(
    rt: SlackRuntime, settings: SlackSettings | None = None, *, socket: bool | None = None
) -> None:
    """Run until cancelled. `socket=None`: Socket Mode exactly when `SLACK_APP_TOKEN` is set.
    Without `settings`, they are read from the environment."""
    register_secret_patterns(
        *SlackSettings.secret_patterns
    )  # `jupiter` did already; a direct caller may not
    settings = settings if settings is not None else load(SlackSettings)
    app_token = _secret(settings.slack_app_token)
    if socket is None:
        socket = app_token is not None
    if socket:
        app_token = _require(settings.slack_app_token, "SLACK_APP_TOKEN", words.NEED_APP_TOKEN)
    bolt_app, threads = build(rt, settings, socket=socket)
    async with web_session() as session:
        share(threads, session)
        await check_bot_token(threads.client, settings.slack_api_url)
        await _serve_with(rt, settings, bolt_app, app_token, socket=socket)


WEB_API_TIMEOUT_SECONDS = 30.0  # slack_sdk's own default per call


def share(threads: SlackThreads, session: aiohttp.ClientSession) -> None:
    """Every Web API client of the app on the one session (see `web_session`)."""
    threads.client.session = session
    if isinstance(threads.team_clients, TeamClients):
        threads.team_clients.session = session


@contextlib.asynccontextmanager
async def web_session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session (kept-alive connections) for every Web API call: slack_sdk otherwise
    opens a session and a connection per call, the bot's largest CPU cost under load. It keeps
    no cookies: the Web API needs none, and Slack's answers set some that would be parsed on
    every answer and sent back on every call. Each answer is read within a bound in size
    (`BoundedResponse`) as in time."""
    connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=30)
    async with (
        aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=WEB_API_TIMEOUT_SECONDS),
            response_class=BoundedResponse,
            cookie_jar=aiohttp.DummyCookieJar(),
            json_serialize=json_text,
        ) as session,
        own_road(session),
    ):
        yield session


async def _serve_with(
    rt: SlackRuntime,
    settings: SlackSettings,
    bolt_app: AsyncApp,
    app_token: str | None,
    *,
    socket: bool,
) -> None:
    secret = _secret(settings.slack_signing_secret) or ""
    runner = web_runner(build_web_app(rt, None if socket else bolt_app, secret))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host=rt.settings.http_host, port=rt.settings.http_port)
        await site.start()
        mode = "socket mode" if socket else f"HTTP at {EVENTS_PATH}"
        log.info("slack app running (%s), listening on %s", mode, runner.addresses)
        if socket:
            handler = AsyncSocketModeHandler(bolt_app, app_token)
            try:
                await connect_socket(handler.client, handler.connect_async)
            finally:
                await handler.close_async()  # type: ignore[no-untyped-call]
        else:
            await asyncio.Event().wait()
    finally:
        await runner.cleanup()
