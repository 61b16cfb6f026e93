"""Multi-workspace installs over Slack's OAuth v2, through Bolt's own flow.

What must hold:
- `GET /slack/install` redirects to `SLACK_OAUTH_AUTHORIZE_URL` with the client id, the
  manifest's scopes and a one-time state (also set as a cookie: Bolt checks both, so a state
  forged or carried to another browser is refused); `GET /slack/oauth_redirect` exchanges the
  code (`oauth.v2.access`, then `auth.test`) at `SLACK_API_URL` and stores the installation;
- every team is answered with its own bot token (`TeamClients`), read from the store when
  first needed and dropped when the team uninstalls (`tokens_revoked`, `app_uninstalled`).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from core.metrics import Metrics
from core.store import Store

from .client import TeamClient, api_base, build_client
from .incoming import PLATFORM
from .installs import StoreInstallations, StoreStates
from .settings import SlackSettings

log = logging.getLogger("jupiter.slack")

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# What the app asks for at install; kept equal to the manifest's (a test compares them).
BOT_SCOPES = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "chat:write",
    "commands",
    "files:read",
    "files:write",
    "groups:history",
    "im:history",
    "users:read",
)


def oauth_flow(settings: SlackSettings, store: Store) -> AsyncOAuthFlow:
    secret = settings.slack_client_secret
    return AsyncOAuthFlow(
        client=AsyncWebClient(base_url=api_base(settings.slack_api_url)),
        settings=AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            scopes=list(BOT_SCOPES),
            user_scopes=[],
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            install_page_rendering_enabled=False,  # straight to Slack
            authorization_url=settings.slack_oauth_authorize_url,
            installation_store=StoreInstallations(store),
            installation_store_bot_only=True,
            state_store=StoreStates(store),
            logger=logging.getLogger("jupiter.slack.oauth"),
        ),
    )


class TeamClients:
    """One client per installed tenant, its token looked up in the store on first use."""

    def __init__(self, settings: SlackSettings, store: Store, metrics: Metrics, backoff: float):
        self._settings, self._store, self._metrics, self._backoff = (
            settings,
            store,
            metrics,
            backoff,
        )
        self._clients: dict[str, AsyncWebClient] = {}

    async def _token(self, tenant: str) -> str | None:
        raw = await self._store.get_install(PLATFORM, tenant)
        token = json.loads(raw).get("bot_token") if raw else None
        return str(token) if token else None

    def __call__(self, tenant: str) -> AsyncWebClient:
        client = self._clients.get(tenant)
        if client is None:
            client = build_client(
                self._settings, self._metrics, self._backoff, tenant=tenant, lookup=self._token
            )
            self._clients[tenant] = client
        return client

    def forget(self, *tenants: str | None) -> None:
        for tenant in tenants:
            client = self._clients.pop(tenant or "", None)
            if isinstance(client, TeamClient):
                client.forget()


def add_oauth_routes(app: web.Application, flow: AsyncOAuthFlow) -> None:
    async def install(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(
            await flow.handle_installation(await to_bolt_request(request))
        )

    async def redirect(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    app.router.add_get(INSTALL_PATH, install)
    app.router.add_get(REDIRECT_PATH, redirect)
