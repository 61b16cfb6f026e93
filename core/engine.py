"""The conversation engine: given "a message arrived in thread T", do the right thing, say it
well, and survive restarts.

What must hold:
- One turn at a time per thread (a lease in the store, so also across replicas). Later messages
  are persisted as queued turns and run in order: never sent twice, never dropped.
- Status, credits and help answer at once, even while a turn runs; stop cancels what runs.
- A turn that was running when the process died is reported as interrupted, not re-sent (the
  backend charges per turn). A queued turn that never started runs after the restart.
- A render's link is posted exactly once: the job is persisted, polled under a lease, and the
  post happens only after the store's conditional `mark_posted` succeeds.
- Every failure becomes a friendly reply in the thread; the thread stays usable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from core.client import Credentials, NemoClient, new_client_id
from core.errors import (
    BackendUnavailable,
    FileRejected,
    NemoError,
    OutOfCredits,
    RateLimited,
    SessionNotFound,
    TurnFailed,
)
from core.explain import explain
from core.files import check_upload
from core.gui import GuiAction, translate
from core.intents import Intent, classify, is_chinese
from core.language import session_language
from core.messages import say
from core.metrics import Metrics
from core.models import Draft, TextEvent, ToolCallEvent
from core.port import (
    Action,
    Attachment,
    ChatThread,
    Incoming,
    Reply,
    ReplyKind,
    ThreadKey,
    ThreadResolver,
)
from core.redact import chat_safe
from core.renders import Renders
from core.store import Store, TenantRow, TurnRow, TurnStatus
from core.timeline import describe_changes, summarize

log = logging.getLogger("jupiter.engine")

BUTTONS = (Action.EXPORT, Action.STATUS, Action.CREDITS)
_ACTION_INTENT = {
    Action.EXPORT: Intent.EXPORT,
    Action.STATUS: Intent.STATUS,
    Action.CREDITS: Intent.CREDITS,
}
_IMMEDIATE = {Intent.STATUS, Intent.CREDITS, Intent.HELP}
GUI_USER = "jupiter:gui"  # the author of edits Jupiter sends itself when the agent says "drag"


@dataclass(frozen=True)
class EngineConfig:
    heartbeat_seconds: float = 120.0
    render_poll_seconds: float = 30.0
    render_timeout_seconds: float = 300.0
    lease_seconds: float = 60.0
    language: str = "en"
    nemo_token: str | None = None


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


class Engine:
    def __init__(
        self,
        client: NemoClient,
        store: Store,
        config: EngineConfig | None = None,
        metrics: Metrics | None = None,
        owner: str | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.config = config or EngineConfig()
        self.metrics = metrics or Metrics()
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._resolvers: dict[str, ThreadResolver] = {}
        self._threads: dict[ThreadKey, ChatThread] = {}
        self._workers: dict[ThreadKey, asyncio.Task[None]] = {}
        self._running: dict[ThreadKey, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._creds: dict[tuple[str, str], Credentials] = {}
        self._creds_lock = asyncio.Lock()
        self._supervisor: asyncio.Task[None] | None = None
        self.renders = Renders(
            client,
            store,
            self.metrics,
            owner=self.owner,
            poll_seconds=self.config.render_poll_seconds,
            timeout_seconds=self.config.render_timeout_seconds,
            lease_seconds=self.config.lease_seconds,
            threads=self._thread,
            credentials=self.credentials,
        )
        self._closing = False
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------

    def register(self, platform: str, resolver: ThreadResolver) -> None:
        """How to reach a thread of `platform` without an incoming message (resumed work)."""
        self._resolvers[platform] = resolver
        if self._started and not self._closing:
            self._spawn(self._recover(platform), f"recover {platform}")

    async def start(self) -> None:
        """Resume what a previous process left: interrupted turns, queued turns, renders."""
        self._started = True
        for platform in list(self._resolvers):
            await self._recover(platform)
        self._supervisor = asyncio.create_task(self._supervise(), name="jupiter-supervisor")

    async def stop(self) -> None:
        self._closing = True
        held = list(self._workers)
        tasks = [self._supervisor, *self._workers.values(), *self._tasks]
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in tasks if t is not None), self.renders.stop(), return_exceptions=True
        )
        for key in held:
            with contextlib.suppress(Exception):
                await self.store.release_thread(key, self.owner)

    async def idle(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until no turn, render or reply is pending (for tests and piped consoles)."""
        async with asyncio.timeout(timeout):
            while True:
                pending = [
                    t
                    for t in (*self._workers.values(), *self._tasks, *self.renders.pending())
                    if not t.done()
                ]
                if not pending:
                    return
                await asyncio.wait(pending)

    async def is_bot_thread(self, key: ThreadKey) -> bool:
        row = await self.store.get_thread(key)
        return row is not None and (row.session_id is not None or key in self._workers)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _thread(self, key: ThreadKey) -> ChatThread | None:
        thread = self._threads.get(key)
        if thread is None and key.platform in self._resolvers:
            thread = self._resolvers[key.platform](key)
            self._threads[key] = thread
        return thread

    # -- entry point -----------------------------------------------------------------------

    async def handle(self, thread: ChatThread, incoming: Incoming) -> None:
        """Take one message. Returns quickly: the work runs on the engine's own tasks."""
        key = thread.key
        incoming = _storable(incoming)
        self._threads[key] = thread
        self.metrics.messages.labels(key.platform).inc()
        intent = self._intent(incoming)
        chinese = is_chinese(incoming.text)
        if intent is Intent.STOP:
            if incoming.event_id and not await self.store.first_seen(incoming.event_id):
                return
            self._spawn(self._guard(thread, chinese, self._stop(thread, chinese)), f"stop {key}")
            return
        if intent in _IMMEDIATE:
            if incoming.event_id and not await self.store.first_seen(incoming.event_id):
                return
            self._spawn(
                self._guard(thread, chinese, self._immediate(thread, intent, incoming)),
                f"{intent} {key}",
            )
            return
        turn_id = await self.store.enqueue_turn(key, incoming)
        if turn_id is None:
            log.info("duplicate delivery ignored", extra={"thread_key": str(key)})
            return
        worker = self._workers.get(key)
        if worker is not None and not worker.done():
            ahead = max(await self.store.queued_count(key) - 1, 0) + 1
            self.metrics.queued.inc()
            self._spawn(
                self._guard(
                    thread,
                    chinese,
                    self._post(
                        thread, Reply(ReplyKind.NOTICE, say("queued", chinese, ahead=ahead))
                    ),
                ),
                f"queued {key}",
            )
            return
        self._start_worker(key)

    def _intent(self, incoming: Incoming) -> Intent:
        if incoming.action is not None:
            return _ACTION_INTENT[incoming.action]
        return classify(incoming.text, bool(incoming.attachments))

    async def _post(self, thread: ChatThread, reply: Reply) -> str:
        return await thread.post(reply)

    async def _guard(self, thread: ChatThread, chinese: bool, work: Awaitable[Any]) -> None:
        """Run `work`; whatever it raises becomes a friendly reply, never a dead task."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except NemoError as exc:
            await self._report(thread, exc, chinese)
        except Exception:
            log.exception("unexpected failure", extra={"thread_key": str(thread.key)})
            with contextlib.suppress(Exception):
                await thread.post(Reply(ReplyKind.ERROR, say("err_internal", chinese)))

    # -- the per-thread worker -------------------------------------------------------------

    def _start_worker(self, key: ThreadKey) -> None:
        if self._closing:
            return
        self._workers[key] = asyncio.create_task(self._work(key), name=f"worker {key}")

    async def _work(self, key: ThreadKey) -> None:
        lease = self.config.lease_seconds
        claimed_at: float | None = None
        try:
            while True:
                # (Re)claim unless the lease is fresh: a turn's renewals keep it alive.
                if claimed_at is None or time.monotonic() - claimed_at > lease / 3:
                    if not await self.store.claim_thread(key, self.owner, lease):
                        return  # another replica runs this thread; the supervisor retries later
                    if claimed_at is None:
                        # Just took the lease and running nothing: a `running` turn here was
                        # left by a process that died. Say so before the next message runs.
                        for stale in await self.store.interrupt_running(key):
                            await self._tell_interrupted(stale)
                    claimed_at = time.monotonic()
                turn = await self.store.next_turn(key)
                if turn is None:
                    if self._workers.get(key) is asyncio.current_task():
                        del self._workers[key]
                    await self.store.release_thread(key, self.owner)
                    return
                if not await self.store.start_turn(turn.id):
                    continue
                await self._run_turn(key, turn)
        finally:
            if self._workers.get(key) is asyncio.current_task():
                del self._workers[key]

    async def _run_turn(self, key: ThreadKey, turn: TurnRow) -> None:
        thread = self._thread(key)
        if thread is None:
            await self.store.finish_turn(turn.id, TurnStatus.FAILED, "no adapter for platform")
            return
        chinese = is_chinese(turn.text)
        task = asyncio.create_task(self._execute(thread, turn), name=f"turn {turn.id}")
        self._running[key] = task
        renew = asyncio.create_task(self._renew_thread(key))
        status, error = TurnStatus.DONE, None
        shutdown = False
        self.metrics.active_turns.inc()
        started = time.monotonic()
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.cancelled():
                # The worker itself is cancelled (shutdown): the turn stays `running`, so the
                # next process reports it as interrupted instead of silently re-sending it.
                shutdown = True
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise
            status = TurnStatus.CANCELLED
        except NemoError as exc:
            status, error = TurnStatus.FAILED, f"{exc.__class__.__name__}: {exc.message}"
            self.metrics.backend_errors.labels(str(exc.code or exc.__class__.__name__)).inc()
            await self._report(thread, exc, chinese)
        except Exception as exc:
            status, error = TurnStatus.FAILED, exc.__class__.__name__
            log.exception("turn failed", extra={"thread_key": str(key), "turn": turn.id})
            with contextlib.suppress(Exception):
                await thread.post(Reply(ReplyKind.ERROR, say("err_internal", chinese)))
        finally:
            renew.cancel()
            self.metrics.active_turns.dec()
            self._running.pop(key, None)
            self.metrics.turn_seconds.observe(time.monotonic() - started)
            if not shutdown:
                self.metrics.turns.labels(status.value).inc()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(self.store.finish_turn(turn.id, status, error))

    async def _renew_thread(self, key: ThreadKey) -> None:
        period = max(self.config.lease_seconds / 3, 0.05)
        while True:
            await asyncio.sleep(period)
            await self.store.claim_thread(key, self.owner, self.config.lease_seconds)

    async def _execute(self, thread: ChatThread, turn: TurnRow) -> None:
        incoming = turn.incoming
        chinese = is_chinese(incoming.text)
        intent = self._intent(incoming)
        if intent is Intent.UPLOAD:
            await self._upload(thread, incoming, chinese)
            rest = incoming.text.strip()
            if rest and classify(rest) is Intent.TURN:
                await self._agent_turn(thread, incoming, rest, chinese)
            elif rest and classify(rest) is not Intent.UPLOAD:
                await self._run_intent(thread, classify(rest), incoming, chinese)
            return
        await self._run_intent(thread, intent, incoming, chinese)

    async def _run_intent(
        self, thread: ChatThread, intent: Intent, incoming: Incoming, chinese: bool
    ) -> None:
        if intent is Intent.EXPORT:
            await self._export(thread, incoming, chinese)
        elif intent in _IMMEDIATE:
            await self._immediate(thread, intent, incoming)
        else:
            await self._agent_turn(thread, incoming, incoming.text, chinese)

    # -- identity and sessions ---------------------------------------------------------------

    async def credentials(self, key: ThreadKey) -> Credentials:
        cache_key = (key.platform, key.tenant)
        async with self._creds_lock:
            creds = self._creds.get(cache_key)
            if creds is not None:
                return creds
            if self.config.nemo_token:
                creds = Credentials("configured", key.platform, self.config.nemo_token, fixed=True)
            else:
                row = await self.store.get_tenant(key.platform, key.tenant)
                if row is None:
                    row = await self.store.create_tenant(
                        TenantRow(key.platform, key.tenant, new_client_id())
                    )
                creds = Credentials(row.client_id, key.platform, row.token, row.user_id)

                async def persist(
                    c: Credentials, platform: str = key.platform, tenant: str = key.tenant
                ) -> None:
                    await self.store.put_tenant(
                        TenantRow(platform, tenant, c.client_id, c.token, c.user_id)
                    )

                creds.on_renew = persist
            self._creds[cache_key] = creds
            return creds

    async def _session(
        self, key: ThreadKey, creds: Credentials, incoming: Incoming
    ) -> tuple[str, Draft]:
        """The thread's backend session (created on first use) and the draft cached after its
        last turn, which a turn that ends without words is compared with."""
        row = await self.store.get_thread(key)
        if row is not None and row.session_id:
            return row.session_id, _draft_from(row.draft_json)
        return await self._new_session(key, creds, incoming), Draft()

    async def _new_session(self, key: ThreadKey, creds: Credentials, incoming: Incoming) -> str:
        language = session_language(incoming.locale, incoming.text, self.config.language)
        info = await self.client.create_session(creds, language)
        await self.store.put_session(key, info.session_id, language)
        return info.session_id

    async def _fresh_draft(self, key: ThreadKey, creds: Credentials, session_id: str) -> Draft:
        state = await self.client.state(creds, session_id)
        await self.store.put_draft(key, json.dumps(state.draft.raw))
        return state.draft

    # -- agent turns -----------------------------------------------------------------------

    async def _agent_turn(
        self, thread: ChatThread, incoming: Incoming, text: str, chinese: bool
    ) -> None:
        key = thread.key
        status_id = await thread.post(Reply(ReplyKind.STATUS, say("connecting", chinese)))
        creds = await self.credentials(key)
        session_id, before = await self._session(key, creds, incoming)
        started = time.monotonic()
        beat = asyncio.create_task(self._heartbeat(thread, status_id, started, chinese))
        relay = _Relay(thread, hold=min(self.config.heartbeat_seconds / 2, 2.0))
        actions: list[tuple[GuiAction, str]] = []
        try:
            with contextlib.suppress(Exception):
                await thread.set_busy(say("busy", chinese))
            try:
                await self._stream(thread, creds, session_id, text, relay, actions)
            except SessionNotFound:
                session_id = await self._new_session(key, creds, incoming)
                before = Draft()
                await thread.post(Reply(ReplyKind.NOTICE, say("session_restarted", chinese)))
                await self._stream(thread, creds, session_id, text, relay, actions)
        finally:
            beat.cancel()
            with contextlib.suppress(Exception):
                await thread.set_busy(None)
        try:
            after = await self._fresh_draft(key, creds, session_id)
        except (BackendUnavailable, RateLimited):
            if not relay.texts:
                raise
            # The agent has answered: its words must not be lost to a failed timeline read.
            last = relay.final if relay.final is not None else say("turn_done", chinese)
            await self._replace(thread, status_id, Reply(ReplyKind.TEXT, last, BUTTONS))
            await self._gui_actions(thread, incoming, actions, chinese)
            return
        summary = summarize(after)
        changes = tuple(describe_changes(before, after))
        gui = {action for action, _ in actions}
        if relay.final is not None:
            reply = Reply(ReplyKind.TEXT, relay.final, BUTTONS, details=(summary,))
        elif relay.texts:  # every word already posted: the status message closes the turn
            reply = Reply(
                ReplyKind.TIMELINE, say("turn_done", chinese), BUTTONS, details=(summary,)
            )
        elif GuiAction.EXPORT in gui:
            reply = Reply(
                ReplyKind.TIMELINE, say("gui_export", chinese), details=(*changes, summary)
            )
        elif gui:
            reply = Reply(
                ReplyKind.TIMELINE, say("gui_show", chinese), BUTTONS, details=(*changes, summary)
            )
        elif changes:
            reply = Reply(
                ReplyKind.TIMELINE,
                say("no_text_changes", chinese),
                BUTTONS,
                details=(*changes, summary),
            )
        else:
            reply = Reply(
                ReplyKind.TIMELINE, say("no_text_same", chinese), BUTTONS, details=(summary,)
            )
        await self._replace(thread, status_id, reply)
        await self._gui_actions(thread, incoming, actions, chinese)

    async def _replace(self, thread: ChatThread, message_id: str, reply: Reply) -> None:
        """Edit the status message into the answer; if the platform refuses the edit, post the
        answer instead: an answer must not be lost to a message that cannot be edited."""
        try:
            await thread.update(message_id, reply)
        except Exception:
            log.warning("edit failed, posting instead", extra={"thread_key": str(thread.key)})
            await thread.post(reply)

    async def _stream(
        self,
        thread: ChatThread,
        creds: Credentials,
        session_id: str,
        text: str,
        relay: _Relay,
        actions: list[tuple[GuiAction, str]],
    ) -> None:
        """Relay one turn's words (see `_Relay`); GUI talk becomes `actions`."""
        try:
            async for event in self.client.run_turn(creds, session_id, text):
                if isinstance(event, TextEvent):
                    await self._add_text(event.text, relay, actions)
                elif isinstance(event, ToolCallEvent):
                    log.debug(
                        "tool call", extra={"tool": event.name, "thread_key": str(thread.key)}
                    )
                await relay.tick()
        except (TurnFailed, OutOfCredits):
            await relay.flush()  # the words that came before the agent's error stay shown
            raise

    async def _add_text(
        self, raw: str, relay: _Relay, actions: list[tuple[GuiAction, str]]
    ) -> None:
        translated = translate(chat_safe(raw))
        actions.extend(translated.actions)
        if translated.text:
            await relay.add(translated.text)

    async def _heartbeat(
        self, thread: ChatThread, status_id: str, started: float, chinese: bool
    ) -> None:
        # A fixed cadence from the start of the turn: a slow chat API call or a busy loop delays
        # one heartbeat, not every one after it.
        interval = self.config.heartbeat_seconds
        due = started + interval
        while True:
            await asyncio.sleep(max(due - time.monotonic(), 0))
            due = max(due + interval, time.monotonic() + interval / 2)
            text = say("working", chinese, elapsed=_elapsed(time.monotonic() - started))
            try:
                await thread.update(status_id, Reply(ReplyKind.STATUS, text))
                await thread.set_busy(say("busy", chinese))
            except Exception:
                log.warning("heartbeat post failed", extra={"thread_key": str(thread.key)})

    async def _gui_actions(
        self,
        thread: ChatThread,
        incoming: Incoming,
        actions: list[tuple[GuiAction, str]],
        chinese: bool,
    ) -> None:
        done: set[GuiAction] = set()
        for action, argument in actions:
            if action is GuiAction.EXPORT and action not in done:
                done.add(action)
                await self._export(thread, incoming, chinese)
            elif action is GuiAction.EDIT and incoming.user != GUI_USER:
                # Sent once on the user's behalf; a follow-up that draws more GUI talk is not
                # followed again (each turn costs credits).
                await thread.post(Reply(ReplyKind.NOTICE, say("gui_edit", chinese, text=argument)))
                follow = Incoming(argument, user=GUI_USER, locale=incoming.locale)
                await self.store.enqueue_turn(thread.key, follow)
            # SHOW_STATE: the summary is already part of the final reply.

    # -- immediate answers -----------------------------------------------------------------

    async def _immediate(self, thread: ChatThread, intent: Intent, incoming: Incoming) -> None:
        chinese = is_chinese(incoming.text)
        if intent is Intent.HELP:
            await thread.post(Reply(ReplyKind.NOTICE, say("help", chinese), BUTTONS))
        elif intent is Intent.CREDITS:
            await self._credits(thread, chinese)
        else:
            await self._status(thread, chinese)

    async def _credits(self, thread: ChatThread, chinese: bool) -> None:
        creds = await self.credentials(thread.key)
        balance = await self.client.balance(creds)
        text = say(
            "credits",
            chinese,
            available=_num(balance.available),
            frozen=_num(balance.frozen),
            total=_num(balance.grand_total),
        )
        details = (say("credits_low", chinese),) if balance.available < 100 else ()
        await thread.post(
            Reply(ReplyKind.CREDITS, text, (Action.STATUS,), balance=balance, details=details)
        )

    async def _status(self, thread: ChatThread, chinese: bool) -> None:
        key = thread.key
        row = await self.store.get_thread(key)
        if row is None or not row.session_id:
            await thread.post(Reply(ReplyKind.TIMELINE, summarize(Draft()), (Action.CREDITS,)))
            return
        creds = await self.credentials(key)
        try:
            draft = await self._fresh_draft(key, creds, row.session_id)
        except SessionNotFound:
            await self.store.put_session(key, None, row.language)
            await thread.post(Reply(ReplyKind.NOTICE, say("session_restarted", chinese)))
            draft = Draft()
        details = tuple(
            say("render_running", chinese, progress=int(job.progress))
            for job in await self.store.active_renders(key)
        )
        buttons = (Action.EXPORT, Action.CREDITS) if draft.ready else (Action.CREDITS,)
        await thread.post(Reply(ReplyKind.TIMELINE, summarize(draft), buttons, details=details))

    async def _stop(self, thread: ChatThread, chinese: bool) -> None:
        key = thread.key
        dropped = await self.store.cancel_queued(key)
        running = self._running.get(key)
        stopped = False
        if running is not None and not running.done():
            running.cancel()
            stopped = True
        stopped = await self.renders.cancel_thread(thread, chinese) or stopped
        if stopped or dropped:
            text = (
                say("stopped_queue", chinese, count=dropped) if dropped else say("stopped", chinese)
            )
        else:
            text = say("nothing_running", chinese)
        await thread.post(Reply(ReplyKind.NOTICE, text))

    # -- uploads -----------------------------------------------------------------------------

    async def _upload(self, thread: ChatThread, incoming: Incoming, chinese: bool) -> None:
        key = thread.key
        creds = await self.credentials(key)
        accepted: list[Attachment] = []
        for attachment in incoming.attachments:
            try:
                check_upload(attachment.filename, attachment.size)
            except FileRejected as exc:
                await self._report(thread, exc, chinese)
                continue
            if attachment.size is None:
                await thread.post(
                    Reply(
                        ReplyKind.ERROR,
                        say("err_file_size_unknown", chinese, name=attachment.filename),
                    )
                )
                continue
            accepted.append(attachment)
        if not accepted:
            return
        session_id, _ = await self._session(key, creds, incoming)
        lines: list[str] = []
        for attachment in accepted:
            size = attachment.size or 0
            try:
                result = await self.client.upload_stream(
                    creds,
                    session_id,
                    attachment.filename,
                    size,
                    functools.partial(thread.open_attachment, attachment),
                )
            except NemoError as exc:  # this file failed; say so, and go on with the next one
                await self._report(thread, exc, chinese)
                continue
            for item in result.files or []:
                duration = f", {item.duration:.1f} s" if item.duration else ""
                size_text = f", {item.width}x{item.height}" if item.width and item.height else ""
                lines.append(
                    f"{item.filename or attachment.filename}: {item.file_type or 'file'}{duration}{size_text}"
                )
        if lines:
            await self._fresh_draft(key, creds, session_id)
            await thread.post(
                Reply(ReplyKind.NOTICE, say("uploaded", chinese), details=tuple(lines))
            )

    # -- exports (the render jobs themselves live in core/renders.py) ----------------------------

    async def _export(self, thread: ChatThread, incoming: Incoming, chinese: bool) -> None:
        key = thread.key
        row = await self.store.get_thread(key)
        if row is None or not row.session_id:
            await thread.post(Reply(ReplyKind.NOTICE, say("nothing_to_export", chinese)))
            return
        active = await self.store.active_renders(key)
        if active:
            await thread.post(
                Reply(
                    ReplyKind.STATUS,
                    say("render_running", chinese, progress=int(active[0].progress)),
                )
            )
            return
        creds = await self.credentials(key)
        draft = await self._fresh_draft(key, creds, row.session_id)
        if not draft.ready:
            await thread.post(Reply(ReplyKind.NOTICE, say("nothing_to_export", chinese)))
            return
        await self.renders.export(thread, draft, row.session_id, creds, row.language, chinese)

    # -- recovery and supervision --------------------------------------------------------------

    async def _recover(self, platform: str) -> None:
        """Tell users about turns a dead process left running; resume queued turns and renders."""
        for turn in await self.store.interrupt_stale_turns(time.time(), platform):
            await self._tell_interrupted(turn)
        await self._resume()

    async def _tell_interrupted(self, turn: TurnRow) -> None:
        thread = self._thread(turn.key)
        if thread is None:
            return
        text = turn.text if len(turn.text) <= 80 else turn.text[:77] + "..."
        notice = Reply(ReplyKind.NOTICE, say("interrupted", is_chinese(turn.text), text=text))
        with contextlib.suppress(Exception):
            await thread.post(notice)

    async def _resume(self) -> None:
        await self.renders.resume(lambda platform: platform in self._resolvers)
        for key in await self.store.threads_with_queued_turns():
            if key.platform in self._resolvers and key not in self._workers:
                self._start_worker(key)

    async def _supervise(self) -> None:
        period = max(min(self.config.lease_seconds / 2, 10.0), 0.05)
        while True:
            await asyncio.sleep(period)
            try:
                for platform in list(self._resolvers):
                    await self._recover(platform)
                for state, count in (await self.store.count_renders()).items():
                    self.metrics.render_jobs.labels(state).set(count)
            except Exception:
                log.exception("supervisor pass failed")

    # -- errors to words -----------------------------------------------------------------------

    async def _report(self, thread: ChatThread, exc: NemoError, chinese: bool) -> None:
        with contextlib.suppress(Exception):
            await thread.post(Reply(ReplyKind.ERROR, await self._explain(thread.key, exc, chinese)))

    async def _explain(self, key: ThreadKey, exc: NemoError, chinese: bool) -> str:
        anonymous = None
        if isinstance(exc, OutOfCredits):
            creds = await self.credentials(key)
            anonymous = None if creds.fixed else creds.user_id
        return explain(
            exc, chinese, fixed_token=bool(self.config.nemo_token), anonymous_user=anonymous
        )


def _unpaired(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _mend(text: str) -> str:
    """Lone UTF-16 surrogates (a JSON escape cut in half) can be neither stored nor sent on:
    pairs are joined, strays become U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _storable(incoming: Incoming) -> Incoming:
    names = [a.filename for a in incoming.attachments]
    if not _unpaired(incoming.text) and not any(_unpaired(name) for name in names):
        return incoming
    files = tuple(replace(a, filename=_mend(a.filename)) for a in incoming.attachments)
    return replace(incoming, text=_mend(incoming.text), attachments=files)


class _Relay:
    """The agent's words during one turn. Each text is held briefly: when another follows, or
    the hold runs out (checked at every stream event, heartbeats included), it is posted as a
    message of its own, so people see the agent's first words while the work goes on. A text
    still held when the stream ends is the answer: it replaces the status message."""

    def __init__(self, thread: ChatThread, hold: float) -> None:
        self._thread = thread
        self._hold = hold
        self.texts: list[str] = []
        self._posted = 0
        self._held_since = 0.0

    @property
    def final(self) -> str | None:
        return self.texts[-1] if self._posted < len(self.texts) else None

    async def add(self, text: str) -> None:
        await self.flush()
        self.texts.append(text)
        self._held_since = time.monotonic()

    async def tick(self) -> None:
        if self._posted < len(self.texts) and time.monotonic() - self._held_since >= self._hold:
            await self.flush()

    async def flush(self) -> None:
        while self._posted < len(self.texts):
            text = self.texts[self._posted]
            self._posted += 1
            await self._thread.post(Reply(ReplyKind.TEXT, text))


def _draft_from(draft_json: str | None) -> Draft:
    """The draft cached after the thread's last turn (what a no-text turn is compared with)."""
    if not draft_json:
        return Draft()
    try:
        return Draft.model_validate(json.loads(draft_json))
    except ValueError:
        return Draft()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
