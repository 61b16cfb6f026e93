"""What one unit of work knows about where it is: the thread, the reply language, who asked.

Frozen and passed down whole, instead of a thread, a language flag and a message threaded
through every call. `say` and the post helpers make each sentence one line at the call site.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.language import reply_language
from core.messages import say, supported
from core.port import Action, ChatThread, Incoming, Reply, ReplyKind, ThreadKey
from core.store import Store
from core.store.base import Defaults

DEFAULTS_CACHED = 10_000  # users whose defaults are kept in memory
DEFAULTS_FRESH_SECONDS = 30.0  # a change made through another replica shows within this


@dataclass(frozen=True, slots=True)
class TurnContext:
    thread: ChatThread
    language: str
    incoming: Incoming = field(default_factory=lambda: Incoming(""))
    defaults: Defaults = field(default_factory=Defaults)  # the user's over the workspace's

    @classmethod
    def of(
        cls, thread: ChatThread, incoming: Incoming, defaults: Defaults | None = None
    ) -> TurnContext:
        """A language the user chose (`set language zh`) wins; else their words, then locale."""
        defaults = defaults or Defaults()
        language = supported(defaults.language) or reply_language(incoming.text, incoming.locale)
        return cls(thread, language, incoming, defaults)

    @property
    def key(self) -> ThreadKey:
        return self.thread.key

    @property
    def user(self) -> str:
        return self.incoming.user

    def say(self, key: StrEnum, **values: Any) -> str:
        return say(key, self.language, **values)

    def reply(
        self,
        kind: ReplyKind,
        text: str,
        buttons: tuple[Action, ...] = (),
        *,
        details: tuple[str, ...] = (),
    ) -> Reply:
        """A reply in this context's language (adapters label its buttons in it too)."""
        return Reply(kind, text, buttons, details=details, language=self.language)

    async def post(
        self,
        kind: ReplyKind,
        key: StrEnum,
        buttons: tuple[Action, ...] = (),
        *,
        details: tuple[str, ...] = (),
        **values: Any,
    ) -> str:
        """Post one catalogue sentence; returns the message id (see `ChatThread.post`)."""
        return await self.thread.post(
            self.reply(kind, self.say(key, **values), buttons, details=details)
        )


class Contexts:
    """Builds each message's context with the sender's defaults, kept briefly in memory (a
    message is not worth a store read when its sender wrote a moment ago)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: OrderedDict[tuple[str, str, str], tuple[float, Defaults]] = OrderedDict()

    async def of(self, thread: ChatThread, incoming: Incoming) -> TurnContext:
        return TurnContext.of(thread, incoming, await self.defaults(thread.key, incoming.user))

    async def defaults(self, key: ThreadKey, user: str) -> Defaults:
        slot = (key.platform, key.tenant, user)
        cached = self._cache.get(slot)
        if cached is not None and time.monotonic() - cached[0] < DEFAULTS_FRESH_SECONDS:
            return cached[1]
        try:
            value = await self.store.effective_defaults(key.platform, key.tenant, user)
        except Exception:  # defaults are a nicety: a store that cannot read them fails later
            return cached[1] if cached is not None else Defaults()
        self._cache[slot] = (time.monotonic(), value)
        self._cache.move_to_end(slot)
        while len(self._cache) > DEFAULTS_CACHED:
            self._cache.popitem(last=False)
        return value

    def forget(self, key: ThreadKey, user: str | None = None) -> None:
        """Drop cached defaults after a change (a workspace change: every user's)."""
        if user is None:
            for slot in [s for s in self._cache if s[:2] == (key.platform, key.tenant)]:
                del self._cache[slot]
        else:
            self._cache.pop((key.platform, key.tenant, user), None)
