"""Exports and durable render jobs: a render is stored before it starts, polled under a lease
(so another replica takes it over when this one dies), and its link posted exactly once: the
store's conditional `ready -> posting` decides who posts, `posted` is written after the post
returned, and a process taking over a `posting` job asks the thread whether the link arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.client import Credentials, DuplicateRenderId
from core.delivery import Delivery
from core.errors import BackendUnavailable, NemoError, ProtocolError, RateLimited, RenderFailed
from core.messages import Msg, say
from core.models import Draft, RenderStatus
from core.port import Action, Reply, ReplyKind
from core.redact import backend_text
from core.store import RenderJob
from core.store.base import RenderState, Version

if TYPE_CHECKING:  # the engine's parts, which import this module
    from core.engine.context import TurnContext
    from core.engine.tasks import TaskSet

log = logging.getLogger("jupiter.renders")

REUSE_RENDER_SECONDS = 3600.0  # a posted link re-offered for an unchanged timeline this long


def draft_fingerprint(draft: Draft) -> str:
    """Identifies a timeline's content: equal drafts give equal fingerprints."""
    canonical = json.dumps(draft.raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(eq=False, kw_only=True)
class Renders(Delivery):
    """Exports and the render jobs they start, driven until their links are delivered."""

    tasks: TaskSet
    timeout_seconds: float

    async def export(
        self,
        ctx: TurnContext,
        draft: Draft,
        session_id: str,
        creds: Credentials,
        *,
        version: Version | None = None,
    ) -> None:
        """Render `draft` (known to be ready) for the thread, or re-post the link of the same
        timeline delivered before. `version`: the stored version being exported (`export v2`);
        else the current timeline, labelled with its version when it matches the newest."""
        key = ctx.key
        fingerprint = draft_fingerprint(draft)
        if await self._offer_again(ctx, fingerprint, version):
            return
        if version is None:
            newest = await self.store.list_versions(key, limit=1)
            if newest and draft_fingerprint(Draft.from_json(newest[0].draft_json)) == fingerprint:
                version = newest[0]
        message_id = await ctx.thread.post(
            Reply(
                ReplyKind.STATUS,
                ctx.say(Msg.RENDER_STARTED, progress=0),
                progress=0,
                language=ctx.language,
            )
        )
        for attempt in (1, 2):
            # The job is persisted before the render starts, so a crash in between leaves a
            # job that is resumed (and reported), never a render nobody watches.
            job = await self.store.add_render(
                key,
                self.client.new_render_id(),
                owner=self.owner,
                lease_seconds=self.lease_seconds,
                deadline_at=time.time() + self.timeout_seconds,
                message_id=message_id,
                language=ctx.language,
                draft_hash=fingerprint,
                version=version.number if version is not None else None,
                user=ctx.user or None,
            )
            try:
                await self.client.start_render(creds, session_id, draft, job.render_id)
            except DuplicateRenderId:
                await self.store.finish_render(
                    job.id, self.owner, RenderState.FAILED, error="duplicate id"
                )
                if attempt == 2:
                    raise
                continue
            except BaseException:
                await self.store.finish_render(
                    job.id, self.owner, RenderState.FAILED, error="not started"
                )
                raise
            break
        self.metrics.render_jobs.labels("rendering").inc()
        self.drive(job)

    async def _offer_again(
        self, ctx: TurnContext, fingerprint: str, version: Version | None
    ) -> bool:
        """The same timeline was delivered lately: its link again, without a second render."""
        if version is None:
            last = await self.store.last_posted_render(ctx.key)
            same = last if last is not None and last.draft_hash == fingerprint else None
        else:
            same = await self.store.posted_with(ctx.key, fingerprint)
        if same is None or not same.output_url:
            return False
        if time.time() - (same.posted_at or 0) >= REUSE_RENDER_SECONDS:
            return False
        url = same.output_url
        if version is None:
            text = ctx.say(Msg.RENDER_AGAIN, url=url)
        else:
            text = ctx.say(Msg.VERSION_AGAIN, number=version.number, url=url)
        await ctx.thread.post(
            Reply(ReplyKind.VIDEO, text, (Action.STATUS,), video_url=url, language=ctx.language)
        )
        return True

    def drive(self, job: RenderJob) -> None:
        self.tasks.spawn_keyed(("render", job.id), self._drive(job), f"render {job.render_id}")

    async def _drive(self, job: RenderJob) -> None:
        """Poll one render to its end and post its link exactly once."""
        try:
            finished = await self._poll_until_done(job)
            if finished is not None:
                await self.deliver(finished.id)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await asyncio.shield(self.store.release_render(job.id, self.owner))
            raise
        except RenderFailed as exc:
            await self._fail(job, backend_text(exc.message, 500))
        except Exception:
            log.exception("render driver failed", extra={"render": job.render_id})

    async def _poll_until_done(self, job: RenderJob) -> RenderJob | None:
        """The job once `ready`; None when it failed, timed out or another replica took it."""
        creds = await self.identities.credentials(job.key)
        shown = job.progress
        while job.status is RenderState.RENDERING:
            if not await self._wait_for_poll(job):
                return None
            try:
                status: RenderStatus | None = await self.client.render_status(creds, job.render_id)
            except (BackendUnavailable, RateLimited, ProtocolError):
                status = None  # a bad moment (or a garbled answer), not a verdict: poll again
            if status is not None and status.succeeded:
                ready = await self.store.mark_ready(
                    job.id,
                    self.owner,
                    self.lease_seconds,
                    output_url=status.output_url,
                    size=status.size,
                )
                return job if ready else None
            if status is not None and status.finished:
                await self._fail(job, backend_text(status.error, 500) or status.status)
                return None
            if time.time() >= job.deadline_at:
                await self._fail(job, say(Msg.RENDER_TOO_SLOW, job.language))
                return None
            progress = status.progress if status is not None else None
            progress = shown if progress is None else progress  # unknown: keep the last
            if not await self.store.record_progress(
                job.id,
                self.owner,
                self.lease_seconds,
                progress=progress,
                next_poll_at=time.time() + self.poll_seconds,
            ):
                return None  # another replica took the job over
            if int(progress) != int(shown) and job.message_id:
                shown = progress
                await self._show_progress(job, progress)
            job = await self.store.get_render(job.id) or job
        return job if job.status is RenderState.READY else None

    async def _wait_for_poll(self, job: RenderJob) -> bool:
        """Sleep until the next poll in steps that keep the lease alive, however the poll
        interval compares with the lease; False when the lease was lost meanwhile."""
        while (wait := job.next_poll_at - time.time()) > 0:
            await asyncio.sleep(min(wait, self.poll_seconds, self.lease_seconds / 3))
            if job.next_poll_at - time.time() > 0:
                if not await self.store.renew_render(job.id, self.owner, self.lease_seconds):
                    return False
        return True

    async def _fail(self, job: RenderJob, reason: str) -> None:
        await self.store.finish_render(job.id, self.owner, RenderState.FAILED, error=reason)
        text = say(Msg.RENDER_FAILED, job.language, reason=reason)
        thread = self.directory.get(job.key)
        if thread is not None:
            with contextlib.suppress(Exception):
                await thread.post(Reply(ReplyKind.ERROR, text, language=job.language))

    async def _show_progress(self, job: RenderJob, progress: float) -> None:
        thread = self.directory.get(job.key)
        if thread is None or job.message_id is None:
            return
        text = say(Msg.RENDER_STARTED, job.language, progress=int(progress))
        with contextlib.suppress(Exception):
            await thread.update(
                job.message_id,
                Reply(ReplyKind.STATUS, text, progress=progress, language=job.language),
            )

    async def cancel_thread(self, ctx: TurnContext) -> bool:
        """Cancel the thread's unfinished renders; True when there were any."""
        key = ctx.key
        stopped = False
        for job in await self.store.active_renders(key):
            if job.status is RenderState.POSTING:
                continue  # its link is on its way; cancelling now could hide that it arrived
            self.tasks.cancel(("render", job.id))
            with contextlib.suppress(NemoError):
                creds = await self.identities.credentials(key)
                await self.client.cancel_render(creds, job.render_id)
            await self.store.finish_render(
                job.id, job.lease_owner or self.owner, RenderState.CANCELLED
            )
            if job.message_id:
                cancelled = Reply(
                    ReplyKind.STATUS, ctx.say(Msg.RENDER_CANCELLED), language=ctx.language
                )
                with contextlib.suppress(Exception):
                    await ctx.thread.update(job.message_id, cancelled)
            stopped = True
        return stopped

    async def resume(self, can_post: Callable[[str], bool]) -> None:
        """Take over unfinished jobs whose lease is free or lapsed (a dead process's)."""
        for job in await self.store.claim_renders(self.owner, self.lease_seconds):
            if self.tasks.get(("render", job.id)) or self.tasks.get(("deliver", job.id)):
                continue  # still ours and at work here: its lease was only late (a busy loop)
            if not can_post(job.key.platform):
                await self.store.release_render(job.id, self.owner)
            elif job.status in (RenderState.READY, RenderState.POSTING):
                self.tasks.spawn_keyed(
                    ("deliver", job.id), self.deliver(job.id), f"deliver {job.render_id}"
                )
            else:
                self.drive(job)
