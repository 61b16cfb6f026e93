"""Everything SQLite and PostgreSQL do differently, and nothing else.

The concern modules write one SQL text for both: `?` placeholders, `ON CONFLICT` upserts,
`RETURNING`, `IN (?, ?)` lists. What differs lives here:
- placeholders: PostgreSQL's `$n` are numbered from the `?` at run time (`_numbered`);
- row locks: `Dialect.skip_locked` is `FOR UPDATE SKIP LOCKED` on PostgreSQL, so racing replicas
  neither block each other nor take the same row; on SQLite it is empty, because every write
  transaction is `BEGIN IMMEDIATE` and holds the whole file;
- transactions: SQLite serialises them on one connection with a lock (other processes wait up to
  `busy_timeout`); PostgreSQL takes a pooled connection per transaction;
- row counts: SQLite's cursor counts them, asyncpg returns a command tag ("UPDATE 1");
- migrations: SQLite keeps the version in `PRAGMA user_version` under `BEGIN IMMEDIATE`;
  PostgreSQL in a `schema_version` table under a transaction-scoped advisory lock, so replicas
  starting together migrate once and the others wait.

Under READ COMMITTED a PostgreSQL writer that waited on a row lock re-checks its WHERE on the
newest row version, so of racing conditional writes ("claim if free") exactly one counts 1 row.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiosqlite
import asyncpg

from core.store.base import Row

BUSY_TIMEOUT_MS = 10_000
POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
PING_TIMEOUT_S = 5.0
MIGRATION_LOCK_ID = 0x4A555049  # "JUPI": the advisory lock that serialises migrations


@dataclass(frozen=True, slots=True)
class Dialect:
    """The few words of SQL that differ; everything else the concern modules write once."""

    serial: str  # the type of an auto-numbered `id` column (used by the migrations)
    row_lock: str  # appended to a SELECT whose rows the transaction is about to update

    def skip_locked(self, of: str = "") -> str:
        """`FOR UPDATE [OF table] SKIP LOCKED` where the database locks rows, else ""."""
        if not self.row_lock:
            return ""
        return f"FOR UPDATE OF {of} SKIP LOCKED" if of else self.row_lock


SQLITE = Dialect(serial="INTEGER PRIMARY KEY AUTOINCREMENT", row_lock="")
POSTGRES = Dialect(serial="BIGSERIAL PRIMARY KEY", row_lock="FOR UPDATE SKIP LOCKED")


class Conn(Protocol):
    """One statement at a time, inside a transaction or (on `Database`) in one of its own."""

    async def execute(self, sql: str, *args: object) -> int:
        """Run a write; the number of rows it wrote."""
        ...

    async def fetch(self, sql: str, *args: object) -> list[Row]: ...
    async def fetchrow(self, sql: str, *args: object) -> Row | None: ...


class Database(Conn, Protocol):
    """A connection (pool) of one dialect: the only object the concern classes hold."""

    dialect: Dialect

    def transaction(self) -> AbstractAsyncContextManager[Conn]:
        """All statements in it commit together or not at all; rolled back on any exception."""
        ...

    async def lock_schema(self, tx: Conn) -> int:
        """Inside a transaction: hold off other migrators until it ends; the schema version."""
        ...

    async def record_schema(self, tx: Conn, version: int) -> None: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


# -- SQLite ---------------------------------------------------------------------------------


class _SQLiteConn:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, *args: object) -> int:
        async with self._db.execute(sql, args) as cursor:
            return cursor.rowcount

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        async with self._db.execute(sql, args) as cursor:
            return list(await cursor.fetchall())

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None


def _make_parent(path: str) -> None:
    Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


async def _enable_wal(db: aiosqlite.Connection) -> None:
    """Switching a new file to WAL takes an exclusive lock, and when processes open it at once
    SQLite answers "database is locked" straight away instead of waiting `busy_timeout`: retry."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.01)


class SQLiteDatabase:
    """One aiosqlite connection per process (WAL, `synchronous = NORMAL`). Every write, even a
    single statement, runs in `BEGIN IMMEDIATE`, so it waits for the file's write lock up front
    instead of failing when a read turns into a write."""

    dialect = SQLITE

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._conn = _SQLiteConn(db)
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SQLiteDatabase:
        if path not in ("", ":memory:"):
            await asyncio.to_thread(_make_parent, path)
        db = await aiosqlite.connect(path or ":memory:", isolation_level=None)
        try:
            db.row_factory = aiosqlite.Row
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await _enable_wal(db)
            await db.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            await db.close()
            raise
        return cls(db)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self._lock:
            await self._begin()
            try:
                yield self._conn
            except BaseException:
                await asyncio.shield(self._db.rollback())
                raise
            await asyncio.shield(self._db.commit())

    async def _begin(self) -> None:
        """BEGIN IMMEDIATE on a connection that a cancelled writer may have left inside its
        transaction: aiosqlite runs a statement to its end in its own thread even when the
        task awaiting it was cancelled, so a writer cancelled during its BEGIN leaves the
        transaction open after the lock was handed on. Those leftovers are rolled back: a
        cancelled write did not happen."""
        if self._db.in_transaction:
            await asyncio.shield(self._db.rollback())
        try:
            await self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "within a transaction" not in str(exc):
                raise
            await asyncio.shield(self._db.rollback())
            await self._db.execute("BEGIN IMMEDIATE")

    async def execute(self, sql: str, *args: object) -> int:
        async with self.transaction() as tx:
            return await tx.execute(sql, *args)

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        async with self._lock:
            return await self._conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        async with self._lock:
            return await self._conn.fetchrow(sql, *args)

    async def lock_schema(self, tx: Conn) -> int:
        row = await tx.fetchrow("PRAGMA user_version")  # BEGIN IMMEDIATE already holds the file
        return int(row["user_version"]) if row else 0

    async def record_schema(self, tx: Conn, version: int) -> None:
        await tx.execute(f"PRAGMA user_version = {int(version)}")

    async def ping(self) -> bool:
        try:
            return await self.fetchrow("SELECT 1") is not None
        except (sqlite3.Error, ValueError):
            return False

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()


# -- PostgreSQL -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """`?` -> `$1, $2, ...` (the shared SQL has no `?` inside string literals)."""
    counter = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


def _rowcount(status: str) -> int:
    """Rows written, from asyncpg's command tag ("UPDATE 1", "INSERT 0 1"; "CREATE TABLE": 0)."""
    count = status.rsplit(" ", 1)[-1]
    return int(count) if count.isdigit() else 0


class _PostgresConn:
    def __init__(self, target: Any) -> None:
        self._target = target  # an asyncpg Connection, or the Pool (a connection per call)

    async def execute(self, sql: str, *args: object) -> int:
        return _rowcount(await self._target.execute(_numbered(sql), *args))

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        return list(await self._target.fetch(_numbered(sql), *args))

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        row: Row | None = await self._target.fetchrow(_numbered(sql), *args)
        return row


class PostgresDatabase:
    """An asyncpg pool; single statements run on any free connection, transactions on one."""

    dialect = POSTGRES

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._conn = _PostgresConn(pool)

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        return cls(await asyncpg.create_pool(url, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PostgresConn(conn)

    async def execute(self, sql: str, *args: object) -> int:
        return await self._conn.execute(sql, *args)

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        return await self._conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        return await self._conn.fetchrow(sql, *args)

    async def lock_schema(self, tx: Conn) -> int:
        await tx.fetchrow("SELECT pg_advisory_xact_lock(?)", MIGRATION_LOCK_ID)
        found = await tx.fetchrow("SELECT to_regclass('schema_version') IS NOT NULL AS found")
        if found is None or not found["found"]:
            await tx.execute(
                """CREATE TABLE schema_version (
                     version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"""
            )
        row = await tx.fetchrow("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
        return int(row["v"]) if row else 0

    async def record_schema(self, tx: Conn, version: int) -> None:
        await tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", version, time.time()
        )

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                return await self.fetchrow("SELECT 1") is not None
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False

    async def close(self) -> None:
        await self._pool.close()
