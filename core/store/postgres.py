"""The store for several replicas: PostgreSQL through an asyncpg pool.

Method for method the same semantics as the SQLite store (one test suite checks both). What keeps
replicas from stepping on each other:
- migrations run under a transaction-scoped advisory lock, so replicas starting together migrate
  once and the others wait for it;
- render jobs are claimed with `FOR UPDATE SKIP LOCKED`: racing claimers neither block each other
  nor get the same job;
- thread leases, `start_turn` and `mark_posted` are conditional writes. Under READ COMMITTED a
  writer that waited on a row lock re-checks the condition on the newest row version, so exactly
  one of any number of racing callers sees a row count of 1;
- a delivery id and its turn are written in one transaction: a redelivery queues nothing.

Times are the caller's clock (`time.time()`), as with SQLite, and `interrupt_stale_turns` takes the
engine's `now`: replicas need synchronised clocks and leases far longer than their skew.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import asyncpg

from core.port import Incoming, ThreadKey
from core.store.base import (
    RenderJob,
    RenderState,
    TenantRow,
    ThreadRow,
    TurnRow,
    TurnStatus,
    attachments_to_json,
    render_from_row,
    thread_key_from_row,
    turn_from_row,
)
from core.store.cipher import Cipher, PlainCipher
from core.store.schema import MIGRATIONS

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
PING_TIMEOUT_S = 5.0
MIGRATION_LOCK_ID = 0x4A555049  # "JUPI": the advisory lock that serialises migrations
_KEY = "platform = $1 AND tenant = $2 AND channel = $3 AND thread = $4"
_UNFINISHED = [RenderState.RENDERING.value, RenderState.READY.value]
_PK = "(platform, tenant, channel, thread)"


class _Record(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...


class _Conn(Protocol):
    """The part of asyncpg's Connection (and Pool) used here, so untyped values stay in rows."""

    async def execute(self, query: str, *args: object) -> str: ...
    async def fetch(self, query: str, *args: object) -> list[_Record]: ...
    async def fetchrow(self, query: str, *args: object) -> _Record | None: ...
    async def fetchval(self, query: str, *args: object) -> Any: ...


def _rowcount(status: str) -> int:
    """Rows written, from asyncpg's command tag ("UPDATE 1", "INSERT 0 1")."""
    return int(status.rsplit(" ", 1)[-1])


def _key(key: ThreadKey) -> tuple[str, str, str, str]:
    return (key.platform, key.tenant, key.channel, key.thread)


class PostgresStore:
    def __init__(self, pool: Any, cipher: Cipher) -> None:
        self._pool = pool
        self._db: _Conn = pool  # one-statement calls: the pool runs each on a free connection
        self._cipher = cipher

    @classmethod
    async def open(cls, url: str, *, cipher: Cipher | None = None) -> PostgresStore:
        pool = await asyncpg.create_pool(url, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE)
        store = cls(pool, cipher or PlainCipher())
        try:
            await store._migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def _migrate(self) -> None:
        async with self._transaction() as db:
            await db.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_ID)
            if await db.fetchval("SELECT to_regclass('schema_version')") is None:
                await db.execute(
                    """CREATE TABLE schema_version (
                         version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"""
                )
            version = int(await db.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
            for number, statements in enumerate(MIGRATIONS, start=1):
                if number <= version:
                    continue
                for statement in statements:
                    await db.execute(statement.format(serial="BIGSERIAL PRIMARY KEY"))
                await db.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                    number,
                    time.time(),
                )

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[_Conn]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                return bool(await self._db.fetchval("SELECT 1") == 1)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False

    # -- tenants ---------------------------------------------------------------------------

    async def get_tenant(self, platform: str, tenant: str) -> TenantRow | None:
        row = await self._db.fetchrow(
            "SELECT * FROM tenants WHERE platform = $1 AND tenant = $2", platform, tenant
        )
        if row is None:
            return None
        token = self._cipher.decrypt(row["token"]) if row["token"] else None
        return TenantRow(
            platform, tenant, row["client_id"], token, row["user_id"], row["expires_at"]
        )

    async def put_tenant(self, row: TenantRow) -> None:
        token = self._cipher.encrypt(row.token) if row.token else None
        await self._db.execute(
            """INSERT INTO tenants (platform, tenant, client_id, token, user_id, expires_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (platform, tenant) DO UPDATE SET client_id = EXCLUDED.client_id,
                 token = EXCLUDED.token, user_id = EXCLUDED.user_id,
                 expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at""",
            row.platform,
            row.tenant,
            row.client_id,
            token,
            row.user_id,
            row.expires_at,
            time.time(),
        )

    async def create_tenant(self, row: TenantRow) -> TenantRow:
        token = self._cipher.encrypt(row.token) if row.token else None
        await self._db.execute(
            """INSERT INTO tenants (platform, tenant, client_id, token, user_id, expires_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (platform, tenant) DO NOTHING""",
            row.platform,
            row.tenant,
            row.client_id,
            token,
            row.user_id,
            row.expires_at,
            time.time(),
        )
        stored = await self.get_tenant(row.platform, row.tenant)
        assert stored is not None
        return stored

    # -- threads ---------------------------------------------------------------------------

    async def get_thread(self, key: ThreadKey) -> ThreadRow | None:
        row = await self._db.fetchrow(f"SELECT * FROM threads WHERE {_KEY}", *_key(key))
        if row is None:
            return None
        return ThreadRow(
            key,
            row["session_id"],
            row["language"],
            row["created_at"],
            row["last_active"],
            row["draft_json"],
        )

    async def put_session(self, key: ThreadKey, session_id: str | None, language: str) -> None:
        await self._db.execute(
            f"""INSERT INTO threads (platform, tenant, channel, thread, session_id, language,
                  created_at, last_active)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                ON CONFLICT {_PK} DO UPDATE SET session_id = EXCLUDED.session_id,
                  language = EXCLUDED.language, last_active = EXCLUDED.last_active,
                  draft_json = NULL""",
            *_key(key),
            session_id,
            language,
            time.time(),
        )

    async def put_draft(self, key: ThreadKey, draft_json: str | None) -> None:
        await self._db.execute(
            f"UPDATE threads SET draft_json = $5, last_active = $6 WHERE {_KEY}",
            *_key(key),
            draft_json,
            time.time(),
        )

    async def claim_thread(self, key: ThreadKey, owner: str, lease_seconds: float) -> bool:
        now = time.time()
        status = await self._db.execute(
            f"""INSERT INTO threads (platform, tenant, channel, thread, created_at, last_active,
                  turn_owner, turn_lease_until)
                VALUES ($1, $2, $3, $4, $5, $5, $6, $7)
                ON CONFLICT {_PK} DO UPDATE
                  SET turn_owner = EXCLUDED.turn_owner, turn_lease_until = EXCLUDED.turn_lease_until
                  WHERE threads.turn_owner IS NULL OR threads.turn_owner = EXCLUDED.turn_owner
                    OR threads.turn_lease_until < $5""",
            *_key(key),
            now,
            owner,
            now + lease_seconds,
        )
        return _rowcount(status) == 1

    async def release_thread(self, key: ThreadKey, owner: str) -> None:
        await self._db.execute(
            f"""UPDATE threads SET turn_owner = NULL, turn_lease_until = 0
                WHERE {_KEY} AND turn_owner = $5""",
            *_key(key),
            owner,
        )

    # -- turns -----------------------------------------------------------------------------

    async def first_seen(self, event_id: str) -> bool:
        status = await self._db.execute(
            "INSERT INTO seen_events (event_id, seen_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            event_id,
            time.time(),
        )
        return _rowcount(status) == 1

    async def enqueue_turn(self, key: ThreadKey, incoming: Incoming) -> int | None:
        now = time.time()
        event_id = incoming.event_id or None
        async with self._transaction() as db:
            if event_id is not None:
                status = await db.execute(
                    """INSERT INTO seen_events (event_id, seen_at) VALUES ($1, $2)
                       ON CONFLICT DO NOTHING""",
                    event_id,
                    now,
                )
                if _rowcount(status) != 1:
                    return None
            await db.execute(
                """INSERT INTO threads (platform, tenant, channel, thread, created_at, last_active)
                   VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING""",
                *_key(key),
                now,
            )
            turn_id = await db.fetchval(
                """INSERT INTO turns (platform, tenant, channel, thread, text, attachments, user_id,
                     locale, action, status, event_id, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
                   RETURNING id""",
                *_key(key),
                incoming.text,
                attachments_to_json(incoming.attachments),
                incoming.user,
                incoming.locale,
                incoming.action.value if incoming.action else None,
                TurnStatus.QUEUED.value,
                event_id,
                now,
            )
        return int(turn_id)

    async def next_turn(self, key: ThreadKey) -> TurnRow | None:
        row = await self._db.fetchrow(
            f"SELECT * FROM turns WHERE {_KEY} AND status = $5 ORDER BY id LIMIT 1",
            *_key(key),
            TurnStatus.QUEUED.value,
        )
        return turn_from_row(row) if row else None

    async def start_turn(self, turn_id: int) -> bool:
        status = await self._db.execute(
            "UPDATE turns SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
            TurnStatus.RUNNING.value,
            time.time(),
            turn_id,
            TurnStatus.QUEUED.value,
        )
        return _rowcount(status) == 1

    async def finish_turn(self, turn_id: int, status: TurnStatus, error: str | None = None) -> None:
        await self._db.execute(
            "UPDATE turns SET status = $1, error = $2, updated_at = $3 WHERE id = $4",
            status.value,
            error,
            time.time(),
            turn_id,
        )

    async def queued_count(self, key: ThreadKey) -> int:
        count = await self._db.fetchval(
            f"SELECT COUNT(*) FROM turns WHERE {_KEY} AND status = $5",
            *_key(key),
            TurnStatus.QUEUED.value,
        )
        return int(count)

    async def cancel_queued(self, key: ThreadKey) -> int:
        status = await self._db.execute(
            f"UPDATE turns SET status = $5, updated_at = $6 WHERE {_KEY} AND status = $7",
            *_key(key),
            TurnStatus.CANCELLED.value,
            time.time(),
            TurnStatus.QUEUED.value,
        )
        return _rowcount(status)

    async def threads_with_queued_turns(self) -> list[ThreadKey]:
        rows = await self._db.fetch(
            "SELECT DISTINCT platform, tenant, channel, thread FROM turns WHERE status = $1",
            TurnStatus.QUEUED.value,
        )
        return [thread_key_from_row(r) for r in rows]

    async def interrupt_stale_turns(self, now: float, platform: str | None = None) -> list[TurnRow]:
        # The rows are returned as found (still "running"), like SQLite. Locking them first
        # makes a racing replica skip them, or re-check them and find them no longer running.
        async with self._transaction() as db:
            rows = await db.fetch(
                """SELECT t.* FROM turns t JOIN threads h ON h.platform = t.platform
                     AND h.tenant = t.tenant AND h.channel = t.channel AND h.thread = t.thread
                   WHERE t.status = $1 AND h.turn_lease_until < $2
                     AND ($3::text IS NULL OR t.platform = $3)
                   ORDER BY t.id FOR UPDATE OF t SKIP LOCKED""",
                TurnStatus.RUNNING.value,
                now,
                platform,
            )
            turns = [turn_from_row(r) for r in rows]
            if turns:
                await db.execute(
                    "UPDATE turns SET status = $1, updated_at = $2 WHERE id = ANY($3::bigint[])",
                    TurnStatus.INTERRUPTED.value,
                    now,
                    [t.id for t in turns],
                )
        return turns

    async def interrupt_running(self, key: ThreadKey) -> list[TurnRow]:
        async with self._transaction() as db:
            rows = await db.fetch(
                f"""SELECT * FROM turns WHERE {_KEY} AND status = $5 ORDER BY id
                    FOR UPDATE SKIP LOCKED""",
                *_key(key),
                TurnStatus.RUNNING.value,
            )
            turns = [turn_from_row(r) for r in rows]
            if turns:
                await db.execute(
                    "UPDATE turns SET status = $1, updated_at = $2 WHERE id = ANY($3::bigint[])",
                    TurnStatus.INTERRUPTED.value,
                    time.time(),
                    [t.id for t in turns],
                )
        return turns

    # -- renders ---------------------------------------------------------------------------

    async def add_render(
        self,
        key: ThreadKey,
        render_id: str,
        *,
        owner: str,
        lease_seconds: float,
        deadline_at: float,
        message_id: str | None,
        language: str,
        draft_hash: str | None = None,
    ) -> RenderJob:
        now = time.time()
        row = await self._db.fetchrow(
            """INSERT INTO renders (platform, tenant, channel, thread, render_id, status,
                 message_id, language, next_poll_at, deadline_at, lease_owner, lease_until,
                 created_at, draft_hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $9, $13)
               RETURNING *""",
            *_key(key),
            render_id,
            RenderState.RENDERING.value,
            message_id,
            language,
            now,
            deadline_at,
            owner,
            now + lease_seconds,
            draft_hash,
        )
        assert row is not None
        return render_from_row(row)

    async def last_posted_render(self, key: ThreadKey) -> RenderJob | None:
        row = await self._db.fetchrow(
            f"SELECT * FROM renders WHERE {_KEY} AND status = $5 ORDER BY id DESC LIMIT 1",
            *_key(key),
            RenderState.POSTED.value,
        )
        return render_from_row(row) if row else None

    async def get_render(self, job_id: int) -> RenderJob | None:
        row = await self._db.fetchrow("SELECT * FROM renders WHERE id = $1", job_id)
        return render_from_row(row) if row else None

    async def claim_renders(
        self, owner: str, lease_seconds: float, limit: int = 100
    ) -> list[RenderJob]:
        now = time.time()
        rows = await self._db.fetch(
            """UPDATE renders SET lease_owner = $1, lease_until = $2
               WHERE id IN (
                 SELECT id FROM renders WHERE status = ANY($3::text[])
                   AND (lease_owner IS NULL OR lease_until < $4)
                 ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED)
               RETURNING *""",
            owner,
            now + lease_seconds,
            _UNFINISHED,
            now,
            limit,
        )
        return sorted((render_from_row(r) for r in rows), key=lambda job: job.id)

    async def update_render(
        self,
        job_id: int,
        owner: str,
        lease_seconds: float,
        *,
        status: RenderState | None = None,
        progress: float | None = None,
        output_url: str | None = None,
        size: int | None = None,
        error: str | None = None,
        next_poll_at: float | None = None,
    ) -> bool:
        fields: dict[str, object] = {"lease_until": time.time() + lease_seconds}
        for name, value in (
            ("status", status.value if status else None),
            ("progress", progress),
            ("output_url", output_url),
            ("size", size),
            ("error", error),
            ("next_poll_at", next_poll_at),
        ):
            if value is not None:
                fields[name] = value
        assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(fields, start=1))
        where = f"id = ${len(fields) + 1} AND lease_owner = ${len(fields) + 2}"
        result = await self._db.execute(
            f"UPDATE renders SET {assignments} WHERE {where}",
            *fields.values(),
            job_id,
            owner,
        )
        return _rowcount(result) == 1

    async def mark_posted(self, job_id: int) -> bool:
        status = await self._db.execute(
            """UPDATE renders SET status = $1, posted_at = $2
               WHERE id = $3 AND posted_at IS NULL AND status = $4""",
            RenderState.POSTED.value,
            time.time(),
            job_id,
            RenderState.READY.value,
        )
        return _rowcount(status) == 1

    async def active_renders(self, key: ThreadKey) -> list[RenderJob]:
        rows = await self._db.fetch(
            f"SELECT * FROM renders WHERE {_KEY} AND status = ANY($5::text[]) ORDER BY id",
            *_key(key),
            _UNFINISHED,
        )
        return [render_from_row(r) for r in rows]

    async def count_renders(self) -> dict[str, int]:
        rows = await self._db.fetch("SELECT status, COUNT(*) AS n FROM renders GROUP BY status")
        return {str(r["status"]): int(r["n"]) for r in rows}
