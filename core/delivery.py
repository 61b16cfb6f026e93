"""Delivering a finished render: its link posted in the thread exactly once, the crash window
included, then the MP4 itself where the platform takes it.

ready -> posting (a conditional update under a lease, kept alive while the post retries) ->
posted once the post returned. A job found `posting` was left mid-post by a process that died
(or gave up): the thread is read for the delivery's marker first (`ChatThread.find_delivery`),
and the link posted only when it is absent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.client import NemoClient
from core.messages import Msg, say
from core.metrics import Metrics
from core.port import Action, ChatThread, Reply, ReplyKind
from core.posters import make_poster
from core.store import RenderJob, Store
from core.store.base import RenderState

if TYPE_CHECKING:  # the engine's parts, which import the render modules
    from core.engine.directory import ThreadDirectory
    from core.engine.identity import Identities

log = logging.getLogger("jupiter.renders")


@dataclass(eq=False, kw_only=True)
class Delivery:
    """Posts finished renders' links (`deliver`); what rendering needs too (`Renders`)."""

    client: NemoClient
    store: Store
    metrics: Metrics
    directory: ThreadDirectory
    identities: Identities
    owner: str  # this process, as the lease holder of the jobs it takes
    poll_seconds: float
    lease_seconds: float

    async def deliver(self, job_id: int) -> None:
        """Post a finished render's link exactly once, the crash window included.

        ready -> posting (leased, the lease kept alive while the post retries) -> posted once
        the post returned. A job found `posting` was left mid-post by a process that died (or
        gave up): the thread is read for the delivery's marker first, and the link posted only
        when it is absent.
        """
        job = await self.store.get_render(job_id)
        if job is None or job.output_url is None:
            return
        if job.status not in (RenderState.READY, RenderState.POSTING):
            return
        thread = self.directory.get(job.key)
        if thread is None:  # left unfinished for a process that serves this platform
            log.warning("no adapter to post a finished render", extra={"render": job.render_id})
            return
        if job.status is RenderState.POSTING:
            # left mid-post by a process that died: the lease is ours from the claim, keep it
            async with self._lease_kept(job):
                reply = await self._reply(job)
                if await self._found(thread, job):
                    await self.store.mark_posted(job.id, self.owner)
                    return
                await self._post_delivery(thread, job, reply)
        else:
            # Everything slow (the task link, the poster) comes before the claim, so the
            # claim's lease cannot lapse before its post (another pass would take it over).
            reply = await self._reply(job)
            if not await self.store.begin_posting(job.id, self.owner, self.lease_seconds):
                return
            async with self._lease_kept(job):
                await self._post_delivery(thread, job, reply)
        self.metrics.render_seconds.observe(max(time.time() - job.created_at, 0))
        await self._attach(thread, job, job.output_url or "", reply)

    async def _reply(self, job: RenderJob) -> Reply:
        """The delivery: the link, its version, the task detail link and the poster."""
        link = await self.identities.task_link(job.key)  # never raises: no link this time
        return Reply(
            ReplyKind.VIDEO,
            say(Msg.RENDER_DONE, job.language, url=job.output_url),
            (Action.STATUS, Action.CREDITS),
            video_url=job.output_url,
            marker=job.render_id,
            details=(
                *await self._which_version(job),
                *((say(Msg.TASK_LINK, job.language, link=link),) if link else ()),
            ),
            language=job.language,
            poster=await self._poster(job),
        )

    async def _post_delivery(self, thread: ChatThread, job: RenderJob, reply: Reply) -> None:
        if job.message_id:
            lang = job.language
            done = Reply(
                ReplyKind.STATUS, say(Msg.RENDER_FINISHED, lang), progress=100, language=lang
            )
            with contextlib.suppress(Exception):
                await thread.update(job.message_id, done)
        try:
            await self._post_link(thread, reply)
        except BaseException:
            # Still `posting`: the next claim looks in the thread first, then posts.
            with contextlib.suppress(BaseException):
                await asyncio.shield(self.store.release_render(job.id, self.owner))
            raise
        # The post went out: recording it must survive a shutdown that cancels this task, or
        # the next process would have to find the message in the thread (or post it twice).
        record = asyncio.ensure_future(self.store.mark_posted(job.id, self.owner))
        try:
            posted = await asyncio.shield(record)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await record
            raise
        if not posted:
            log.warning("a posted render was no longer leased", extra={"render": job.render_id})

    async def _found(self, thread: ChatThread, job: RenderJob) -> bool:
        """Whether a dead process's post of this link reached the thread. A thread that cannot
        be read gets the link (a rare duplicate rather than a lost video)."""
        try:
            found = await thread.find_delivery(job.render_id)
        except Exception as exc:
            log.warning(
                "could not look for an earlier delivery; posting: %s",
                exc.__class__.__name__,
                extra={"render": job.render_id},
            )
            return False
        if found:
            log.info(
                "delivery found in the thread, not posted again", extra={"render": job.render_id}
            )
        return found

    @contextlib.asynccontextmanager
    async def _lease_kept(self, job: RenderJob) -> AsyncIterator[None]:
        """Renew the job's lease while the body runs (a post retrying through 429s may outlast
        it): a live poster is never taken over, a dead one is within a lease."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_seconds / 3)
                if not await self.store.renew_render(job.id, self.owner, self.lease_seconds):
                    return

        keeper = asyncio.create_task(renew(), name=f"lease {job.render_id}")
        try:
            yield
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _poster(self, job: RenderJob) -> bytes | None:
        """The video's poster: made once from the MP4 and kept with the job (a replica that
        takes the delivery over reuses it)."""
        stored = await self.store.get_poster(job.id)
        if stored:
            return base64.b64decode(stored)
        if job.output_url is None:
            return None
        try:
            poster = await make_poster(self.client.download(job.output_url))
        except Exception:  # a poster is a nicety: the delivery goes on without one
            log.warning("no poster for the video", extra={"render": job.render_id})
            return None
        if poster is not None:
            await self.store.put_poster(job.id, base64.b64encode(poster).decode())
        return poster

    async def _which_version(self, job: RenderJob) -> tuple[str, ...]:
        if job.version is None:
            return ()
        stored = await self.store.get_version(job.key, job.version)
        message = stored.message if stored is not None else ""
        return (say(Msg.VERSION_OF, job.language, number=job.version, message=message[:80]),)

    async def _attach(self, thread: ChatThread, job: RenderJob, url: str, reply: Reply) -> None:
        """The MP4 itself, where the platform takes a file that large; the link is enough.
        Fetched under the client's media guard (public addresses or the backend's own, bytes
        capped at the declared size and the upload limit), else by the fallback download."""
        limit = thread.upload_limit
        if limit <= 0:
            return
        try:
            creds = await self.identities.credentials(job.key)
            found = await self.client.video(creds, job.render_id, url, limit, job.size)
            if found is None:
                return
            size, chunks = found
            name = f"jupiter-{job.render_id}.mp4"
            await thread.upload(name, size, chunks, reply)
        except Exception:
            log.warning(
                "could not attach the video file; the link was posted",
                extra={"render": job.render_id},
            )

    async def _post_link(self, thread: ChatThread, reply: Reply, attempts: int = 3) -> None:
        """The job is `posting` under this process's lease (so no other process posts it): a
        chat API failure is retried a few times; past that the job is left for the next claim."""
        for attempt in range(1, attempts + 1):
            try:
                await thread.post(reply)
                return
            except Exception:
                if attempt == attempts:
                    raise
                log.warning("posting a render link failed, retrying", extra={"try": attempt})
                await asyncio.sleep(self.poll_seconds * attempt)
