"""Where the engine finds a thread's `ChatThread`: the last one an adapter handed in, or one
its resolver builds (resumed work after a restart, a render that outlived its message).

Bounded: a busy bot sees millions of threads (chat interactions among them, whose tokens
expire in 15 minutes), so the least recently used entries are dropped and rebuilt on demand.
"""

from __future__ import annotations

from collections import OrderedDict

from core.port import ChatThread, ThreadKey, ThreadResolver

MAX_THREADS = 10_000


class ThreadDirectory:
    def __init__(self, max_threads: int = MAX_THREADS) -> None:
        self._max = max_threads
        self._threads: OrderedDict[ThreadKey, ChatThread] = OrderedDict()
        self._resolvers: dict[str, ThreadResolver] = {}

    def __len__(self) -> int:
        return len(self._threads)

    def register(self, platform: str, resolver: ThreadResolver) -> None:
        self._resolvers[platform] = resolver

    @property
    def platforms(self) -> list[str]:
        return list(self._resolvers)

    def serves(self, platform: str) -> bool:
        return platform in self._resolvers

    def remember(self, thread: ChatThread) -> None:
        """The adapter's freshest object for this thread (it may carry a live interaction)."""
        self._threads[thread.key] = thread
        self._threads.move_to_end(thread.key)
        while len(self._threads) > self._max:
            self._threads.popitem(last=False)

    def get(self, key: ThreadKey) -> ChatThread | None:
        thread = self._threads.get(key)
        if thread is not None:
            self._threads.move_to_end(key)
            return thread
        resolver = self._resolvers.get(key.platform)
        if resolver is None:
            return None
        thread = resolver(key)
        self.remember(thread)
        return thread
