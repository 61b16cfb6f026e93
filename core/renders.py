"""Exports and durable render jobs: a render is stored before it starts, polled under a lease
(so another replica takes it over when this one dies), and its link posted exactly once, after
the store's conditional `ready -> posted` update succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from core.client import Credentials, DuplicateRenderId, NemoClient
from core.errors import BackendUnavailable, NemoError, RateLimited, RenderFailed
from core.messages import say
from core.metrics import Metrics
from core.models import Draft
from core.port import Action, ChatThread, Reply, ReplyKind, ThreadKey
from core.store import RenderJob, Store
from core.store.base import RenderState

log = logging.getLogger("jupiter.renders")

REUSE_RENDER_SECONDS = 3600.0  # a posted link re-offered for an unchanged timeline this long


def draft_fingerprint(draft: Draft) -> str:
    """Identifies a timeline's content: equal drafts give equal fingerprints."""
    canonical = json.dumps(draft.raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Renders:
    def __init__(
        self,
        client: NemoClient,
        store: Store,
        metrics: Metrics,
        *,
        owner: str,
        poll_seconds: float,
        timeout_seconds: float,
        lease_seconds: float,
        threads: Callable[[ThreadKey], ChatThread | None],
        credentials: Callable[[ThreadKey], Awaitable[Credentials]],
    ) -> None:
        self.client = client
        self.store = store
        self.metrics = metrics
        self.owner = owner
        self._poll = poll_seconds
        self._timeout = timeout_seconds
        self._lease = lease_seconds
        self._threads = threads
        self._credentials = credentials
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._spawned: set[asyncio.Task[Any]] = set()
        self.closing = False

    def pending(self) -> list[asyncio.Task[Any]]:
        return [t for t in (*self._tasks.values(), *self._spawned) if not t.done()]

    async def stop(self) -> None:
        self.closing = True
        tasks = [*self._tasks.values(), *self._spawned]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def export(
        self,
        thread: ChatThread,
        draft: Draft,
        session_id: str,
        creds: Credentials,
        session_language: str,
        chinese: bool,
    ) -> None:
        """Render `draft` (known to be ready) for `thread`, or re-post the last link if unchanged."""
        key = thread.key
        fingerprint = draft_fingerprint(draft)
        last = await self.store.last_posted_render(key)
        if (
            last is not None
            and last.output_url
            and last.draft_hash == fingerprint
            and time.time() - (last.posted_at or 0) < REUSE_RENDER_SECONDS
        ):
            # Nothing changed since the last export: the same video, without a second render.
            url = last.output_url
            await thread.post(
                Reply(
                    ReplyKind.VIDEO,
                    say("render_again", chinese, url=url),
                    (Action.STATUS,),
                    video_url=url,
                )
            )
            return
        message_id = await thread.post(
            Reply(ReplyKind.STATUS, say("render_started", chinese, progress=0), progress=0)
        )
        language = "zh-CN" if chinese else session_language
        for attempt in (1, 2):
            # The job is persisted before the render starts, so a crash in between leaves a
            # job that is resumed (and reported), never a render nobody watches.
            job = await self.store.add_render(
                key,
                self.client.new_render_id(),
                owner=self.owner,
                lease_seconds=self._lease,
                deadline_at=time.time() + self._timeout,
                message_id=message_id,
                language=language,
                draft_hash=fingerprint,
            )
            try:
                await self.client.start_render(creds, session_id, draft, job.render_id)
            except DuplicateRenderId:
                await self.store.update_render(
                    job.id, self.owner, 0, status=RenderState.FAILED, error="duplicate id"
                )
                if attempt == 2:
                    raise
                continue
            except BaseException:
                await self.store.update_render(
                    job.id, self.owner, 0, status=RenderState.FAILED, error="not started"
                )
                raise
            break
        self.metrics.render_jobs.labels("rendering").inc()
        self.drive(job)

    def drive(self, job: RenderJob) -> None:
        if job.id in self._tasks and not self._tasks[job.id].done() or self.closing:
            return
        task = asyncio.create_task(self._drive_render(job), name=f"render {job.render_id}")
        self._tasks[job.id] = task
        task.add_done_callback(functools.partial(self._forget_render, job.id))

    def _forget_render(self, job_id: int, task: asyncio.Task[None]) -> None:
        if self._tasks.get(job_id) is task:
            del self._tasks[job_id]

    async def _drive_render(self, job: RenderJob) -> None:
        """Poll one render to its end and post its link exactly once."""
        chinese = job.language.startswith("zh")
        lease = self._lease
        try:
            creds = await self._credentials(job.key)
            last_progress = job.progress
            while job.status is RenderState.RENDERING:
                # Wait for the next poll in steps that keep the lease alive, however the poll
                # interval compares with the lease.
                while (wait := job.next_poll_at - time.time()) > 0:
                    await asyncio.sleep(min(wait, self._poll, lease / 3))
                    if job.next_poll_at - time.time() > 0:
                        if not await self.store.update_render(job.id, self.owner, lease):
                            return
                try:
                    status = await self.client.render_status(creds, job.render_id)
                except (BackendUnavailable, RateLimited):
                    status = None  # a bad moment, not a verdict on the render: poll again
                now = time.time()
                if status is not None and status.succeeded:
                    if not await self.store.update_render(
                        job.id,
                        self.owner,
                        lease,
                        status=RenderState.READY,
                        progress=100,
                        output_url=status.output_url,
                        size=status.size,
                    ):
                        return
                    break
                if status is not None and status.finished:
                    reason = status.error or status.status
                    await self.store.update_render(
                        job.id, self.owner, lease, status=RenderState.FAILED, error=reason
                    )
                    await self._render_message(
                        job, Reply(ReplyKind.ERROR, say("render_failed", chinese, reason=reason))
                    )
                    return
                if now >= job.deadline_at:
                    await self.store.update_render(
                        job.id, self.owner, lease, status=RenderState.FAILED, error="timeout"
                    )
                    await self._render_message(
                        job,
                        Reply(
                            ReplyKind.ERROR,
                            say("render_failed", chinese, reason="it did not finish in time"),
                        ),
                    )
                    return
                progress = status.progress if status is not None else last_progress
                if not await self.store.update_render(
                    job.id,
                    self.owner,
                    lease,
                    progress=progress,
                    next_poll_at=now + self._poll,
                ):
                    return  # another replica took the job over
                if int(progress) != int(last_progress) and job.message_id:
                    last_progress = progress
                    await self._render_progress(job, progress, chinese)
                job = await self.store.get_render(job.id) or job
            await self.deliver(job.id, chinese)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await asyncio.shield(
                    self.store.update_render(job.id, self.owner, 0)
                )  # free the lease
            raise
        except RenderFailed as exc:
            await self.store.update_render(
                job.id, self.owner, lease, status=RenderState.FAILED, error=exc.message
            )
            await self._render_message(
                job, Reply(ReplyKind.ERROR, say("render_failed", chinese, reason=exc.message))
            )
        except Exception:
            log.exception("render driver failed", extra={"render": job.render_id})

    async def _render_progress(self, job: RenderJob, progress: float, chinese: bool) -> None:
        thread = self._threads(job.key)
        if thread is None or job.message_id is None:
            return
        reply = Reply(
            ReplyKind.STATUS,
            say("render_started", chinese, progress=int(progress)),
            progress=progress,
        )
        with contextlib.suppress(Exception):
            await thread.update(job.message_id, reply)

    async def _render_message(self, job: RenderJob, reply: Reply) -> None:
        thread = self._threads(job.key)
        if thread is not None:
            with contextlib.suppress(Exception):
                await thread.post(reply)

    async def deliver(self, job_id: int, chinese: bool) -> None:
        job = await self.store.get_render(job_id)
        if job is None or job.output_url is None:
            return
        thread = self._threads(job.key)
        if thread is None:  # left `ready` for a process that serves this platform
            log.warning("no adapter to post a finished render", extra={"render": job.render_id})
            return
        if not await self.store.mark_posted(job_id):
            return
        self.metrics.render_seconds.observe(max(time.time() - job.created_at, 0))
        url = job.output_url
        reply = Reply(
            ReplyKind.VIDEO,
            say("render_done", chinese, url=url),
            (Action.STATUS, Action.CREDITS),
            video_url=url,
        )
        if job.message_id:
            with contextlib.suppress(Exception):
                await thread.update(
                    job.message_id,
                    Reply(ReplyKind.STATUS, say("render_finished", chinese), progress=100),
                )
        await self._post_link(thread, reply)
        limit = thread.upload_limit
        if limit <= 0:
            return
        try:
            size = job.size or await self.client.media_size(url)
            if size is None or size > limit:
                return
            name = f"jupiter-{job.render_id}.mp4"
            await thread.upload(name, size, self.client.download(url), reply)
        except Exception:
            log.warning(
                "could not attach the video file; the link was posted",
                extra={"render": job.render_id},
            )

    async def _post_link(self, thread: ChatThread, reply: Reply, attempts: int = 3) -> None:
        """The job is already marked posted (so no other process posts it): a chat API failure
        here would lose the link for good, so it is retried a few times before giving up."""
        for attempt in range(1, attempts + 1):
            try:
                await thread.post(reply)
                return
            except Exception:
                if attempt == attempts:
                    raise
                log.warning("posting a render link failed, retrying", extra={"try": attempt})
                await asyncio.sleep(self._poll * attempt)

    async def cancel_thread(self, thread: ChatThread, chinese: bool) -> bool:
        """Cancel the thread's unfinished renders; True when there were any."""
        key = thread.key
        stopped = False
        for job in await self.store.active_renders(key):
            task = self._tasks.pop(job.id, None)
            if task is not None:
                task.cancel()
            with contextlib.suppress(NemoError):
                await self.client.cancel_render(await self._credentials(key), job.render_id)
            await self.store.update_render(
                job.id, job.lease_owner or self.owner, 0, status=RenderState.CANCELLED
            )
            if job.message_id:
                with contextlib.suppress(Exception):
                    await thread.update(
                        job.message_id, Reply(ReplyKind.STATUS, say("render_cancelled", chinese))
                    )
            stopped = True
        return stopped

    async def resume(self, can_post: Callable[[str], bool]) -> None:
        """Take over unfinished jobs whose lease is free or lapsed (a dead process's)."""
        for job in await self.store.claim_renders(self.owner, self._lease):
            if not can_post(job.key.platform):
                await self.store.update_render(job.id, self.owner, 0)
                continue
            if job.status is RenderState.READY:
                chinese = job.language.startswith("zh")
                self._spawn(self.deliver(job.id, chinese), f"deliver {job.render_id}")
            else:
                self.drive(job)
