"""A throwaway PostgreSQL server for the benchmarks (tests/pg.py's, from the machine's binaries).

async with postgres() as url:  # None (and the reason printed) where it cannot start
    ...
async with postgres_server() as server:  # server.create_database() for each fresh database
    ...
"""

from __future__ import annotations

import asyncio
import os
import pwd
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


def unavailable() -> str | None:
    """Why no server can start here, or None."""
    try:
        from tests.pg import find_bindir
    except ImportError as exc:  # tests/pg.py needs pytest and asyncpg
        return str(exc)
    if find_bindir() is None:
        return "no initdb/pg_ctl on this machine"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "root, and no `postgres` user to run the server as"
    return None


@asynccontextmanager
async def postgres_server() -> AsyncIterator[Any]:
    """A started `tests.pg.PostgresServer`, or None (the reason printed)."""
    reason = unavailable()
    if reason is not None:
        print(f"PostgreSQL skipped: {reason}")
        yield None
        return
    from tests.pg import PostgresServer, find_bindir

    bindir = find_bindir()
    assert bindir is not None
    server = PostgresServer(bindir, "postgres" if os.geteuid() == 0 else None)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@asynccontextmanager
async def postgres() -> AsyncIterator[str | None]:
    """The URL of a fresh database on a throwaway server, or None."""
    async with postgres_server() as server:
        yield None if server is None else await server.create_database()
