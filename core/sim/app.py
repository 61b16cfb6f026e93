"""`LocalBackend`: the NemoVideo-compatible server the bots use offline, in CI and in staging."""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from core.sim import admin, api, exports, strict, turns, uploads
from core.sim.faults import Faults
from core.sim.state import STATE, SimState


class LocalBackend:
    """A loopback HTTP server speaking NEMO_PROTOCOL.md, with fault knobs.

    `seed` fixes every choice the agent makes (event shapes, music, which edits stay silent);
    `media_dir` keeps uploads and renders (default: a temporary folder removed on stop);
    `api_tokens` are accepted as registered users' tokens, like a deployment's NEMO_TOKEN.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        faults: Faults | None = None,
        media_dir: Path | None = None,
        api_tokens: Iterable[str] = (),
        max_upload_bytes: int = uploads.MAX_UPLOAD_BYTES,
    ) -> None:
        self._own_media = media_dir is None
        self._media_dir = media_dir
        self._seed = random.randrange(2**31) if seed is None else seed
        self._idle_faults = faults or Faults()  # the knobs while no server runs
        self._max_upload_bytes = max_upload_bytes
        self._api_tokens = tuple(api_tokens)
        self._state: SimState | None = None
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the local backend is not started")
        return self._base_url

    @property
    def faults(self) -> Faults:
        return self._state.faults if self._state else self._idle_faults

    def set_faults(self, changes: dict[str, Any]) -> Faults:
        """Validated partial update, as `POST /_sim/faults`; raises pydantic's ValidationError."""
        if self._state is None:
            self._idle_faults = self._idle_faults.updated(changes)
        else:
            admin.apply_faults(self._state, changes)
        return self.faults

    def _app(self, state: SimState) -> web.Application:
        app = web.Application(middlewares=[admin.faults_and_log], client_max_size=1024**2)
        app[STATE] = state
        app[exports.JOBS] = {}
        tables = (api.routes, strict.routes, turns.routes, uploads.routes, exports.routes)
        for table in (*tables, admin.routes):
            app.add_routes(table)
        app.on_shutdown.append(exports.stop_all)
        app.on_shutdown.append(turns.stop_background)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError("the local backend is already started")
        media_dir = self._media_dir or Path(tempfile.mkdtemp(prefix="jupiter-sim-"))
        media_dir.mkdir(parents=True, exist_ok=True)
        state = SimState(
            seed=self._seed,
            faults=self._idle_faults,
            media_dir=media_dir,
            max_upload_bytes=self._max_upload_bytes,
        )
        if state.faults.credits is not None:
            state.accounts.set_credits(state.faults.credits)
        for value in self._api_tokens:
            state.accounts.register(value)
        runner = web.AppRunner(
            self._app(state), handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._state, self._runner, self._media_dir = state, runner, media_dir
        self._base_url = f"http://{shown}:{bound_port}"
        return self._base_url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._idle_faults = self.faults
        await runner.cleanup()
        self._state, self._base_url = None, None
        if self._own_media and self._media_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._media_dir, True)
            self._media_dir = None

    async def __aenter__(self) -> LocalBackend:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve_forever(host: str, port: int, seed: int | None, faults: Faults) -> None:
    """`jupiter sim`: serves until cancelled (Ctrl-C cancels the task under asyncio.run)."""
    backend = LocalBackend(seed=seed, faults=faults)
    url = await backend.start(host, port)
    try:
        print(f"jupiter sim listening on {url}", flush=True)
        await asyncio.Event().wait()
    finally:
        await backend.stop()
