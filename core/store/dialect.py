"""Everything SQLite and PostgreSQL do differently, and nothing else.

The concern modules write one SQL text for both: `?` placeholders, `ON CONFLICT` upserts,
`RETURNING`, `IN (?, ?)` lists. What differs lives here:
- placeholders: PostgreSQL's `$n` are numbered from the `?` at run time (`_numbered`);
- row locks: `Dialect.skip_locked` is `FOR UPDATE SKIP LOCKED` on PostgreSQL, so racing replicas
  neither block each other nor take the same row; on SQLite it is empty, because every write
  transaction is `BEGIN IMMEDIATE` and holds the whole file;
- transactions: SQLite serialises them on one connection with a lock, on the event loop's
  thread (other processes are waited for up to `BUSY_TIMEOUT_MS`); PostgreSQL takes a pooled
  connection per transaction;
- row counts: SQLite's cursor counts them, asyncpg returns a command tag ("UPDATE 1");
- migrations: SQLite keeps the version in `PRAGMA user_version` under `BEGIN IMMEDIATE`;
  PostgreSQL in a `schema_version` table under a transaction-scoped advisory lock, so replicas
  starting together migrate once and the others wait.

Under READ COMMITTED a PostgreSQL writer that waited on a row lock re-checks its WHERE on the
newest row version, so of racing conditional writes ("claim if free") exactly one counts 1 row.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosqlite
import asyncpg

from core.store.base import Row

log = logging.getLogger("jupiter.store")
_T = TypeVar("_T")
BUSY_TIMEOUT_MS = 10_000
CHECKPOINT_SECONDS = 1.0  # how often the WAL is copied into the database file after writes
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


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class _SQLiteConn:
    """Statements run on the event loop's own thread: SQLite answers an indexed statement in
    microseconds from the page cache, where handing each one to a worker thread and back
    (aiosqlite) cost more than the statement and queued every store call of a busy process
    behind one thread. The connection never waits for a lock inside SQLite (`timeout=0`): a
    file locked by another process is retried here with `asyncio.sleep`, for up to
    `BUSY_TIMEOUT_MS`, so the loop keeps running meanwhile."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, *args: object) -> int:
        return await _patiently(lambda: self._run(sql, args, lambda cursor: cursor.rowcount))

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        return await _patiently(lambda: self._run(sql, args, lambda cursor: cursor.fetchall()))

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    def _run(self, sql: str, args: tuple[object, ...], take: Callable[[sqlite3.Cursor], _T]) -> _T:
        """One statement, what `take` reads from its cursor, the cursor closed."""
        cursor = self._db.execute(sql, args)
        try:
            return take(cursor)
        finally:
            cursor.close()


async def _patiently(work: Callable[[], _T]) -> _T:
    """`work()`, tried again while another process holds the file (see `_SQLiteConn`)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)


def _make_parent(path: str) -> None:
    Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


class SQLiteDatabase:
    """One connection per process (WAL, `synchronous = NORMAL`), used from the event loop's
    thread. Every `execute` and `transaction`, even of a single statement, runs in `BEGIN
    IMMEDIATE`, so it takes the file's write lock up front instead of failing when a read turns
    into a write. A write through `fetch` (one statement with RETURNING) joins the open
    transaction, or commits on its own when none is open.

    Commits are shared: the transactions of one turn of the event loop are savepoints in one
    SQLite transaction, committed once after them (`_commit`, queued with `call_soon` as the
    first one begins). A commit writes every page the transaction touched to the WAL, and a
    burst's transactions touch the same few pages, so a thousand conversations starting
    together write each page once per turn of the loop, not once per transaction. Nothing
    returns before its commit: a transaction, and a read made while one is open (it may
    have seen its rows), return once it is done, and fail with it if it fails. One that fails
    rolls back to its savepoint; the others commit without it.

    Commits do not checkpoint (`wal_autocheckpoint = 0`: a checkpoint writes and syncs the
    database file, which must not stall the loop); a second connection, aiosqlite's, does it in
    its own thread every `CHECKPOINT_SECONDS` after writes."""

    dialect = SQLITE

    def __init__(self, db: sqlite3.Connection, checkpoints: aiosqlite.Connection | None) -> None:
        self._db = db
        self._conn = _SQLiteConn(db)
        self._lock = asyncio.Lock()
        self._batch: asyncio.Future[None] | None = None  # the open transaction's commit
        self._checkpoints = checkpoints
        self._written = False
        self._checkpointer = (
            asyncio.get_running_loop().create_task(self._checkpoint_now_and_then())
            if checkpoints is not None
            else None
        )

    @classmethod
    async def open(cls, path: str) -> SQLiteDatabase:
        memory = path in ("", ":memory:")
        if not memory:
            await asyncio.to_thread(_make_parent, path)
        target = ":memory:" if memory else path
        db = sqlite3.connect(target, timeout=0, isolation_level=None, check_same_thread=False)
        checkpoints = None
        try:
            db.row_factory = sqlite3.Row
            await _patiently(lambda: db.execute("PRAGMA journal_mode = WAL").close())
            db.execute("PRAGMA synchronous = NORMAL").close()
            if not memory:
                db.execute("PRAGMA wal_autocheckpoint = 0").close()
                checkpoints = await aiosqlite.connect(target, isolation_level=None)
                await checkpoints.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except BaseException:
            db.close()
            raise
        return cls(db, checkpoints)

    async def _checkpoint_now_and_then(self) -> None:
        while self._checkpoints is not None:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            if not self._written or self._checkpoints is None:
                continue
            self._written = False
            try:
                await self._checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # tried again after the next writes
                log.warning("checkpoint failed", extra={"error": exc.__class__.__name__})

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self._lock:
            batch = await self._begin()
            self._db.execute("SAVEPOINT tx").close()
            try:
                yield self._conn
            except BaseException as exc:
                self._undo(batch, exc)
                raise
            self._db.execute("RELEASE tx").close()
        await asyncio.shield(batch)

    async def _begin(self) -> asyncio.Future[None]:
        """The open transaction's commit, beginning one (and queueing its commit) if none is."""
        if self._batch is None:
            await _patiently(lambda: self._db.execute("BEGIN IMMEDIATE").close())
            loop = asyncio.get_running_loop()
            self._batch = loop.create_future()
            loop.call_soon(self._commit)
        return self._batch

    def _undo(self, batch: asyncio.Future[None], exc: BaseException) -> None:
        """One transaction's writes, rolled back to its savepoint; when SQLite has rolled back
        the whole transaction itself (a full disk), the others fail with it."""
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK TO tx").close()
                self._db.execute("RELEASE tx").close()
                return
        except sqlite3.Error:
            pass
        self._fail(batch, exc)

    def _commit(self) -> None:
        batch = self._batch
        if batch is None or batch.done():
            return
        if self._lock.locked():  # a transaction is half-way through: after it
            asyncio.get_running_loop().call_soon(self._commit)
            return
        self._settle(batch)

    def _settle(self, batch: asyncio.Future[None]) -> None:
        try:
            self._db.commit()
        except sqlite3.Error as exc:
            self._fail(batch, exc)
            return
        self._batch = None
        self._written = True
        batch.set_result(None)

    def _fail(self, batch: asyncio.Future[None], exc: BaseException) -> None:
        """Every transaction of the batch fails with `exc`, even when the rollback fails too
        (a callback that raised would leave its waiters waiting for ever)."""
        self._batch = None
        try:
            if self._db.in_transaction:
                self._db.rollback()
        except sqlite3.Error:
            log.warning("rollback failed", extra={"error": exc.__class__.__name__})
        if not batch.done():
            batch.set_exception(exc if isinstance(exc, Exception) else sqlite3.OperationalError())
            batch.exception()  # retrieved, even when every waiter was cancelled

    async def execute(self, sql: str, *args: object) -> int:
        """One statement needs no savepoint: SQLite takes back a failed statement's writes by
        itself, and what rolls back the whole transaction fails the batch (`_fail`)."""
        async with self._lock:
            batch = await self._begin()
            written = await self._alone(batch, self._conn.execute(sql, *args))
        await asyncio.shield(batch)
        return written

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        """A read, or a single write with RETURNING (no savepoint, as `execute`)."""
        async with self._lock:
            batch = self._batch
            rows = await self._alone(batch, self._conn.fetch(sql, *args))
        if batch is not None:  # it read what the open transaction wrote
            await asyncio.shield(batch)
        return rows

    async def _alone(self, batch: asyncio.Future[None] | None, statement: Awaitable[_T]) -> _T:
        """One statement outside a savepoint (under the lock); when it made SQLite roll the
        open transaction back whole, the batch fails with it."""
        try:
            return await statement
        except BaseException as exc:
            if batch is not None and not self._db.in_transaction:
                self._fail(batch, exc)
            raise

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

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
            if self._batch is not None:
                self._settle(self._batch)
            checkpointer, checkpoints = self._checkpointer, self._checkpoints
            self._checkpointer = self._checkpoints = None  # closing twice is closing once
            if checkpointer is not None:
                checkpointer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checkpointer
            if checkpoints is not None:
                with contextlib.suppress(sqlite3.Error):
                    await checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)")
                await checkpoints.close()
            self._db.close()


# -- PostgreSQL -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """`?` -> `$1, $2, ...` (the shared SQL has no `?` inside string literals)."""
    counter = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


async def _as_it_was(conn: Any) -> None:
    """What a connection going back to the pool needs beyond asyncpg's rollback of a
    transaction left open: nothing. asyncpg's default reset is a round trip per release
    (unlocking advisory locks, closing cursors, UNLISTEN, RESET ALL), a second one for every
    single statement; the store takes only transaction-scoped locks, keeps no cursor, listens
    to nothing and sets no session variable."""


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
        pool = await asyncpg.create_pool(
            url, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE, reset=_as_it_was
        )
        return cls(pool)

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
