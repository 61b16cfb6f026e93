"""A stand-in for the engine API the adapters call (handle / is_bot_thread / register): it
records what an adapter hands over and does nothing else, for tests of the adapters alone."""

from __future__ import annotations

import asyncio

from core.pacing import Pacer
from core.port import ChatThread, Incoming, ThreadKey, ThreadResolver
from core.store.base import Defaults

WAIT = 5.0


class RecordingEngine:
    """Stand-in for the engine API (handle / is_bot_thread / register): records, does nothing."""

    def __init__(self, owned: tuple[ThreadKey, ...] = ()) -> None:
        self.handled: list[tuple[ChatThread, Incoming]] = []
        self.owned = set(owned)
        self.resolvers: dict[str, ThreadResolver] = {}
        self.saved_defaults: dict[tuple[str, str, str], Defaults] = {}
        self._changed = asyncio.Condition()
        self.pacer = Pacer()

    async def handle(self, thread: ChatThread, incoming: Incoming) -> None:
        async with self._changed:
            self.handled.append((thread, incoming))
            self._changed.notify_all()

    async def is_bot_thread(self, key: ThreadKey) -> bool:
        return key in self.owned

    def register(self, platform: str, resolver: ThreadResolver) -> None:
        self.resolvers[platform] = resolver

    async def defaults(self, platform: str, tenant: str, user: str) -> Defaults:
        return self.saved_defaults.get((platform, tenant, user), Defaults())

    async def save_defaults(self, platform: str, tenant: str, user: str, value: Defaults) -> None:
        self.saved_defaults[(platform, tenant, user)] = value

    async def wait_handled(self, count: int = 1, timeout: float = WAIT) -> list[Incoming]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.handled) >= count)
        return [incoming for _, incoming in self.handled]

    def keys(self) -> list[ThreadKey]:
        return [thread.key for thread, _ in self.handled]
