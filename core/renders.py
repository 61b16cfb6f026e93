"""Exports and durable render jobs: a render is stored before it starts, polled under a lease
(so another replica takes it over when this one dies), and its link posted exactly once: the
store's conditional `ready -> posting` decides who posts, `posted` is written after the post
returned, and a process taking over a `posting` job asks the thread whether the link arrived.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from core.client import Credentials, DuplicateRenderId, NemoClient
from core.errors import BackendUnavailable, NemoError, ProtocolError, RateLimited, RenderFailed
from core.messages import Msg, say
from core.metrics import Metrics
from core.models import Draft, RenderStatus
from core.port import Action, ChatThread, Reply, ReplyKind
from core.posters import make_poster
from core.redact import backend_text
from core.store import RenderJob, Store
from core.store.base import RenderState, Version

if TYPE_CHECKING:  # the engine's parts, which import this module
    from core.engine.context import TurnContext
    from core.engine.directory import ThreadDirectory
    from core.engine.identity import Identities
    from core.engine.tasks import TaskSet

log = logging.getLogger("jupiter.renders")

REUSE_RENDER_SECONDS = 3600.0  # a posted link re-offered for an unchanged timeline this long


def draft_fingerprint(draft: Draft) -> str:
    """Identifies a timeline's content: equal drafts give equal fingerprints."""
    canonical = json.dumps(draft.raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def draft_of(version: Version) -> Draft:
    """The draft a stored version holds (an unreadable one reads as empty)."""
    try:
        return Draft.model_validate(json.loads(version.draft_json))
    except ValueError:
        return Draft()


class Renders:
    def __init__(
        self,
        client: NemoClient,
        store: Store,
        metrics: Metrics,
        directory: ThreadDirectory,
        identities: Identities,
        tasks: TaskSet,
        *,
        owner: str,
        poll_seconds: float,
        timeout_seconds: float,
        lease_seconds: float,
    ) -> None:
        self.client = client
        self.store = store
        self.metrics = metrics
        self.directory = directory
        self.identities = identities
        self.tasks = tasks
        self.owner = owner
        self._poll = poll_seconds
        self._timeout = timeout_seconds
        self._lease = lease_seconds

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
            if newest and draft_fingerprint(draft_of(newest[0])) == fingerprint:
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
                lease_seconds=self._lease,
                deadline_at=time.time() + self._timeout,
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
                    self._lease,
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
                self._lease,
                progress=progress,
                next_poll_at=time.time() + self._poll,
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
            await asyncio.sleep(min(wait, self._poll, self._lease / 3))
            if job.next_poll_at - time.time() > 0:
                if not await self.store.renew_render(job.id, self.owner, self._lease):
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
        taken_over = job.status is RenderState.POSTING
        if not taken_over and not await self.store.begin_posting(job.id, self.owner, self._lease):
            return
        link = await self.identities.task_link(job.key)  # never raises: no link this time
        reply = Reply(
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
        async with self._lease_kept(job):
            if taken_over and await self._found(thread, job):
                await self.store.mark_posted(job.id, self.owner)
                return
            await self._post_delivery(thread, job, reply)
        self.metrics.render_seconds.observe(max(time.time() - job.created_at, 0))
        await self._attach(thread, job, job.output_url, reply)

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
                await asyncio.sleep(self._lease / 3)
                if not await self.store.renew_render(job.id, self.owner, self._lease):
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
                await asyncio.sleep(self._poll * attempt)

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
        for job in await self.store.claim_renders(self.owner, self._lease):
            if not can_post(job.key.platform):
                await self.store.release_render(job.id, self.owner)
            elif job.status in (RenderState.READY, RenderState.POSTING):
                self.tasks.spawn(self.deliver(job.id), f"deliver {job.render_id}")
            else:
                self.drive(job)
