"""`DISCORD_API_URL` and `DISCORD_GATEWAY_URL` for one client, leaving discord.py's classes alone.

discord.py builds every REST URL from the class attribute `Route.BASE` when a `Route` is made,
and opens the gateway at the class attribute `DiscordWebSocket.DEFAULT_GATEWAY` (a plain
`Client` never asks `/gateway/bot`; an invalidated session goes back to the default). Setting
those would redirect every client in the process. Instead, the three places where a URL
leaves discord.py are rebased per instance:
- REST: the client's own `HTTPClient.request` (the instance's class is swapped for
  `RebasedHTTPClient`, a subclass, so nothing else changes);
- interaction responses and followups, which go through a webhook adapter found in the
  `async_context` context variable: a rebased adapter is set for the bot's task tree only;
- the gateway: the same `HTTPClient.ws_connect` every shard connects through.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import aiohttp
import yarl
from discord import Client
from discord.gateway import DiscordWebSocket
from discord.http import HTTPClient, Route
from discord.webhook.async_ import AsyncWebhookAdapter, async_context


def _rebase(url: str, default: str, base: str) -> str:
    return base + url[len(default) :] if url.startswith(default) else url


class RebasedHTTPClient(HTTPClient):
    """discord.py's HTTP client with the REST base and gateway of one deployment."""

    api_base: str = Route.BASE
    gateway: yarl.URL = DiscordWebSocket.DEFAULT_GATEWAY

    async def request(self, route: Route, **kwargs: Any) -> Any:
        route.url = _rebase(route.url, Route.BASE, self.api_base)
        return await super().request(route, **kwargs)

    async def ws_connect(self, url: str, *, compress: int = 0) -> aiohttp.ClientWebSocketResponse:
        """The default gateway (first connection, invalidated session) becomes this client's,
        with discord.py's query (version, encoding, compression) kept."""
        wanted = yarl.URL(url)
        if wanted.host == DiscordWebSocket.DEFAULT_GATEWAY.host:
            url = str(self.gateway.with_query(wanted.query))
        return await super().ws_connect(url, compress=compress)


class RebasedWebhookAdapter(AsyncWebhookAdapter):
    """Interaction callbacks and followups at the deployment's REST base."""

    def __init__(self, api_base: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.api_base = api_base

    async def request(self, route: Route, *args: Any, **kwargs: Any) -> Any:
        route.url = _rebase(route.url, Route.BASE, self.api_base)
        return await super().request(route, *args, **kwargs)


def point_client(client: Client, api_url: str, gateway_url: str) -> None:
    """Make `client` (and only it) talk to `api_url` and `gateway_url`."""
    http = client.http
    http.__class__ = RebasedHTTPClient
    assert isinstance(http, RebasedHTTPClient)
    http.api_base = api_url.rstrip("/")
    http.gateway = yarl.URL(gateway_url)


@contextlib.contextmanager
def webhooks_via(adapter: AsyncWebhookAdapter) -> Iterator[None]:
    """Interaction calls made inside go through `adapter` (this task and the tasks it starts)."""
    token = async_context.set(adapter)
    try:
        yield
    finally:
        async_context.reset(token)


def interaction_endpoints(api_url: str) -> contextlib.AbstractContextManager[None]:
    """Interaction responses from the bot's task tree go to `api_url`."""
    return webhooks_via(RebasedWebhookAdapter(api_url.rstrip("/")))


def current_webhooks() -> AsyncWebhookAdapter:
    """The adapter in effect here: kept by objects whose calls may come from other tasks (an
    engine's turn, a test), which then use it through `webhooks_via`."""
    return async_context.get()
