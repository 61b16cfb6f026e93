"""Wiring in one place: open the shared resources with `async with`, hand them to constructors.

    async with Runtime.open(settings) as rt:
        rt.engine.register("console", ...)  # each adapter registers its platform
        ...

No globals, no import-time side effects; tests open their own runtimes side by side.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from core import __version__
from core.client import ClientTiming, NemoClient
from core.client_media import PublicOnlyResolver
from core.engine import Engine, EngineConfig
from core.metrics import Metrics
from core.settings import Settings, SettingsError
from core.store import Store, open_store
from core.store.cipher import SecretKeyError
from core.wire import AiohttpTransport


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a long-running server: what start-up made (modules,
    classes, settings) is frozen out of every later collection, and the youngest generation is
    collected after 20,000 allocations instead of 700. Measured at 1,000 concurrent turns: the
    collector's time 1.1 s -> 0.35 s, its longest pause 211 ms -> 30-50 ms."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def client_timing(settings: Settings) -> ClientTiming:
    return ClientTiming(
        retry_after_seconds=settings.retry_after_seconds,
        backoff_seconds=settings.retry_backoff_seconds,
        turn_timeout_seconds=settings.turn_timeout_seconds,
        stream_idle_seconds=settings.stream_idle_seconds,
        request_timeout_seconds=settings.request_timeout_seconds,
    )


def engine_config(settings: Settings) -> EngineConfig:
    return EngineConfig(
        heartbeat_seconds=settings.heartbeat_seconds,
        render_poll_seconds=settings.render_poll_seconds,
        render_timeout_seconds=settings.render_timeout_seconds,
        lease_seconds=settings.job_lease_seconds,
        language=settings.language,
        nemo_token=settings.nemo_token.get_secret_value() if settings.nemo_token else None,
        max_queued_per_thread=settings.max_queued_per_thread,
        max_turns_per_user=settings.max_turns_per_user,
        user_daily_credits=settings.user_daily_credits,
        web_url=str(settings.nemo_web_url),
        recovery_seconds=settings.recovery_seconds,
    )


async def _check_secrets(store: Store) -> None:
    """A key that cannot open the stored secrets would fail every turn later, one by one: stop
    at start instead, with one line naming the setting (exit 2)."""
    try:
        await store.seal_secrets()
    except SecretKeyError as exc:
        raise SettingsError(
            f"JUPITER_SECRET_KEY does not open the stored secrets ({exc}); "
            "list the old key after the new one to rotate"
        ) from None


@dataclass
class Runtime:
    settings: Settings
    http: httpx.AsyncClient
    store: Store
    client: NemoClient
    engine: Engine
    metrics: Metrics

    async def healthy(self) -> bool:
        """The store answers and can write (a rate-limited probe): acknowledging messages a
        store cannot keep would lose them, so an orchestrator must see this replica down."""
        return await self.store.ping() and await self.store.writable()

    @classmethod
    @asynccontextmanager
    async def open(
        cls, settings: Settings, *, base_url: str | None = None, owner: str | None = None
    ) -> AsyncIterator[Runtime]:
        """Open the HTTP client, the store and the engine; close them all on the way out."""
        headers = {"User-Agent": f"jupiter/{__version__}"}
        tls = httpx.create_ssl_context()  # the CA bundle loaded once
        async with contextlib.AsyncExitStack() as stack:
            # One httpx client over one aiohttp connection pool (see core/wire.py).
            base = base_url or settings.nemo_base_url
            # Media is fetched on these connections too: only to public addresses, checked
            # as each connection is made (see core/client_media.py).
            pinned = PublicOnlyResolver(urlsplit(base).hostname or "")
            wire = AiohttpTransport(tls, resolver=pinned)
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=wire, headers=headers, follow_redirects=False)
            )
            secret = settings.secret_key.get_secret_value() if settings.secret_key else None
            store = await open_store(settings.database_url, secret_key=secret)
            try:
                await _check_secrets(store)
                metrics = Metrics()
                client = NemoClient(
                    http,
                    base,
                    client_timing(settings),
                    wire=wire,
                )
                engine = Engine(client, store, engine_config(settings), metrics, owner=owner)
                runtime = cls(settings, http, store, client, engine, metrics)
                await engine.start()
                try:
                    yield runtime
                finally:
                    await engine.stop()
            finally:
                await store.close()
