"""Where every message enters: mended, deduplicated, routed, answered at once or queued.

Stop, status, credits and help answer at once (deduplicated by delivery id); everything else
becomes a stored turn first (deduplicated in the same transaction), so nothing acknowledged is
lost, then runs in the thread's order (`TurnQueue`), dispatched by `execute`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import replace
from typing import TypeVar

from core.engine.agent import AgentTurn
from core.engine.answers import Answers
from core.engine.commands import Commands
from core.engine.context import Contexts, TurnContext
from core.engine.directory import ThreadDirectory
from core.engine.limits import QUEUE_LIMIT, Refusals
from core.engine.queue import TurnQueue
from core.engine.tasks import TaskSet
from core.engine.voice import Voice
from core.engine.workflow import Workflow
from core.intents import Intent, classify, export_version
from core.messages import Msg
from core.metrics import Metrics
from core.port import Action, ChatThread, Incoming, NotStored, ReplyKind, ThreadKey
from core.store import Store, TurnRow
from core.store.base import mend

log = logging.getLogger("jupiter.engine")
T = TypeVar("T")

ACTION_INTENT = {
    Action.EXPORT: Intent.EXPORT,
    Action.STATUS: Intent.STATUS,
    Action.CREDITS: Intent.CREDITS,
    Action.RETRY: Intent.RETRY,
}
IMMEDIATE = frozenset(
    {
        Intent.STATUS,
        Intent.CREDITS,
        Intent.HELP,
        Intent.STOP,
        Intent.VERSIONS,
        Intent.VIDEOS,
        Intent.SETTINGS,
        Intent.SET,
        Intent.UNDO,
        Intent.QUIT,
    }
)


def intent_of(incoming: Incoming) -> Intent:
    if incoming.action is not None:
        return ACTION_INTENT[incoming.action]
    return classify(incoming.text, bool(incoming.attachments))


class Intake:
    def __init__(
        self,
        store: Store,
        directory: ThreadDirectory,
        queue: TurnQueue,
        commands: Commands,
        workflow: Workflow,
        agent: AgentTurn,
        voice: Voice,
        tasks: TaskSet,
        metrics: Metrics,
        contexts: Contexts,
        answers: Answers,
        *,
        max_queued: int,
    ) -> None:
        self.store = store
        self.directory = directory
        self.queue = queue
        self.commands = commands
        self.workflow = workflow
        self.agent = agent
        self.voice = voice
        self.tasks = tasks
        self.metrics = metrics
        self.contexts = contexts
        self.answers = answers
        self.max_queued = max_queued
        self.refusals = Refusals()
        self._notices: dict[ThreadKey, str] = {}  # this burst's "queued" message per thread

    async def handle(self, thread: ChatThread, incoming: Incoming) -> None:
        """Take one message. Returns quickly: the work runs on the engine's own tasks.
        Raises `NotStored` when the store refused it (then nothing will answer it)."""
        try:
            await self._take(thread, storable(incoming))
        except _StoreFailed as failed:
            log.error(
                "a message could not be stored: %s",
                failed.cause.__class__.__name__,
                extra={"thread_key": str(thread.key)},
            )
            raise NotStored(str(thread.key)) from failed.cause

    async def _take(self, thread: ChatThread, incoming: Incoming) -> None:
        key = thread.key
        self.directory.remember(thread)
        self.metrics.messages.labels(key.platform).inc()
        ctx = await self.contexts.of(thread, incoming)
        intent = intent_of(incoming)
        if intent in IMMEDIATE or incoming.answer is not None or intent is Intent.RETRY:
            if incoming.event_id and not await _stored(self.store.first_seen(incoming.event_id)):
                return
            resend = incoming.answer is not None or intent is Intent.RETRY
            work = self._resend(ctx) if resend else self.immediate(ctx, intent)
            self.tasks.spawn(self.voice.guard(ctx, work), f"{intent} {key}")
            return
        await self._enqueue(ctx, incoming)

    async def _resend(self, ctx: TurnContext) -> None:
        """A click on a question's choice, or "Try again": the message it stands for (if it
        still stands for one) is queued like a message the user typed."""
        if ctx.incoming.answer is not None:
            follow = await self.answers.clicked(ctx)
        else:
            follow = await self.answers.retry(ctx)
        if follow is not None:
            await self._enqueue(await self.contexts.of(ctx.thread, follow), follow)

    async def _enqueue(self, ctx: TurnContext, incoming: Incoming) -> None:
        key = ctx.key
        busy = self.queue.busy(key)
        waiting = 0
        if busy:
            waiting = await _stored(self.store.waiting_count(key))
            if waiting >= self.max_queued:
                await self._refuse_full(ctx)
                return
        else:  # the queue drained: a new burst begins, for the notice and for refusals
            self._notices.pop(key, None)
            self.refusals.end(key, QUEUE_LIMIT)
        turn_id = await _stored(self.store.enqueue_turn(key, incoming))
        if turn_id is None:
            log.info("duplicate delivery ignored", extra={"thread_key": str(key)})
            return
        if self.queue.wake(key):  # (the worker seen above may have stopped meanwhile)
            return
        self.metrics.queued.inc()
        self.tasks.spawn(self.voice.guard(ctx, self._tell_queued(ctx, turn_id)), f"queued {key}")

    async def _refuse_full(self, ctx: TurnContext) -> None:
        """Past the thread's queue limit: not stored, not charged; a flood hears it in one
        message, which counts the refused messages."""
        if ctx.incoming.event_id and not await _stored(
            self.store.first_seen(ctx.incoming.event_id)
        ):
            return
        self.metrics.refused.labels("queue").inc()
        reply = ctx.reply(ReplyKind.ERROR, ctx.say(Msg.LIMIT_QUEUE, limit=self.max_queued))
        notice = self.refusals.refuse(ctx, QUEUE_LIMIT, reply)
        self.tasks.spawn(self.voice.guard(ctx, notice), f"refused {ctx.key}")

    async def _tell_queued(self, ctx: TurnContext, turn_id: int) -> None:
        """Where the message stands and about how long: one message per burst, kept current.
        The turns ahead are counted by the store in one read, the one under way included."""
        ahead = await self.store.turns_ahead(ctx.key, turn_id)
        if not ahead:
            return  # the turns before it finished meanwhile: it is under way, not waiting
        eta = self.queue.estimate(ahead, ctx.language)
        notice = self._notices.get(ctx.key)
        if notice is None:
            self._notices[ctx.key] = await ctx.post(
                ReplyKind.NOTICE, Msg.QUEUED, ahead=ahead, eta=eta
            )
            return
        text = ctx.say(Msg.QUEUED_WAITING, waiting=ahead, eta=eta)
        try:
            await ctx.thread.update(notice, ctx.reply(ReplyKind.NOTICE, text))
        except Exception:
            self._notices[ctx.key] = await ctx.thread.post(ctx.reply(ReplyKind.NOTICE, text))

    async def immediate(self, ctx: TurnContext, intent: Intent) -> None:
        handlers = {
            Intent.STOP: self.commands.stop,
            Intent.HELP: self.commands.help,
            Intent.CREDITS: self.commands.credits,
            Intent.STATUS: self.commands.status,
            Intent.VERSIONS: self.workflow.versions,
            Intent.VIDEOS: self.workflow.videos,
            Intent.SETTINGS: self.workflow.settings,
            Intent.SET: self.workflow.set,
            Intent.UNDO: self.workflow.undo,
            Intent.QUIT: self.workflow.quit,
        }
        await handlers[intent](ctx)

    async def execute(self, ctx: TurnContext, turn: TurnRow) -> None:
        """Run one stored turn: a file's upload first, then the text that came with it."""
        intent = intent_of(ctx.incoming)
        if intent is not Intent.UPLOAD:
            await self._run(ctx, intent, ctx.incoming.text)
            return
        await self.commands.upload(ctx)
        rest = ctx.incoming.text.strip()
        if rest and (then := classify(rest)) is not Intent.UPLOAD:
            await self._run(ctx, then, rest)

    async def _run(self, ctx: TurnContext, intent: Intent, text: str) -> None:
        if intent is Intent.EXPORT:
            await self.commands.export(ctx, export_version(text))
        elif intent is Intent.NEW:
            await self.store.close_questions(ctx.key)
            await self.workflow.new(ctx)
        elif intent in IMMEDIATE - {Intent.STOP}:
            await self.immediate(ctx, intent)
        elif (answer := await self.answers.typed(ctx, text)) is not None:
            await self.agent.run(ctx, answer)


class _StoreFailed(Exception):
    def __init__(self, cause: Exception) -> None:
        super().__init__(cause.__class__.__name__)
        self.cause = cause


async def _stored(write: Awaitable[T]) -> T:
    """The store write that decides whether a message is kept; its failure is `NotStored`."""
    try:
        return await write
    except Exception as exc:
        raise _StoreFailed(exc) from exc


def storable(incoming: Incoming) -> Incoming:
    """The message with what no store keeps mended (see `core.store.base.mend`)."""
    names = [a.filename for a in incoming.attachments]
    if mend(incoming.text) == incoming.text and all(mend(n) == n for n in names):
        return incoming
    files = tuple(replace(a, filename=mend(a.filename)) for a in incoming.attachments)
    return replace(incoming, text=mend(incoming.text), attachments=files)
