"""The turn queue: every message until it is answered, and per thread the lease that lets one
process at a time run that thread's turns (in order, one at a time)."""

from __future__ import annotations

import time

from core.port import Incoming, ThreadKey
from core.store.base import (
    KEY_COLUMNS,
    KEY_WHERE,
    SQLTables,
    TurnRow,
    TurnStatus,
    attachments_to_json,
    key_params,
    mend,
    mend_or_none,
    thread_key_from_row,
    turn_from_row,
)
from core.store.deliveries import record_delivery
from core.store.dialect import Conn

_QUEUED, _RUNNING = TurnStatus.QUEUED.value, TurnStatus.RUNNING.value


async def _interrupt(tx: Conn, turns: list[TurnRow], now: float) -> list[TurnRow]:
    """Running -> interrupted for `turns`, which the caller's transaction has locked."""
    if turns:
        marks = ", ".join("?" * len(turns))
        await tx.execute(
            f"UPDATE turns SET status = ?, updated_at = ? WHERE status = ? AND id IN ({marks})",
            TurnStatus.INTERRUPTED.value,
            now,
            _RUNNING,
            *(t.id for t in turns),
        )
    return turns


async def _claim(tx: Conn, key: ThreadKey, owner: str, lease_seconds: float) -> bool:
    now = time.time()
    written = await tx.execute(
        f"""INSERT INTO threads (platform, tenant, channel, thread, created_at, last_active,
              turn_owner, turn_lease_until)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT {KEY_COLUMNS} DO UPDATE
              SET turn_owner = excluded.turn_owner, turn_lease_until = excluded.turn_lease_until
              WHERE threads.turn_owner IS NULL OR threads.turn_owner = excluded.turn_owner
                OR threads.turn_lease_until < ?""",
        *key_params(key),
        now,
        now,
        owner,
        now + lease_seconds,
        now,
    )
    return written == 1


class TurnQueue(SQLTables):
    async def claim_thread(self, key: ThreadKey, owner: str, lease_seconds: float) -> bool:
        """Take or renew the thread's lease: True when it was free, lapsed or already `owner`'s."""
        async with self._db.transaction() as tx:
            return await _claim(tx, key, owner, lease_seconds)

    async def take_thread(
        self, key: ThreadKey, owner: str, lease_seconds: float
    ) -> list[TurnRow] | None:
        """`claim_thread` for a worker running nothing yet, and in the same write the thread's
        `running` turns marked interrupted: only the holder of the lease running nothing
        itself takes them, so they belong to a process that died. None when the lease is
        someone else's."""
        async with self._db.transaction() as tx:
            if not await _claim(tx, key, owner, lease_seconds):
                return None
            rows = await tx.fetch(
                f"""SELECT * FROM turns WHERE {KEY_WHERE} AND status = ? ORDER BY id
                    {self._db.dialect.skip_locked()}""",
                *key_params(key),
                _RUNNING,
            )
            return await _interrupt(tx, [turn_from_row(r) for r in rows], time.time())

    async def release_thread(self, key: ThreadKey, owner: str) -> None:
        """Give the lease up, only if `owner` holds it."""
        await self._db.execute(
            f"""UPDATE threads SET turn_owner = NULL, turn_lease_until = 0
                WHERE {KEY_WHERE} AND turn_owner = ?""",
            *key_params(key),
            owner,
        )

    async def enqueue_turn(self, key: ThreadKey, incoming: Incoming) -> int | None:
        """Queue a message; None when its `event_id` was seen before (a redelivery)."""
        now = time.time()
        event_id = incoming.event_id or None  # "" is no id: a second "" must not collide
        async with self._db.transaction() as tx:
            if event_id is not None and not await record_delivery(tx, event_id, now):
                return None
            await tx.execute(
                """INSERT INTO threads (platform, tenant, channel, thread, created_at, last_active)
                   VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                *key_params(key),
                now,
                now,
            )
            row = await tx.fetchrow(
                """INSERT INTO turns (platform, tenant, channel, thread, text, attachments, user_id,
                     locale, action, status, event_id, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                *key_params(key),
                mend(incoming.text),  # intake mended it already; a direct caller may not have
                attachments_to_json(incoming.attachments),
                incoming.user,
                incoming.locale,
                incoming.action.value if incoming.action else None,
                _QUEUED,
                event_id,
                now,
                now,
            )
        assert row is not None
        return int(row["id"])

    async def next_turn(self, key: ThreadKey) -> TurnRow | None:
        """The thread's oldest queued turn."""
        row = await self._db.fetchrow(
            f"SELECT * FROM turns WHERE {KEY_WHERE} AND status = ? ORDER BY id LIMIT 1",
            *key_params(key),
            _QUEUED,
        )
        return turn_from_row(row) if row else None

    async def start_next_turn(self, key: ThreadKey) -> TurnRow | None:
        """The thread's oldest queued turn, queued -> running in the same statement; None
        when none is queued (or it was cancelled as it was taken: the caller looks again).
        Where rows lock, a racer passes over the turn another is taking rather than waiting
        for it and then finding it taken: each racer gets a turn while one is left."""
        row = await self._db.fetchrow(
            f"""UPDATE turns SET status = ?, updated_at = ?
                WHERE id = (SELECT id FROM turns WHERE {KEY_WHERE} AND status = ?
                            ORDER BY id LIMIT 1 {self._db.dialect.skip_locked()})
                  AND status = ?
                RETURNING *""",
            _RUNNING,
            time.time(),
            *key_params(key),
            _QUEUED,
            _QUEUED,
        )
        return turn_from_row(row) if row else None

    async def start_turn(self, turn_id: int) -> bool:
        """queued -> running, only if still queued."""
        written = await self._db.execute(
            "UPDATE turns SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
            _RUNNING,
            time.time(),
            turn_id,
            _QUEUED,
        )
        return written == 1

    async def finish_turn(self, turn_id: int, status: TurnStatus, error: str | None = None) -> None:
        """`error` is the backend's text, mended (`mend`): NUL in it must not fail the write."""
        await self._db.execute(
            "UPDATE turns SET status = ?, error = ?, updated_at = ? WHERE id = ?",
            status.value,
            mend_or_none(error),
            time.time(),
            turn_id,
        )

    async def queued_count(self, key: ThreadKey) -> int:
        row = await self._db.fetchrow(
            f"SELECT COUNT(*) AS n FROM turns WHERE {KEY_WHERE} AND status = ?",
            *key_params(key),
            _QUEUED,
        )
        return int(row["n"]) if row else 0

    async def waiting_count(self, key: ThreadKey) -> int:
        """The thread's queued turns that wait behind another, read at one moment: with none
        running, the first queued turn is the next to start and does not wait."""
        row = await self._db.fetchrow(
            f"""SELECT COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0) AS queued,
                       COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0) AS running
                FROM turns WHERE {KEY_WHERE} AND status IN (?, ?)""",
            _QUEUED,
            _RUNNING,
            *key_params(key),
            _QUEUED,
            _RUNNING,
        )
        if row is None:
            return 0
        queued = int(row["queued"])
        return queued if int(row["running"]) else max(queued - 1, 0)

    async def turns_ahead(self, key: ThreadKey, turn_id: int) -> int:
        """The thread's turns queued or running before `turn_id`: its place in the queue, read
        at one moment (a turn that starts meanwhile is counted once, as queued or as running)."""
        row = await self._db.fetchrow(
            f"""SELECT COUNT(*) AS n FROM turns
                WHERE {KEY_WHERE} AND status IN (?, ?) AND id < ?""",
            *key_params(key),
            _QUEUED,
            _RUNNING,
            turn_id,
        )
        return int(row["n"]) if row else 0

    async def cancel_queued(self, key: ThreadKey) -> int:
        """Queued -> cancelled for the thread; how many."""
        return await self._db.execute(
            f"UPDATE turns SET status = ?, updated_at = ? WHERE {KEY_WHERE} AND status = ?",
            TurnStatus.CANCELLED.value,
            time.time(),
            *key_params(key),
            _QUEUED,
        )

    async def threads_with_queued_turns(self) -> list[ThreadKey]:
        rows = await self._db.fetch(
            "SELECT DISTINCT platform, tenant, channel, thread FROM turns WHERE status = ?",
            _QUEUED,
        )
        return [thread_key_from_row(r) for r in rows]

    async def interrupt_stale_turns(self, now: float, platform: str | None = None) -> list[TurnRow]:
        # Locking the rows first makes a racing replica skip them, or re-check them and find
        # them no longer running.
        """Running turns whose thread lease has lapsed (their process died): mark interrupted.
        With `platform`, only that platform's turns (the process that can tell their users).
        The rows are returned as found (still running)."""
        only = "" if platform is None else "AND t.platform = ?"
        async with self._db.transaction() as tx:
            rows = await tx.fetch(
                f"""SELECT t.* FROM turns t JOIN threads h ON h.platform = t.platform
                      AND h.tenant = t.tenant AND h.channel = t.channel AND h.thread = t.thread
                    WHERE t.status = ? AND h.turn_lease_until < ? {only}
                    ORDER BY t.id {self._db.dialect.skip_locked(of="t")}""",
                _RUNNING,
                now,
                *(() if platform is None else (platform,)),
            )
            return await _interrupt(tx, [turn_from_row(r) for r in rows], now)
