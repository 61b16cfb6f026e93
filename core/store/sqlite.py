"""The embedded store: aiosqlite with WAL, a busy timeout, and `BEGIN IMMEDIATE` for writes.

One connection per process, transactions serialised by a lock; other processes on the same file
wait up to `busy_timeout` instead of failing with "database is locked".
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

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
    turn_from_row,
)
from core.store.cipher import Cipher, PlainCipher
from core.store.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000
_KEY = "platform = ? AND tenant = ? AND channel = ? AND thread = ?"
_UNFINISHED = (RenderState.RENDERING.value, RenderState.READY.value)


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


def _key(key: ThreadKey) -> tuple[str, str, str, str]:
    return (key.platform, key.tenant, key.channel, key.thread)


class SQLiteStore:
    def __init__(self, db: aiosqlite.Connection, cipher: Cipher) -> None:
        self._db = db
        self._cipher = cipher
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str, *, cipher: Cipher | None = None) -> SQLiteStore:
        if path not in ("", ":memory:"):
            await asyncio.to_thread(_make_parent, path)
        db = await aiosqlite.connect(path or ":memory:", isolation_level=None)
        try:
            db.row_factory = aiosqlite.Row
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await _enable_wal(db)
            await db.execute("PRAGMA synchronous = NORMAL")
            store = cls(db, cipher or PlainCipher())
            await store._migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def _migrate(self) -> None:
        async with self._write() as db:
            async with db.execute("PRAGMA user_version") as cursor:
                row = await cursor.fetchone()
            version = int(row[0]) if row else 0
            for number, statements in enumerate(MIGRATIONS, start=1):
                if number <= version:
                    continue
                for statement in statements:
                    await db.execute(statement.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT"))
                await db.execute(f"PRAGMA user_version = {number}")

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.rollback()
                raise
            await self._db.commit()

    async def _one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock, self._db.execute(sql, tuple(params)) as cursor:
            return await cursor.fetchone()

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self._db.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())

    async def ping(self) -> bool:
        try:
            return await self._one("SELECT 1") is not None
        except (sqlite3.Error, ValueError):
            return False

    # -- tenants ---------------------------------------------------------------------------

    async def get_tenant(self, platform: str, tenant: str) -> TenantRow | None:
        row = await self._one(
            "SELECT * FROM tenants WHERE platform = ? AND tenant = ?", (platform, tenant)
        )
        if row is None:
            return None
        token = self._cipher.decrypt(row["token"]) if row["token"] else None
        return TenantRow(
            platform, tenant, row["client_id"], token, row["user_id"], row["expires_at"]
        )

    async def put_tenant(self, row: TenantRow) -> None:
        token = self._cipher.encrypt(row.token) if row.token else None
        async with self._write() as db:
            await db.execute(
                """INSERT INTO tenants (platform, tenant, client_id, token, user_id, expires_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (platform, tenant) DO UPDATE SET client_id = excluded.client_id,
                     token = excluded.token, user_id = excluded.user_id,
                     expires_at = excluded.expires_at, updated_at = excluded.updated_at""",
                (
                    row.platform,
                    row.tenant,
                    row.client_id,
                    token,
                    row.user_id,
                    row.expires_at,
                    time.time(),
                ),
            )

    async def create_tenant(self, row: TenantRow) -> TenantRow:
        token = self._cipher.encrypt(row.token) if row.token else None
        async with self._write() as db:
            await db.execute(
                """INSERT INTO tenants (platform, tenant, client_id, token, user_id, expires_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, tenant) DO NOTHING""",
                (
                    row.platform,
                    row.tenant,
                    row.client_id,
                    token,
                    row.user_id,
                    row.expires_at,
                    time.time(),
                ),
            )
        stored = await self.get_tenant(row.platform, row.tenant)
        assert stored is not None
        return stored

    # -- threads ---------------------------------------------------------------------------

    async def get_thread(self, key: ThreadKey) -> ThreadRow | None:
        row = await self._one(f"SELECT * FROM threads WHERE {_KEY}", _key(key))
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

    async def _ensure_thread(self, db: aiosqlite.Connection, key: ThreadKey, now: float) -> None:
        await db.execute(
            """INSERT INTO threads (platform, tenant, channel, thread, created_at, last_active)
               VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
            (*_key(key), now, now),
        )

    async def put_session(self, key: ThreadKey, session_id: str | None, language: str) -> None:
        now = time.time()
        async with self._write() as db:
            await self._ensure_thread(db, key, now)
            await db.execute(
                f"UPDATE threads SET session_id = ?, language = ?, last_active = ?, draft_json = NULL WHERE {_KEY}",
                (session_id, language, now, *_key(key)),
            )

    async def put_draft(self, key: ThreadKey, draft_json: str | None) -> None:
        async with self._write() as db:
            await db.execute(
                f"UPDATE threads SET draft_json = ?, last_active = ? WHERE {_KEY}",
                (draft_json, time.time(), *_key(key)),
            )

    async def claim_thread(self, key: ThreadKey, owner: str, lease_seconds: float) -> bool:
        now = time.time()
        async with self._write() as db:
            await self._ensure_thread(db, key, now)
            cursor = await db.execute(
                f"""UPDATE threads SET turn_owner = ?, turn_lease_until = ?
                    WHERE {_KEY} AND (turn_owner IS NULL OR turn_owner = ? OR turn_lease_until < ?)""",
                (owner, now + lease_seconds, *_key(key), owner, now),
            )
            return cursor.rowcount == 1

    async def release_thread(self, key: ThreadKey, owner: str) -> None:
        async with self._write() as db:
            await db.execute(
                f"UPDATE threads SET turn_owner = NULL, turn_lease_until = 0 WHERE {_KEY} AND turn_owner = ?",
                (*_key(key), owner),
            )

    # -- turns -----------------------------------------------------------------------------

    async def first_seen(self, event_id: str) -> bool:
        async with self._write() as db:
            cursor = await db.execute(
                "INSERT INTO seen_events (event_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (event_id, time.time()),
            )
            return cursor.rowcount == 1

    async def enqueue_turn(self, key: ThreadKey, incoming: Incoming) -> int | None:
        now = time.time()
        async with self._write() as db:
            if incoming.event_id:
                cursor = await db.execute(
                    "INSERT INTO seen_events (event_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (incoming.event_id, now),
                )
                if cursor.rowcount != 1:
                    return None
            await self._ensure_thread(db, key, now)
            cursor = await db.execute(
                """INSERT INTO turns (platform, tenant, channel, thread, text, attachments, user_id,
                     locale, action, status, event_id, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    *_key(key),
                    incoming.text,
                    attachments_to_json(incoming.attachments),
                    incoming.user,
                    incoming.locale,
                    incoming.action.value if incoming.action else None,
                    TurnStatus.QUEUED.value,
                    incoming.event_id or None,  # "" is no id: a second "" must not collide
                    now,
                    now,
                ),
            )
            return int(cursor.lastrowid or 0)

    async def next_turn(self, key: ThreadKey) -> TurnRow | None:
        row = await self._one(
            f"SELECT * FROM turns WHERE {_KEY} AND status = ? ORDER BY id LIMIT 1",
            (*_key(key), TurnStatus.QUEUED.value),
        )
        return turn_from_row(row) if row else None

    async def start_turn(self, turn_id: int) -> bool:
        async with self._write() as db:
            cursor = await db.execute(
                "UPDATE turns SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
                (TurnStatus.RUNNING.value, time.time(), turn_id, TurnStatus.QUEUED.value),
            )
            return cursor.rowcount == 1

    async def finish_turn(self, turn_id: int, status: TurnStatus, error: str | None = None) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE turns SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                (status.value, error, time.time(), turn_id),
            )

    async def queued_count(self, key: ThreadKey) -> int:
        row = await self._one(
            f"SELECT COUNT(*) FROM turns WHERE {_KEY} AND status = ?",
            (*_key(key), TurnStatus.QUEUED.value),
        )
        return int(row[0]) if row else 0

    async def cancel_queued(self, key: ThreadKey) -> int:
        async with self._write() as db:
            cursor = await db.execute(
                f"UPDATE turns SET status = ?, updated_at = ? WHERE {_KEY} AND status = ?",
                (TurnStatus.CANCELLED.value, time.time(), *_key(key), TurnStatus.QUEUED.value),
            )
            return cursor.rowcount

    async def threads_with_queued_turns(self) -> list[ThreadKey]:
        rows = await self._all(
            "SELECT DISTINCT platform, tenant, channel, thread FROM turns WHERE status = ?",
            (TurnStatus.QUEUED.value,),
        )
        return [ThreadKey(r[0], r[1], r[2], r[3]) for r in rows]

    async def interrupt_stale_turns(self, now: float, platform: str | None = None) -> list[TurnRow]:
        async with self._write() as db:
            async with db.execute(
                """SELECT t.* FROM turns t JOIN threads h ON h.platform = t.platform
                     AND h.tenant = t.tenant AND h.channel = t.channel AND h.thread = t.thread
                   WHERE t.status = ? AND h.turn_lease_until < ? AND (? IS NULL OR t.platform = ?)""",
                (TurnStatus.RUNNING.value, now, platform, platform),
            ) as cursor:
                rows = [turn_from_row(r) for r in await cursor.fetchall()]
            for turn in rows:
                await db.execute(
                    "UPDATE turns SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
                    (TurnStatus.INTERRUPTED.value, now, turn.id, TurnStatus.RUNNING.value),
                )
            return rows

    async def interrupt_running(self, key: ThreadKey) -> list[TurnRow]:
        now = time.time()
        async with self._write() as db:
            async with db.execute(
                f"SELECT * FROM turns WHERE {_KEY} AND status = ? ORDER BY id",
                (*_key(key), TurnStatus.RUNNING.value),
            ) as cursor:
                rows = [turn_from_row(r) for r in await cursor.fetchall()]
            for turn in rows:
                await db.execute(
                    "UPDATE turns SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
                    (TurnStatus.INTERRUPTED.value, now, turn.id, TurnStatus.RUNNING.value),
                )
            return rows

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
        async with self._write() as db:
            cursor = await db.execute(
                """INSERT INTO renders (platform, tenant, channel, thread, render_id, status,
                     message_id, language, next_poll_at, deadline_at, lease_owner, lease_until,
                     created_at, draft_hash)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    *_key(key),
                    render_id,
                    RenderState.RENDERING.value,
                    message_id,
                    language,
                    now,
                    deadline_at,
                    owner,
                    now + lease_seconds,
                    now,
                    draft_hash,
                ),
            )
            async with db.execute("SELECT * FROM renders WHERE id = ?", (cursor.lastrowid,)) as cur:
                row = await cur.fetchone()
        assert row is not None
        return render_from_row(row)

    async def last_posted_render(self, key: ThreadKey) -> RenderJob | None:
        row = await self._one(
            f"SELECT * FROM renders WHERE {_KEY} AND status = ? ORDER BY id DESC LIMIT 1",
            (*_key(key), RenderState.POSTED.value),
        )
        return render_from_row(row) if row else None

    async def get_render(self, job_id: int) -> RenderJob | None:
        row = await self._one("SELECT * FROM renders WHERE id = ?", (job_id,))
        return render_from_row(row) if row else None

    async def claim_renders(
        self, owner: str, lease_seconds: float, limit: int = 100
    ) -> list[RenderJob]:
        now = time.time()
        async with self._write() as db:
            async with db.execute(
                """SELECT id FROM renders WHERE status IN (?, ?)
                     AND (lease_owner IS NULL OR lease_until < ?) ORDER BY id LIMIT ?""",
                (*_UNFINISHED, now, limit),
            ) as cursor:
                ids = [int(r[0]) for r in await cursor.fetchall()]
            jobs: list[RenderJob] = []
            for job_id in ids:
                await db.execute(
                    "UPDATE renders SET lease_owner = ?, lease_until = ? WHERE id = ?",
                    (owner, now + lease_seconds, job_id),
                )
                async with db.execute("SELECT * FROM renders WHERE id = ?", (job_id,)) as cur:
                    row = await cur.fetchone()
                if row is not None:
                    jobs.append(render_from_row(row))
            return jobs

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
        now = time.time()
        fields: dict[str, Any] = {"lease_until": now + lease_seconds}
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
        assignments = ", ".join(f"{name} = ?" for name in fields)
        async with self._write() as db:
            cursor = await db.execute(
                f"UPDATE renders SET {assignments} WHERE id = ? AND lease_owner = ?",
                (*fields.values(), job_id, owner),
            )
            return cursor.rowcount == 1

    async def mark_posted(self, job_id: int) -> bool:
        async with self._write() as db:
            cursor = await db.execute(
                "UPDATE renders SET status = ?, posted_at = ? WHERE id = ? AND posted_at IS NULL AND status = ?",
                (RenderState.POSTED.value, time.time(), job_id, RenderState.READY.value),
            )
            return cursor.rowcount == 1

    async def active_renders(self, key: ThreadKey) -> list[RenderJob]:
        rows = await self._all(
            f"SELECT * FROM renders WHERE {_KEY} AND status IN (?, ?) ORDER BY id",
            (*_key(key), *_UNFINISHED),
        )
        return [render_from_row(r) for r in rows]

    async def count_renders(self) -> dict[str, int]:
        rows = await self._all("SELECT status, COUNT(*) FROM renders GROUP BY status")
        return {str(r[0]): int(r[1]) for r in rows}
