"""Render jobs: every export until its link is posted exactly once.

A job is leased to the process polling it; every write after `add_render` names that owner and
counts only while it still holds the lease (False: another process took the job over). A lapsed
or released lease lets `claim_renders` hand the job to a live process.

rendering -> ready -> posting -> posted: `posting` is held under the lease while the link is
being posted, and becomes `posted` only after the post returned. A `posting` job whose lease
lapsed was left mid-post; whoever claims it looks for the message in the thread before posting.
"""

from __future__ import annotations

import time
from typing import Literal

from core.port import ThreadKey
from core.store.base import (
    KEY_WHERE,
    RenderJob,
    RenderState,
    SQLTables,
    key_params,
    mend,
    render_from_row,
)

_UNFINISHED = (RenderState.RENDERING.value, RenderState.READY.value, RenderState.POSTING.value)
Finished = Literal[RenderState.FAILED, RenderState.CANCELLED]


class RenderJobs(SQLTables):
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
        version: int | None = None,
        user: str | None = None,
    ) -> RenderJob:
        """A new job, rendering and leased to `owner`, due for its first poll now."""
        now = time.time()
        async with self._db.transaction() as tx:  # a write, whatever `RETURNING` makes it look
            row = await tx.fetchrow(
                """INSERT INTO renders (platform, tenant, channel, thread, render_id, status,
                     message_id, language, next_poll_at, deadline_at, lease_owner, lease_until,
                     created_at, draft_hash, version, user_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *""",
                *key_params(key),
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
                version,
                user,
            )
        assert row is not None
        return render_from_row(row)

    async def get_render(self, job_id: int) -> RenderJob | None:
        row = await self._db.fetchrow("SELECT * FROM renders WHERE id = ?", job_id)
        return render_from_row(row) if row else None

    async def last_posted_render(self, key: ThreadKey) -> RenderJob | None:
        """The thread's most recent render whose link was posted."""
        row = await self._db.fetchrow(
            f"SELECT * FROM renders WHERE {KEY_WHERE} AND status = ? ORDER BY id DESC LIMIT 1",
            *key_params(key),
            RenderState.POSTED.value,
        )
        return render_from_row(row) if row else None

    async def posted_with(self, key: ThreadKey, draft_hash: str) -> RenderJob | None:
        """The thread's newest posted render of exactly this timeline (a link to re-offer)."""
        row = await self._db.fetchrow(
            f"""SELECT * FROM renders WHERE {KEY_WHERE} AND status = ? AND draft_hash = ?
                ORDER BY id DESC LIMIT 1""",
            *key_params(key),
            RenderState.POSTED.value,
            draft_hash,
        )
        return render_from_row(row) if row else None

    async def posted_renders(self, key: ThreadKey, limit: int = 20) -> list[RenderJob]:
        """The thread's delivered videos, newest first (its gallery)."""
        rows = await self._db.fetch(
            f"SELECT * FROM renders WHERE {KEY_WHERE} AND status = ? ORDER BY id DESC LIMIT ?",
            *key_params(key),
            RenderState.POSTED.value,
            limit,
        )
        return [render_from_row(row) for row in rows]

    async def user_videos(
        self, platform: str, tenant: str, user: str, limit: int = 10
    ) -> list[RenderJob]:
        """The videos delivered to one user's requests in a workspace, newest first (Home)."""
        rows = await self._db.fetch(
            """SELECT * FROM renders WHERE platform = ? AND tenant = ? AND user_id = ?
                AND status = ? ORDER BY id DESC LIMIT ?""",
            platform,
            tenant,
            user,
            RenderState.POSTED.value,
            limit,
        )
        return [render_from_row(row) for row in rows]

    async def put_poster(self, job_id: int, jpeg_base64: str) -> None:
        await self._db.execute("UPDATE renders SET poster = ? WHERE id = ?", jpeg_base64, job_id)

    async def get_poster(self, job_id: int) -> str | None:
        row = await self._db.fetchrow("SELECT poster FROM renders WHERE id = ?", job_id)
        return row["poster"] if row is not None else None

    async def active_renders(self, key: ThreadKey) -> list[RenderJob]:
        """The thread's unfinished (rendering, ready or posting) jobs, oldest first."""
        rows = await self._db.fetch(
            f"SELECT * FROM renders WHERE {KEY_WHERE} AND status IN (?, ?, ?) ORDER BY id",
            *key_params(key),
            *_UNFINISHED,
        )
        return [render_from_row(r) for r in rows]

    async def claim_renders(
        self, owner: str, lease_seconds: float, limit: int = 100
    ) -> list[RenderJob]:
        """Unfinished jobs whose lease is free or lapsed, now leased to `owner`, oldest first."""
        now = time.time()
        async with self._db.transaction() as tx:
            rows = await tx.fetch(
                f"""UPDATE renders SET lease_owner = ?, lease_until = ?
                    WHERE id IN (
                      SELECT id FROM renders WHERE status IN (?, ?, ?)
                        AND (lease_owner IS NULL OR lease_until < ?)
                      ORDER BY id LIMIT ? {self._db.dialect.skip_locked()})
                    RETURNING *""",
                owner,
                now + lease_seconds,
                *_UNFINISHED,
                now,
                limit,
            )
        return sorted((render_from_row(r) for r in rows), key=lambda job: job.id)

    async def _update(self, job_id: int, owner: str, fields: dict[str, object]) -> bool:
        """Set `fields` (column -> value) on the job, only while `owner` holds its lease."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        written = await self._db.execute(
            f"UPDATE renders SET {assignments} WHERE id = ? AND lease_owner = ?",
            *fields.values(),
            job_id,
            owner,
        )
        return written == 1

    async def renew_render(self, job_id: int, owner: str, lease_seconds: float) -> bool:
        """Extend the lease only (waiting for the next poll)."""
        return await self._update(job_id, owner, {"lease_until": time.time() + lease_seconds})

    async def record_progress(
        self,
        job_id: int,
        owner: str,
        lease_seconds: float,
        progress: float,
        *,
        next_poll_at: float | None = None,
    ) -> bool:
        """A poll's progress and when to poll next; renews the lease."""
        fields: dict[str, object] = {
            "lease_until": time.time() + lease_seconds,
            "progress": progress,
        }
        if next_poll_at is not None:
            fields["next_poll_at"] = next_poll_at
        return await self._update(job_id, owner, fields)

    async def mark_ready(
        self,
        job_id: int,
        owner: str,
        lease_seconds: float,
        *,
        output_url: str | None,
        size: int | None,
    ) -> bool:
        """rendering -> ready with the video's link (progress 100): the link is still to post.
        A None link or size leaves the stored one (the backend may report them separately)."""
        fields: dict[str, object] = {
            "lease_until": time.time() + lease_seconds,
            "status": RenderState.READY.value,
            "progress": 100,
        }
        for name, value in (("output_url", output_url), ("size", size)):
            if value is not None:
                fields[name] = value
        return await self._update(job_id, owner, fields)

    async def finish_render(
        self, job_id: int, owner: str, state: Finished, *, error: str | None = None
    ) -> bool:
        """The job ends without a link (failed or cancelled) and holds no lease any more."""
        fields: dict[str, object] = {"lease_until": time.time(), "status": state.value}
        if error is not None:
            fields["error"] = mend(error)  # the backend's words: NUL would fail PostgreSQL
        return await self._update(job_id, owner, fields)

    async def release_render(self, job_id: int, owner: str) -> bool:
        """Give the lease up now (shutdown, a platform this process cannot post to): the job
        stays unfinished for `claim_renders` elsewhere."""
        return await self._update(job_id, owner, {"lease_until": time.time()})

    async def begin_posting(self, job_id: int, owner: str, lease_seconds: float) -> bool:
        """ready -> posting, renewing `owner`'s lease: only the process this returns True to
        posts the link, and the job stays claimable (lease lapsed) if that process dies."""
        written = await self._db.execute(
            """UPDATE renders SET status = ?, lease_until = ?
               WHERE id = ? AND status = ? AND lease_owner = ?""",
            RenderState.POSTING.value,
            time.time() + lease_seconds,
            job_id,
            RenderState.READY.value,
            owner,
        )
        return written == 1

    async def mark_posted(self, job_id: int, owner: str | None = None) -> bool:
        """ready or posting -> posted, only once, after the post returned. With `owner`, only
        while `owner` holds the lease (the posting path); the lease is given up."""
        only_owner = "" if owner is None else "AND lease_owner = ?"
        written = await self._db.execute(
            f"""UPDATE renders SET status = ?, posted_at = ?, lease_until = ?
               WHERE id = ? AND posted_at IS NULL AND status IN (?, ?) {only_owner}""",
            RenderState.POSTED.value,
            time.time(),
            time.time(),
            job_id,
            RenderState.READY.value,
            RenderState.POSTING.value,
            *(() if owner is None else (owner,)),
        )
        return written == 1

    async def count_renders(self) -> dict[RenderState, int]:
        rows = await self._db.fetch("SELECT status, COUNT(*) AS n FROM renders GROUP BY status")
        return {RenderState(r["status"]): int(r["n"]) for r in rows}
