"""One agent turn: open the stream, relay the agent's words, beat the heartbeat, then say
what happened (`compose_reply`) and do what the agent's GUI talk asked for.

The status message posted first ("Connecting...") is edited by every heartbeat and finally
into the answer; if the platform refuses that edit the answer is posted instead, because an
answer must never be lost to a message that cannot be edited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from core.client import Credentials, NemoClient
from core.engine.answers import Answers, new_question_id
from core.engine.context import TurnContext
from core.engine.identity import Identities, Minted
from core.engine.limits import EDIT_COST, GENERATION_COST, Spending, UserSlots
from core.engine.lost import watch_lost_turn
from core.engine.relay import Relay
from core.engine.reply import BUTTONS, TurnOutcome, announces_export, compose_reply, next_steps
from core.engine.workflow import Workflow, describe_defaults, prompt_with_defaults
from core.errors import (
    BackendUnavailable,
    NemoError,
    RateLimited,
    SessionNotFound,
    StreamInterrupted,
)
from core.gui import GuiAction, translate
from core.messages import Msg
from core.models import Draft, QuestionEvent, TextEvent, ToolCallEvent, ToolResultEvent
from core.pacing import Lane, Pacer
from core.port import Action, Incoming, Reply, ReplyKind
from core.redact import chat_safe
from core.store import Store
from core.timeline import describe_changes, summarize

log = logging.getLogger("jupiter.engine")

GUI_USER = "jupiter:gui"  # the author of edits Jupiter sends itself when the agent says "drag"
Actions = list[tuple[GuiAction, str]]


def elapsed_words(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


@dataclass
class Heard:
    """What one turn's stream said besides the words the relay shows, and where it runs (a
    lost session is replaced mid-turn, so the session travels with it)."""

    relay: Relay
    session_id: str
    before: Draft
    original: str  # the user's message as they wrote it: what "Try again" re-sends
    actions: Actions = field(default_factory=list)
    questions: list[QuestionEvent] = field(default_factory=list)
    stage: str | None = None  # what the status message says the turn is at, with its beats
    stages: int = 0  # how many times the status message showed a new stage
    staged: float | None = None  # when a stage not shown yet was reached (held like words)
    started: float = 0.0  # when the heartbeats' cadence began (monotonic), set as it begins
    beats: int = 0  # heartbeats sent
    # a new session's link, minted while the turn streams rather than in the answer's way
    mint: bool = False
    ahead: asyncio.Task[Minted | None] | None = None
    minting: bool = False  # the link ahead is on its way (no longer waiting for spare time)

    @property
    def moves(self) -> int:
        """The chat calls the turn made besides its heartbeats: words posted, stages shown."""
        return self.relay.posted + self.stages


class AgentTurn:
    def __init__(
        self,
        client: NemoClient,
        store: Store,
        identities: Identities,
        *,
        heartbeat_seconds: float,
        export: Callable[[TurnContext], Awaitable[None]],
        workflow: Workflow,
        spending: Spending,
        slots: UserSlots,
        answers: Answers,
        recovery_seconds: float = 30.0,
        pacer: Pacer | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.identities = identities
        self.heartbeat_seconds = heartbeat_seconds
        self._export = export
        self.workflow = workflow
        self.spending = spending
        self.slots = slots
        self.answers = answers
        self.recovery_seconds = recovery_seconds
        self.pacer = pacer or Pacer()

    async def run(self, ctx: TurnContext, text: str) -> None:
        """One charged turn: refused before anything is sent when it would exceed a budget
        (the daily budget even before "Connecting...", so a burst of refusals is one message),
        and waiting while the user already runs their share of turns elsewhere. The start and
        the end are paced (oldest turn first when the loop is behind); the wait for the user's
        slot and the stream are not."""
        async with self.pacer.hold():
            started = await self._start(ctx, text)
        if started is None:
            return
        creds, status_id, heard, text, cost = started
        try:
            async with self.slots.slot(ctx.key, ctx.user):
                await self._converse(ctx, creds, status_id, heard, text, cost)
        finally:
            if heard.ahead is not None:
                heard.ahead.cancel()

    async def _start(
        self, ctx: TurnContext, text: str
    ) -> tuple[Credentials, str, Heard, str, int] | None:
        """Up to the stream: the budgets, "Connecting...", the session; None when refused."""
        stored, before = await self.identities.stored_session(ctx.key)
        generation = not before.ready  # nothing made yet in this session (or none yet): new video
        cost = GENERATION_COST if generation else EDIT_COST
        if not await self.spending.within_budget(ctx, cost):
            return None
        status_id = await ctx.post(ReplyKind.STATUS, Msg.CONNECTING)
        creds = await self.identities.credentials(ctx.key)
        session_id = stored or await self.identities.new_session(ctx.key, creds, ctx.incoming)
        refusal = await self.spending.balance_refusal(ctx, creds, cost, generation)
        if refusal is not None:
            await self._replace(ctx, status_id, refusal)
            return None
        relay = Relay(ctx.thread, hold=min(self.heartbeat_seconds / 2, 2.0), language=ctx.language)
        heard = Heard(relay, session_id, before, text)
        heard.mint = stored is None
        if generation and not ctx.defaults.empty:
            text = prompt_with_defaults(text, ctx.defaults)
            await ctx.post(
                ReplyKind.NOTICE, Msg.USING_DEFAULTS, values=describe_defaults(ctx.defaults)
            )
        return creds, status_id, heard, text, cost

    async def _converse(
        self,
        ctx: TurnContext,
        creds: Credentials,
        status_id: str,
        heard: Heard,
        text: str,
        cost: int,
    ) -> None:
        """Stream the turn (a lost stream is watched, never re-sent), then say what happened."""
        heard.started = time.monotonic()
        beat = asyncio.create_task(self._heartbeat(ctx, status_id, heard))
        lost, recovered = False, None
        try:
            async with self.pacer.hold():
                with contextlib.suppress(Exception):
                    await ctx.thread.set_busy(ctx.say(Msg.BUSY))
                await self.spending.record(ctx, cost)
            try:
                await self._talk(ctx, creds, status_id, text, heard)
            except StreamInterrupted:
                lost = True
                recovered = await self._recover(ctx, creds, status_id, heard)
        finally:
            beat.cancel()
            with contextlib.suppress(Exception):
                await ctx.thread.set_busy(None)
        if lost and recovered is None:
            await self.store.put_retry(ctx.key, heard.original, ctx.user)
            failed = Reply(
                ReplyKind.ERROR, ctx.say(Msg.LOST_FAILED), (Action.RETRY,), language=ctx.language
            )
            if heard.relay.texts:  # below the agent's words, where the reader is
                await ctx.thread.post(failed)
            else:
                await self._replace(ctx, status_id, failed)
            return
        async with self.pacer.hold():
            outcome = await self._outcome(ctx, creds, heard, recovered)
            if outcome.question is not None and outcome.question_id is not None:
                await self.answers.remember(ctx, outcome.question_id, outcome.question, status_id)
            message_id = await self._replace(ctx, status_id, compose_reply(outcome))
        if outcome.question is not None:
            if message_id != status_id and outcome.question_id is not None:
                await self.store.move_question(outcome.question_id, message_id)
            return  # the turn awaits an answer: nothing the agent said to do is followed
        await self._follow_gui(ctx, heard.actions, announced=announces_export(outcome))

    async def _talk(
        self, ctx: TurnContext, creds: Credentials, status_id: str, text: str, heard: Heard
    ) -> None:
        try:
            await self._stream(ctx, creds, status_id, text, heard)
        except SessionNotFound:
            heard.session_id = await self.identities.new_session(ctx.key, creds, ctx.incoming)
            heard.before = Draft()
            await ctx.post(ReplyKind.NOTICE, Msg.SESSION_RESTARTED)
            await self._stream(ctx, creds, status_id, text, heard)

    async def _recover(
        self, ctx: TurnContext, creds: Credentials, status_id: str, heard: Heard
    ) -> Draft | None:
        await heard.relay.flush()
        await self._set_stage(ctx, status_id, heard, Msg.LOST_CHECKING)
        return await watch_lost_turn(
            self.identities,
            ctx.key,
            creds,
            heard.session_id,
            heard.before,
            self.recovery_seconds,
        )

    async def _outcome(
        self, ctx: TurnContext, creds: Credentials, heard: Heard, recovered: Draft | None
    ) -> TurnOutcome:
        """What happened, with the question asked and the link at a conversation's start."""
        told = await self._told(ctx, creds, heard, recovered)
        question = heard.questions[-1] if heard.questions else None
        return replace(
            told,
            question=question,
            question_id=new_question_id() if question is not None else None,
            link=await self.identities.task_link(
                ctx.key, only_new=True, ahead=await self._ahead(heard)
            ),
        )

    async def _told(
        self, ctx: TurnContext, creds: Credentials, heard: Heard, recovered: Draft | None
    ) -> TurnOutcome:
        """The words and the timeline; a recovered lost turn is told like one without words."""
        relay = heard.relay
        gui = frozenset(action for action, _ in heard.actions)
        if recovered is not None:
            after, final, spoke = recovered, None, False
        else:
            final, spoke = relay.final, bool(relay.texts)
            try:
                after = await self.identities.fresh_draft(ctx.key, creds, heard.session_id)
            except (BackendUnavailable, RateLimited):
                if not relay.texts and not heard.questions:
                    raise
                # The agent has answered: its words must not be lost to a failed timeline read.
                return TurnOutcome(ctx.language, final, True, gui, None)
        changes = tuple(describe_changes(heard.before, after))
        await self.workflow.record(ctx, heard.session_id, after, ctx.incoming.text, list(changes))
        return TurnOutcome(
            ctx.language,
            final,
            spoke,
            gui,
            summarize(after),
            changes,
            next_steps=next_steps(after),
        )

    async def _replace(self, ctx: TurnContext, message_id: str, reply: Reply) -> str:
        """Edit the status message into `reply`; returns the id the reply ended up in."""
        try:
            await ctx.thread.update(message_id, reply)
            return message_id
        except Exception:
            log.warning("edit failed, posting instead", extra={"thread_key": str(ctx.key)})
            return await ctx.thread.post(reply)

    async def _stream(
        self, ctx: TurnContext, creds: Credentials, status_id: str, text: str, heard: Heard
    ) -> None:
        """Relay one turn's words; GUI talk becomes `heard.actions`, a question
        `heard.questions`. Words that came before a failure are shown before the failure is."""
        relay = heard.relay
        try:
            async for event in self.client.run_turn(creds, heard.session_id, text):
                if heard.mint and heard.ahead is None:  # the stream is open: the backend idles
                    heard.ahead = asyncio.create_task(self._mint_ahead(ctx, heard))
                if isinstance(event, TextEvent):
                    translated = translate(chat_safe(event.text))
                    heard.actions.extend(translated.actions)
                    if translated.text:
                        await relay.add(translated.text)
                elif isinstance(event, QuestionEvent):
                    heard.questions.append(event)
                elif isinstance(event, ToolCallEvent | ToolResultEvent):
                    log.debug("tool event", extra={"tool": event.name, "thread_key": str(ctx.key)})
                    await self._stage(ctx, heard, event)
                await relay.tick()
                await self._show_stage(ctx, status_id, heard)
        except NemoError:
            await relay.flush()
            raise

    async def _mint_ahead(self, ctx: TurnContext, heard: Heard) -> Minted | None:
        """The link, in the loop's spare time: a burst's starts go first (`Lane.SPARE`)."""
        async with self.pacer.hold(lane=Lane.SPARE):
            heard.minting = True
            return await self.identities.claim_ahead(ctx.key)

    async def _ahead(self, heard: Heard) -> Minted | None:
        """The link minted ahead, waited for once on its way; one still waiting for spare time
        is called off (the answer mints its own), since the answer holds the pacer meanwhile."""
        if heard.ahead is None:
            return None
        if not heard.minting:
            heard.ahead.cancel()
            return None
        return await heard.ahead

    async def _stage(
        self, ctx: TurnContext, heard: Heard, event: ToolCallEvent | ToolResultEvent
    ) -> None:
        """The two stages of a generation: once the agent's first words announced the video
        and the raw video is made, the backend adds music, a title and effects on its own.
        The stage is held like the agent's words: one the answer follows at once is never
        shown (the answer replaces it), one that lasts is shown after the hold."""
        if heard.stage or heard.before.ready or not heard.relay.texts:
            return
        if isinstance(event, ToolResultEvent):
            await heard.relay.flush()
            heard.stage, heard.staged = ctx.say(Msg.STAGE_EXTRAS), time.monotonic()

    async def _show_stage(self, ctx: TurnContext, status_id: str, heard: Heard) -> None:
        """A held stage once its hold is over, if this interval has a chat call left (else the
        next heartbeat shows it)."""
        if heard.staged is None or time.monotonic() - heard.staged < heard.relay.hold:
            return
        if self._call_left(heard):
            await self._set_stage(ctx, status_id, heard, Msg.STAGE_EXTRAS)

    def _intervals(self, heard: Heard) -> int:
        """Whole heartbeat intervals since the turn began (timers may fire a hair early)."""
        return int((time.monotonic() - heard.started) / self.heartbeat_seconds + 0.01)

    def _call_left(self, heard: Heard) -> bool:
        """Whether the turn may make a chat call besides its first and last: one per whole
        interval elapsed, words, stages and beats alike."""
        return heard.moves + heard.beats < self._intervals(heard)

    async def _set_stage(self, ctx: TurnContext, status_id: str, heard: Heard, key: Msg) -> None:
        """The status message says where the turn is (and keeps saying it with each beat)."""
        heard.stage, heard.staged = ctx.say(key), None
        # counted as it goes out, like words and beats: a heartbeat due while a slow edit is
        # on its way must see this interval's call spent
        heard.stages += 1
        with contextlib.suppress(Exception):
            await ctx.thread.update(
                status_id, Reply(ReplyKind.STATUS, heard.stage, language=ctx.language)
            )

    async def _heartbeat(self, ctx: TurnContext, status_id: str, heard: Heard) -> None:
        # A fixed cadence from the start of the turn: a slow chat API call or a busy loop delays
        # one heartbeat, not every one after it. The thread moving anyway (the agent's words
        # posted, a new stage shown) stands in for a beat: a turn makes at most one chat call
        # per interval besides its first and last; yet the thread never stays still for two
        # intervals running (a flood of words early does not silence the beats after it).
        interval = self.heartbeat_seconds
        due = heard.started + interval
        moves = moved = 0  # the moves seen so far, and the interval in which the last came
        while True:
            await asyncio.sleep(max(due - time.monotonic(), 0))
            due = max(due + interval, time.monotonic() + interval / 2)
            # whole intervals elapsed, not wake-ups: a late wake-up moves the next one closer
            intervals = self._intervals(heard)
            if heard.moves != moves:
                moves, moved = heard.moves, intervals
            if not self._call_left(heard) and intervals - moved <= 1:
                continue
            heard.beats += 1
            text = ctx.say(Msg.WORKING, elapsed=elapsed_words(time.monotonic() - heard.started))
            text = f"{heard.stage}\n{text}" if heard.stage else text
            try:
                await ctx.thread.update(
                    status_id, Reply(ReplyKind.STATUS, text, language=ctx.language)
                )
                heard.staged = None  # the beat showed the stage too
                await ctx.thread.set_busy(ctx.say(Msg.BUSY))
            except Exception:
                log.warning("heartbeat post failed", extra={"thread_key": str(ctx.key)})

    async def _follow_gui(self, ctx: TurnContext, actions: Actions, *, announced: bool) -> None:
        """Do what the agent's GUI talk asked for. One export per turn, said out loud: the
        user's own `export` after it finds that render (running, or its same video)."""
        done: set[GuiAction] = set()
        for action, argument in actions:
            if action is GuiAction.EXPORT and action not in done:
                done.add(action)
                if not announced:
                    await ctx.post(ReplyKind.NOTICE, Msg.GUI_EXPORT)
                await self._export(ctx)
            elif action is GuiAction.EDIT and ctx.user != GUI_USER:
                # Sent once on the user's behalf; a follow-up that draws more GUI talk is not
                # followed again (each turn costs credits).
                await ctx.post(ReplyKind.NOTICE, Msg.GUI_EDIT, text=argument)
                follow = Incoming(argument, user=GUI_USER, locale=ctx.incoming.locale)
                await self.store.enqueue_turn(ctx.key, follow)
            # SHOW_STATE: the summary is already part of the final reply.


__all__ = ["BUTTONS", "GUI_USER", "AgentTurn"]
