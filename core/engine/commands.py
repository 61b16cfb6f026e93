"""The messages that are not agent turns: help, credits, status, stop, uploads and exports.

Help, credits and status answer at once, even while a turn runs; stop cancels the thread's
running turn, its queue and its renders; uploads and exports run in the thread's turn order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from core.client import NemoClient
from core.engine.context import TurnContext
from core.engine.identity import Identities
from core.engine.limits import Spending
from core.engine.reply import BUTTONS
from core.engine.voice import Voice
from core.engine.workflow import Workflow
from core.errors import FileRejected, NemoError, SessionNotFound
from core.files import check_upload
from core.messages import Msg
from core.models import Draft, UploadResult
from core.port import Action, Attachment, Reply, ReplyKind, ThreadKey
from core.renders import Renders
from core.store import Store
from core.timeline import summarize

LOW_CREDITS = 100  # about one generation (NEMO_PROTOCOL.md)


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class Commands:
    def __init__(
        self,
        client: NemoClient,
        store: Store,
        identities: Identities,
        renders: Renders,
        voice: Voice,
        cancel_running: Callable[[ThreadKey], bool],
        workflow: Workflow,
        spending: Spending,
    ) -> None:
        self.client = client
        self.store = store
        self.identities = identities
        self.renders = renders
        self.voice = voice
        self._cancel_running = cancel_running
        self.workflow = workflow
        self.spending = spending

    async def help(self, ctx: TurnContext) -> None:
        await ctx.post(ReplyKind.NOTICE, Msg.HELP, BUTTONS)

    async def credits(self, ctx: TurnContext) -> None:
        creds = await self.identities.credentials(ctx.key)
        balance = await self.client.balance(creds)
        text = ctx.say(
            Msg.CREDITS,
            available=number(balance.available),
            frozen=number(balance.frozen),
            total=number(balance.grand_total),
        )
        details = (ctx.say(Msg.CREDITS_LOW),) if balance.available < LOW_CREDITS else ()
        budget = self.spending.daily_budget
        if budget is not None:
            spent = await self.spending.spent_today(ctx)
            details = (*details, ctx.say(Msg.CREDITS_SPENT, spent=spent, budget=budget))
        await ctx.thread.post(
            Reply(
                ReplyKind.CREDITS,
                text,
                (Action.STATUS,),
                balance=balance,
                details=details,
                language=ctx.language,
            )
        )

    async def status(self, ctx: TurnContext) -> None:
        key = ctx.key
        row = await self.store.get_thread(key)
        if row is None or not row.session_id:
            await ctx.thread.post(
                ctx.reply(ReplyKind.TIMELINE, summarize(Draft()), (Action.CREDITS,))
            )
            return
        creds = await self.identities.credentials(key)
        try:
            draft = await self.identities.fresh_draft(key, creds, row.session_id)
        except SessionNotFound:
            await self.store.forget_session(key)
            await ctx.post(ReplyKind.NOTICE, Msg.SESSION_RESTARTED)
            draft = Draft()
        details = tuple(
            ctx.say(Msg.RENDER_RUNNING, progress=int(job.progress))
            for job in await self.store.active_renders(key)
        )
        if link := await self.identities.task_link(key):
            details = (*details, ctx.say(Msg.TASK_LINK, link=link))
        buttons = (Action.EXPORT, Action.CREDITS) if draft.ready else (Action.CREDITS,)
        await ctx.thread.post(
            ctx.reply(ReplyKind.TIMELINE, summarize(draft), buttons, details=details)
        )

    async def stop(self, ctx: TurnContext) -> None:
        dropped = await self.store.cancel_queued(ctx.key)
        stopped = self._cancel_running(ctx.key)
        stopped = await self.renders.cancel_thread(ctx) or stopped
        if dropped:
            await ctx.post(ReplyKind.NOTICE, Msg.STOPPED_QUEUE, count=dropped)
        elif stopped:
            await ctx.post(ReplyKind.NOTICE, Msg.STOPPED)
        else:
            await ctx.post(ReplyKind.NOTICE, Msg.NOTHING_RUNNING)

    async def upload(self, ctx: TurnContext) -> None:
        accepted = [a for a in ctx.incoming.attachments if await self._acceptable(ctx, a)]
        if not accepted:
            return
        key = ctx.key
        creds = await self.identities.credentials(key)
        session_id, _ = await self.identities.session(key, creds, ctx.incoming)
        lines: list[str] = []
        for attachment in accepted:
            try:
                result = await self.client.upload_stream(
                    creds,
                    session_id,
                    attachment.filename,
                    attachment.size or 0,
                    functools.partial(ctx.thread.open_attachment, attachment, ctx.language),
                )
            except NemoError as exc:  # this file failed; say so, and go on with the next one
                await self.voice.report(ctx, exc)
                continue
            lines.extend(_uploaded_lines(result, attachment))
        if lines:
            await self.identities.fresh_draft(key, creds, session_id)
            await ctx.post(ReplyKind.NOTICE, Msg.UPLOADED, details=tuple(lines))

    async def _acceptable(self, ctx: TurnContext, attachment: Attachment) -> bool:
        try:
            check_upload(attachment.filename, attachment.size)
        except FileRejected as exc:
            await self.voice.report(ctx, exc)
            return False
        if attachment.size is None:
            await ctx.post(ReplyKind.ERROR, Msg.ERR_FILE_SIZE_UNKNOWN, name=attachment.filename)
            return False
        return True

    async def export(self, ctx: TurnContext, version: int | None = None) -> None:
        """Render the current timeline, or version `version` as it was (`export v2`)."""
        key = ctx.key
        if version is not None:
            await self._export_version(ctx, version)
            return
        row = await self.store.get_thread(key)
        if row is None or not row.session_id:
            await ctx.post(ReplyKind.NOTICE, Msg.NOTHING_TO_EXPORT)
            return
        active = await self.store.active_renders(key)
        if active:
            await ctx.post(ReplyKind.STATUS, Msg.RENDER_RUNNING, progress=int(active[0].progress))
            return
        creds = await self.identities.credentials(key)
        draft = await self.identities.fresh_draft(key, creds, row.session_id)
        if not draft.ready:
            await ctx.post(ReplyKind.NOTICE, Msg.NOTHING_TO_EXPORT)
            return
        await self.renders.export(ctx, draft, row.session_id, creds)

    async def _export_version(self, ctx: TurnContext, number: int) -> None:
        stored = await self.workflow.version_for(ctx, number)
        if stored is None:
            return
        if await self.store.active_renders(ctx.key):
            await ctx.post(ReplyKind.STATUS, Msg.RENDER_RUNNING, progress=0)
            return
        creds = await self.identities.credentials(ctx.key)
        draft = Draft.from_json(stored.draft_json)
        await self.renders.export(ctx, draft, stored.session_id, creds, version=stored)


def _uploaded_lines(result: UploadResult, attachment: Attachment) -> list[str]:
    lines = []
    for item in result.files or []:
        duration = f", {item.duration:.1f} s" if item.duration else ""
        size = f", {item.width}x{item.height}" if item.width and item.height else ""
        name = item.filename or attachment.filename
        lines.append(f"{name}: {item.file_type or 'file'}{duration}{size}")
    return lines
