"""What one unit of work knows about where it is: the thread, the reply language, who asked.

Frozen and passed down whole, instead of a thread, a language flag and a message threaded
through every call. `say` and the post helpers make each sentence one line at the call site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.language import reply_language
from core.messages import say
from core.port import Action, ChatThread, Incoming, Reply, ReplyKind, ThreadKey


@dataclass(frozen=True, slots=True)
class TurnContext:
    thread: ChatThread
    language: str
    incoming: Incoming = field(default_factory=lambda: Incoming(""))

    @classmethod
    def of(cls, thread: ChatThread, incoming: Incoming) -> TurnContext:
        return cls(thread, reply_language(incoming.text, incoming.locale), incoming)

    @property
    def key(self) -> ThreadKey:
        return self.thread.key

    @property
    def user(self) -> str:
        return self.incoming.user

    def say(self, key: StrEnum, **values: Any) -> str:
        return say(key, self.language, **values)

    async def post(
        self,
        kind: ReplyKind,
        key: StrEnum,
        buttons: tuple[Action, ...] = (),
        **values: Any,
    ) -> str:
        """Post one catalogue sentence; returns the message id (see `ChatThread.post`)."""
        return await self.thread.post(
            Reply(kind, self.say(key, **values), buttons, language=self.language)
        )
