"""The engine's background tasks in one set: replies, recovery passes and render drivers are
spawned here, so `idle` can wait for all of them and `stop` can cancel all of them."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Hashable
from typing import Any


class TaskSet:
    def __init__(self) -> None:
        self._loose: set[asyncio.Task[Any]] = set()
        self._keyed: dict[Hashable, asyncio.Task[Any]] = {}
        self.closing = False

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any] | None:
        """Run `coro` in the background; None (and the coroutine closed) once stopping."""
        if self.closing:
            coro.close()
            return None
        task = asyncio.create_task(coro, name=name)
        self._loose.add(task)
        task.add_done_callback(self._loose.discard)
        return task

    def spawn_keyed(
        self, key: Hashable, coro: Coroutine[Any, Any, Any], name: str
    ) -> asyncio.Task[Any] | None:
        """At most one live task per `key` (a render job, a thread's worker): a second start
        while the first runs is a no-op."""
        running = self._keyed.get(key)
        if running is not None and not running.done() or self.closing:
            coro.close()
            return None
        task = asyncio.create_task(coro, name=name)
        self._keyed[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        return task

    def _forget(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._keyed.get(key) is task:
            del self._keyed[key]

    def get(self, key: Hashable) -> asyncio.Task[Any] | None:
        task = self._keyed.get(key)
        return task if task is not None and not task.done() else None

    def live_keys(self) -> list[Hashable]:
        return [key for key, task in self._keyed.items() if not task.done()]

    def cancel(self, key: Hashable) -> bool:
        task = self._keyed.pop(key, None)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def pending(self) -> list[asyncio.Task[Any]]:
        return [t for t in (*self._keyed.values(), *self._loose) if not t.done()]

    async def stop(self) -> None:
        self.closing = True
        tasks = [*self._keyed.values(), *self._loose]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
