"""What a previous process left behind, taken up again, once at start and then periodically.

A turn left `running` by a dead process is reported to its thread as interrupted and not
re-sent (the backend charges per turn); queued turns run; render jobs whose lease lapsed are
taken over (see core/renders.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from core.engine.directory import ThreadDirectory
from core.engine.queue import TurnQueue
from core.language import reply_language
from core.messages import Msg, say
from core.metrics import Metrics
from core.port import Reply, ReplyKind
from core.renders import Renders
from core.store import Store, TurnRow

log = logging.getLogger("jupiter.engine")


class Recovery:
    def __init__(
        self,
        store: Store,
        directory: ThreadDirectory,
        renders: Renders,
        metrics: Metrics,
        *,
        lease_seconds: float,
    ) -> None:
        self.store = store
        self.directory = directory
        self.renders = renders
        self.metrics = metrics
        self.lease = lease_seconds
        self.queue: TurnQueue | None = None  # set by the engine (the queue reports through us)

    async def recover(self, platform: str) -> None:
        for turn in await self.store.interrupt_stale_turns(time.time(), platform):
            await self.tell_interrupted(turn)
        await self.renders.resume(self.directory.serves)
        if self.queue is None:
            return
        for key in await self.store.threads_with_queued_turns():
            if self.directory.serves(key.platform) and not self.queue.busy(key):
                self.queue.start(key)

    async def tell_interrupted(self, turn: TurnRow) -> None:
        thread = self.directory.get(turn.key)
        if thread is None:
            return
        text = turn.text if len(turn.text) <= 80 else turn.text[:77] + "..."
        language = reply_language(turn.text, turn.incoming.locale)
        notice = Reply(
            ReplyKind.NOTICE, say(Msg.INTERRUPTED, language, text=text), language=language
        )
        with contextlib.suppress(Exception):
            await thread.post(notice)

    async def supervise(self) -> None:
        period = max(min(self.lease / 2, 10.0), 0.05)
        while True:
            await asyncio.sleep(period)
            try:
                for platform in self.directory.platforms:
                    await self.recover(platform)
                for state, count in (await self.store.count_renders()).items():
                    self.metrics.render_jobs.labels(state).set(count)
            except Exception:
                log.exception("supervisor pass failed")
