"""A thread's timeline versions: each agent turn that changed the draft records the draft as
the backend's state had it, the message that made it and what changed, numbered v1, v2, ...
per thread. The numbers run on across a fresh start (`new`); each version keeps its session,
so the versions of different videos stay apart and `export v2` renders v2's own draft."""

from __future__ import annotations

import time

from core.port import ThreadKey
from core.store.base import KEY_WHERE, SQLTables, Version, key_params, version_from_row

MAX_LISTED = 50


class Versions(SQLTables):
    async def add_version(
        self, key: ThreadKey, session_id: str, draft_json: str, message: str, changes: str
    ) -> Version:
        """Record the next version; one turn at a time runs per thread, so the next number
        is free (the unique index refuses a duplicate rather than overwrite one)."""
        now = time.time()
        row = await self._db.fetchrow(  # the next number and the row in one statement
            f"""INSERT INTO versions (platform, tenant, channel, thread, number, session_id,
                  draft_json, message, changes, created_at)
                SELECT ?, ?, ?, ?, COALESCE(MAX(number), 0) + 1, ?, ?, ?, ?, ?
                FROM versions WHERE {KEY_WHERE}
                RETURNING number""",
            *key_params(key),
            session_id,
            draft_json,
            message,
            changes,
            now,
            *key_params(key),
        )
        number = int(row["number"]) if row is not None else 1
        return Version(key, number, session_id, draft_json, message, changes, now)

    async def get_version(self, key: ThreadKey, number: int) -> Version | None:
        row = await self._db.fetchrow(
            f"SELECT * FROM versions WHERE {KEY_WHERE} AND number = ?", *key_params(key), number
        )
        return version_from_row(row) if row is not None else None

    async def list_versions(self, key: ThreadKey, limit: int = MAX_LISTED) -> list[Version]:
        """The newest `limit` versions, oldest first."""
        rows = await self._db.fetch(
            f"SELECT * FROM versions WHERE {KEY_WHERE} ORDER BY number DESC LIMIT ?",
            *key_params(key),
            limit,
        )
        return [version_from_row(row) for row in reversed(rows)]
