"""Shared fixtures: the local backend on loopback, fast settings, and engine runtimes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from core.runtime import Runtime
from core.settings import Settings
from core.sim import Faults, LocalBackend
from core.store import Store, open_store

S = TypeVar("S", bound=Settings)

FAST_FAULTS = {
    "turn_seconds": 0.25,
    "heartbeat_seconds": 0.05,
    "render_seconds": 0.3,
    "no_text_ratio": 0.0,
    # Engine tests export from anonymous chats and open many tenants from one address; the
    # strict rules themselves are held in tests/sim.
    "anonymous_render": True,
    "address_token_limit": 0,
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """An SQLite store of the test's own (tests/store has its own, for both back ends)."""
    opened = await open_store(f"sqlite:///{tmp_path / 'jupiter.db'}")
    yield opened
    await opened.close()


@pytest.fixture
async def sim() -> AsyncIterator[LocalBackend]:
    async with LocalBackend(seed=7, faults=Faults(**FAST_FAULTS)) as backend:
        yield backend


def fast_settings(tmp_path: Path, cls: type[S] = Settings, **overrides: Any) -> S:  # type: ignore[assignment]
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'jupiter.db'}",
        "heartbeat_seconds": 0.1,
        "render_poll_seconds": 0.05,
        "render_timeout_seconds": 20,
        "retry_after_seconds": 0.01,
        "retry_backoff_seconds": 0.01,
        "turn_timeout_seconds": 20,
        "stream_idle_seconds": 5,
        "job_lease_seconds": 2,
        "recovery_seconds": 0.05,
    }
    values.update(overrides)
    return cls(_env_file=None, **values)  # type: ignore[call-arg]


RuntimeFactory = Callable[..., AbstractAsyncContextManager[Runtime]]


@pytest.fixture
def runtime(tmp_path: Path, sim: LocalBackend) -> RuntimeFactory:
    """`async with runtime(**settings) as rt:` an engine wired to the local backend."""

    def open_runtime(
        owner: str | None = None, **overrides: Any
    ) -> AbstractAsyncContextManager[Runtime]:
        return Runtime.open(
            fast_settings(tmp_path, **overrides), base_url=sim.base_url, owner=owner
        )

    return open_runtime
