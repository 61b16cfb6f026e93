"""Posters hosted by a chat platform: where a platform's views show only images it hosts itself
(a file id, not bytes), the poster is uploaded there once per workspace and video, and the
platform's file id is kept here to be reused on every view.

What must hold: one file id per (platform, tenant, render); of racing uploads the first stored
wins and every caller gets that one; a file id is forgotten only when the platform refused it
and it is older than the caller's grace (a platform may still be processing a new upload).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from core.store.base import SQLTables


class PosterUploads(SQLTables):
    async def poster_uploads(
        self, platform: str, tenant: str, render_ids: Sequence[str]
    ) -> dict[str, str]:
        """render id -> the platform's file id, for those of `render_ids` uploaded already."""
        if not render_ids:
            return {}
        marks = ", ".join("?" for _ in render_ids)
        rows = await self._db.fetch(
            f"""SELECT render_id, file_id FROM poster_uploads
                WHERE platform = ? AND tenant = ? AND render_id IN ({marks})""",
            platform,
            tenant,
            *render_ids,
        )
        return {row["render_id"]: row["file_id"] for row in rows}

    async def put_poster_upload(
        self, platform: str, tenant: str, render_id: str, file_id: str, *, now: float | None = None
    ) -> str:
        """Keep `file_id` unless one is kept already; the file id kept (the first writer's)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                """INSERT INTO poster_uploads (platform, tenant, render_id, file_id, uploaded_at)
                   VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, tenant, render_id) DO NOTHING""",
                platform,
                tenant,
                render_id,
                file_id,
                time.time() if now is None else now,
            )
            row = await tx.fetchrow(
                """SELECT file_id FROM poster_uploads
                   WHERE platform = ? AND tenant = ? AND render_id = ?""",
                platform,
                tenant,
                render_id,
            )
        assert row is not None
        return str(row["file_id"])

    async def forget_poster_uploads(
        self, platform: str, tenant: str, file_ids: Sequence[str], uploaded_before: float
    ) -> int:
        """Drop the refused `file_ids` uploaded before `uploaded_before` (the next view uploads
        those posters again); how many were dropped."""
        if not file_ids:
            return 0
        marks = ", ".join("?" for _ in file_ids)
        return await self._db.execute(
            f"""DELETE FROM poster_uploads WHERE platform = ? AND tenant = ?
                AND file_id IN ({marks}) AND uploaded_at < ?""",
            platform,
            tenant,
            *file_ids,
            uploaded_before,
        )
