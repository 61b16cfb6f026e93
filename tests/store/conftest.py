"""Every store test runs against each backend: SQLite in tmp_path, and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import pytest

from core.store import Store, open_store
from tests.pg import PostgresServer, postgres_server

__all__ = ["postgres_server"]  # the session server, for `Backend` and the PostgreSQL-only tests


@dataclass
class Backend:
    """One empty database of one kind; opens as many stores on it as a test needs."""

    name: str
    url: str
    opened: list[Store] = field(default_factory=list)

    async def open(self, secret_key: str | None = None) -> Store:
        store = await open_store(self.url, secret_key=secret_key)
        self.opened.append(store)
        return store

    async def scalar(self, sql: str) -> Any:
        """One value read past the store, straight from the database (what is at rest)."""
        if self.name == "sqlite":
            async with (
                aiosqlite.connect(self.url.removeprefix("sqlite:///")) as db,
                db.execute(sql) as cursor,
            ):
                row = await cursor.fetchone()
            return row[0] if row else None
        conn = await asyncpg.connect(self.url)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    async def schema_version(self) -> int:
        if self.name == "sqlite":
            return int(await self.scalar("PRAGMA user_version"))
        return int(await self.scalar("SELECT MAX(version) FROM schema_version"))


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jupiter.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = await server.create_database()
    backend = Backend(request.param, url)
    yield backend
    for store in backend.opened:
        await store.close()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open()
