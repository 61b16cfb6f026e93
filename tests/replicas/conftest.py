"""One store shared by every replica of a test: a SQLite file, or a database on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pg import PostgresServer, postgres_server

__all__ = ["postgres_server"]  # the session's server (skips with the reason when no binaries)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jupiter.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return await server.create_database()
