"""One turn at a time per thread, in order, across replicas.

A thread's worker holds the thread's lease in the store while it runs the queued turns one by
one; a second replica finds the lease taken and leaves the thread alone. A turn is marked
`running` before it starts and finished after: when the process dies in between, the next
owner reports it as interrupted instead of re-sending it (the backend charges per turn).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from core.engine.context import Contexts, TurnContext
from core.engine.directory import ThreadDirectory
from core.engine.tasks import TaskSet
from core.engine.voice import Voice
from core.errors import NemoError
from core.messages import Msg, say
from core.metrics import Metrics
from core.pacing import ARRIVED, Pacer
from core.port import ThreadKey
from core.store import Store, TurnRow, TurnStatus

log = logging.getLogger("jupiter.engine")

Execute = Callable[[TurnContext, TurnRow], Coroutine[Any, Any, None]]
Interrupted = Callable[[TurnRow], Awaitable[None]]
FIRST_ESTIMATE_SECONDS = 60.0  # before any turn was measured (edits 10-30 s, generations more)


class TurnQueue:
    def __init__(
        self,
        store: Store,
        directory: ThreadDirectory,
        voice: Voice,
        metrics: Metrics,
        *,
        owner: str,
        lease_seconds: float,
        execute: Execute,
        interrupted: Interrupted,
        contexts: Contexts,
        pacer: Pacer,
    ) -> None:
        self.store = store
        self.directory = directory
        self.voice = voice
        self.metrics = metrics
        self.owner = owner
        self.lease = lease_seconds
        self._execute = execute
        self._interrupted = interrupted
        self.contexts = contexts
        self.pacer = pacer  # a burst's claims and starts in batches, as its intake (core.pacing)
        self.workers = TaskSet()
        self._running: dict[ThreadKey, asyncio.Task[None]] = {}
        self.typical_seconds = FIRST_ESTIMATE_SECONDS  # a moving average of turn durations
        self.unfinished: set[int] = set()  # turns whose outcome the store has not taken yet
        self._poked: set[ThreadKey] = set()  # messages queued since the worker last looked

    def estimate(self, turns: int, language: str) -> str:
        """About how long `turns` turns take, in words, from the turns measured so far."""
        minutes = round(turns * self.typical_seconds / 60)
        if minutes < 1:
            return say(Msg.ETA_SOON, language)
        return say(Msg.ETA_MINUTES, language, minutes=minutes)

    def busy(self, key: ThreadKey) -> bool:
        return self.workers.get(key) is not None

    def start(self, key: ThreadKey) -> None:
        self.workers.spawn_keyed(key, self._work(key), f"worker {key}")

    def wake(self, key: ThreadKey) -> bool:
        """A message was queued: its thread's worker looks again before it stops (it may have
        looked already), or one starts. True when one started (the message does not wait)."""
        if self.busy(key):
            self._poked.add(key)
            return False
        self.start(key)
        return True

    def cancel_running(self, key: ThreadKey) -> bool:
        running = self._running.get(key)
        if running is None or running.done():
            return False
        running.cancel()
        return True

    async def stop(self) -> None:
        """Cancel the workers; their turns stay `running`, so the next process reports them as
        interrupted instead of silently re-sending them. Leases are handed back at once."""
        held = self.workers.live_keys()
        await self.workers.stop()
        for key in held:
            with contextlib.suppress(Exception):
                await self.store.release_thread(key, self.owner)  # type: ignore[arg-type]

    async def _work(self, key: ThreadKey) -> None:
        try:
            await self._serve(key)
        finally:
            self._poked.discard(key)

    async def _serve(self, key: ThreadKey) -> None:
        claimed_at: float | None = None
        since = time.time()  # the claim and start wait in line by when the worker was called
        while True:
            # (Re)claim unless the lease is fresh: a turn's renewals keep it alive.
            if claimed_at is None:
                # Taking the lease while running nothing: a `running` turn here was left by a
                # process that died (marked interrupted in the same write). Say so before the
                # next message runs.
                async with self.pacer.hold(since):
                    stale = await self.store.take_thread(key, self.owner, self.lease)
                if stale is None:
                    return  # another replica runs this thread; the supervisor retries later
                for lost in stale:
                    await self._interrupted(lost)
                claimed_at = time.monotonic()
            elif time.monotonic() - claimed_at > self.lease / 3:
                if not await self.store.claim_thread(key, self.owner, self.lease):
                    return
                claimed_at = time.monotonic()
            async with self.pacer.hold(since):
                self._poked.discard(key)  # what this finds, or a message queued after it
                turn = await self.store.start_next_turn(key)
            if turn is None:
                await self.store.release_thread(key, self.owner)
                if not await self.store.queued_count(key) and key not in self._poked:
                    return  # (nothing awaited since the look: a message now starts a worker)
                claimed_at = None  # queued while the lease was handed back: take it again
                continue
            await self._run(key, turn)
            since = time.time()

    async def _run(self, key: ThreadKey, turn: TurnRow) -> None:
        thread = self.directory.get(key)
        if thread is None:
            await self.store.finish_turn(turn.id, TurnStatus.FAILED, "no adapter for platform")
            return
        ctx = await self.contexts.of(thread, turn.incoming)
        task = asyncio.create_task(self._paced(ctx, turn), name=f"turn {turn.id}")
        self._running[key] = task
        renew = asyncio.create_task(self._renew(key))
        self.metrics.active_turns.inc()
        started = time.monotonic()
        status, error = TurnStatus.DONE, None
        try:
            status, error = await self._outcome(ctx, task)
        finally:
            renew.cancel()
            self.metrics.active_turns.dec()
            self._running.pop(key, None)
            took = time.monotonic() - started
            self.metrics.turn_seconds.observe(took)
            self.typical_seconds = 0.8 * self.typical_seconds + 0.2 * took
        self.metrics.turns.labels(status.value).inc()
        await self._finish(key, turn, status, error)

    async def _paced(self, ctx: TurnContext, turn: TurnRow) -> None:
        ARRIVED.set(turn.created_at)  # this task's own: its busy phases wait by the turn's age
        await self._execute(ctx, turn)

    async def _finish(
        self, key: ThreadKey, turn: TurnRow, status: TurnStatus, error: str | None
    ) -> None:
        """Record the turn's outcome, retrying while the store refuses: a turn left `running`
        would be reported as interrupted by the thread's next owner (untrue, and an invitation
        to pay for it twice). The thread's lease is kept meanwhile, so no one else decides;
        `unfinished` tracks the turns waiting (only a dead process leaves one behind)."""
        wait = 0.05
        while True:
            try:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(self.store.finish_turn(turn.id, status, error))
                self.unfinished.discard(turn.id)
                return
            except Exception as exc:
                if turn.id not in self.unfinished:
                    log.error(
                        "could not record a finished turn, retrying: %s",
                        exc.__class__.__name__,
                        extra={"thread_key": str(key), "turn": turn.id},
                    )
                self.unfinished.add(turn.id)
            await asyncio.sleep(wait)
            wait = min(wait * 2, max(self.lease / 3, 0.05))
            with contextlib.suppress(Exception):
                await self.store.claim_thread(key, self.owner, self.lease)

    async def _outcome(
        self, ctx: TurnContext, task: asyncio.Task[None]
    ) -> tuple[TurnStatus, str | None]:
        """Wait for the turn; its failures become replies. A cancelled *worker* (shutdown)
        cancels the turn and propagates, leaving it `running` on purpose (see `stop`)."""
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                return TurnStatus.CANCELLED, None  # "stop" cancelled the turn itself
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise
        except NemoError as exc:
            self.metrics.backend_errors.labels(str(exc.code or exc.__class__.__name__)).inc()
            await self.voice.report(ctx, exc)
            return TurnStatus.FAILED, f"{exc.__class__.__name__}: {exc.message}"
        except Exception as exc:
            log.exception("turn failed", extra={"thread_key": str(ctx.key)})
            await self.voice.internal_error(ctx)
            return TurnStatus.FAILED, exc.__class__.__name__
        return TurnStatus.DONE, None

    async def _renew(self, key: ThreadKey) -> None:
        period = max(self.lease / 3, 0.05)
        while True:
            await asyncio.sleep(period)
            await self.store.claim_thread(key, self.owner, self.lease)
