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

from core.client import Credentials, NemoClient
from core.engine.context import TurnContext
from core.engine.identity import Identities
from core.engine.limits import EDIT_COST, GENERATION_COST, Spending, UserSlots
from core.engine.relay import Relay
from core.engine.reply import BUTTONS, TurnOutcome, announces_export, compose_reply
from core.engine.workflow import Workflow, describe_defaults, prompt_with_defaults
from core.errors import BackendUnavailable, NemoError, RateLimited, SessionNotFound
from core.gui import GuiAction, translate
from core.messages import Msg
from core.models import Draft, TextEvent, ToolCallEvent
from core.port import Incoming, Reply, ReplyKind
from core.redact import chat_safe
from core.store import Store
from core.timeline import describe_changes, summarize

log = logging.getLogger("jupiter.engine")

GUI_USER = "jupiter:gui"  # the author of edits Jupiter sends itself when the agent says "drag"
Actions = list[tuple[GuiAction, str]]


def elapsed_words(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


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
    ) -> None:
        self.client = client
        self.store = store
        self.identities = identities
        self.heartbeat_seconds = heartbeat_seconds
        self._export = export
        self.workflow = workflow
        self.spending = spending
        self.slots = slots

    async def run(self, ctx: TurnContext, text: str) -> None:
        """One charged turn: refused before anything is sent when it would exceed a budget,
        and waiting while the user already runs their share of turns elsewhere."""
        status_id = await ctx.post(ReplyKind.STATUS, Msg.CONNECTING)
        creds = await self.identities.credentials(ctx.key)
        session_id, before = await self.identities.session(ctx.key, creds, ctx.incoming)
        generation = not before.ready  # nothing made yet in this session: a new video
        cost = GENERATION_COST if generation else EDIT_COST
        refusal = await self.spending.refusal(ctx, creds, cost, generation)
        if refusal is not None:
            await self._replace(ctx, status_id, refusal)
            return
        if generation and not ctx.defaults.empty:
            text = prompt_with_defaults(text, ctx.defaults)
            await ctx.post(
                ReplyKind.NOTICE, Msg.USING_DEFAULTS, values=describe_defaults(ctx.defaults)
            )
        async with self.slots.slot(ctx.key, ctx.user):
            await self._converse(ctx, creds, status_id, session_id, before, text, cost)

    async def _converse(
        self,
        ctx: TurnContext,
        creds: Credentials,
        status_id: str,
        session_id: str,
        before: Draft,
        text: str,
        cost: int,
    ) -> None:
        relay = Relay(ctx.thread, hold=min(self.heartbeat_seconds / 2, 2.0), language=ctx.language)
        actions: Actions = []
        beat = asyncio.create_task(self._heartbeat(ctx, status_id, time.monotonic()))
        try:
            with contextlib.suppress(Exception):
                await ctx.thread.set_busy(ctx.say(Msg.BUSY))
            await self.spending.record(ctx, cost)
            try:
                await self._stream(ctx, creds, session_id, text, relay, actions)
            except SessionNotFound:
                session_id = await self.identities.new_session(ctx.key, creds, ctx.incoming)
                before = Draft()
                await ctx.post(ReplyKind.NOTICE, Msg.SESSION_RESTARTED)
                await self._stream(ctx, creds, session_id, text, relay, actions)
        finally:
            beat.cancel()
            with contextlib.suppress(Exception):
                await ctx.thread.set_busy(None)
        outcome = await self._outcome(ctx, creds, session_id, before, relay, actions)
        await self._replace(ctx, status_id, compose_reply(outcome))
        await self._follow_gui(ctx, actions, announced=announces_export(outcome))

    async def _outcome(
        self,
        ctx: TurnContext,
        creds: Credentials,
        session_id: str,
        before: Draft,
        relay: Relay,
        actions: Actions,
    ) -> TurnOutcome:
        gui = frozenset(action for action, _ in actions)
        try:
            after = await self.identities.fresh_draft(ctx.key, creds, session_id)
        except (BackendUnavailable, RateLimited):
            if not relay.texts:
                raise
            # The agent has answered: its words must not be lost to a failed timeline read.
            return TurnOutcome(ctx.language, relay.final, True, gui, None)
        changes = tuple(describe_changes(before, after))
        await self.workflow.record(ctx, session_id, after, ctx.incoming.text, list(changes))
        return TurnOutcome(
            ctx.language, relay.final, bool(relay.texts), gui, summarize(after), changes
        )

    async def _replace(self, ctx: TurnContext, message_id: str, reply: Reply) -> None:
        try:
            await ctx.thread.update(message_id, reply)
        except Exception:
            log.warning("edit failed, posting instead", extra={"thread_key": str(ctx.key)})
            await ctx.thread.post(reply)

    async def _stream(
        self,
        ctx: TurnContext,
        creds: Credentials,
        session_id: str,
        text: str,
        relay: Relay,
        actions: Actions,
    ) -> None:
        """Relay one turn's words; GUI talk becomes `actions`. Words that came before a
        failure are shown before the failure is."""
        try:
            async for event in self.client.run_turn(creds, session_id, text):
                if isinstance(event, TextEvent):
                    translated = translate(chat_safe(event.text))
                    actions.extend(translated.actions)
                    if translated.text:
                        await relay.add(translated.text)
                elif isinstance(event, ToolCallEvent):
                    log.debug("tool call", extra={"tool": event.name, "thread_key": str(ctx.key)})
                await relay.tick()
        except NemoError:
            await relay.flush()
            raise

    async def _heartbeat(self, ctx: TurnContext, status_id: str, started: float) -> None:
        # A fixed cadence from the start of the turn: a slow chat API call or a busy loop delays
        # one heartbeat, not every one after it.
        interval = self.heartbeat_seconds
        due = started + interval
        while True:
            await asyncio.sleep(max(due - time.monotonic(), 0))
            due = max(due + interval, time.monotonic() + interval / 2)
            text = ctx.say(Msg.WORKING, elapsed=elapsed_words(time.monotonic() - started))
            try:
                await ctx.thread.update(
                    status_id, Reply(ReplyKind.STATUS, text, language=ctx.language)
                )
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
