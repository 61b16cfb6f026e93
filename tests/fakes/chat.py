"""A user talking in one thread, so engine tests read as conversations:

chat = Chat(rt.engine, FakeThread(key()))
await chat.say("a sunset over mountains")
await chat.say("status")
assert chat.last.text.startswith("Timeline")
"""

from __future__ import annotations

from typing import Any

from core.engine import Engine
from core.port import Action, Attachment, Incoming
from tests.fakes.thread import FakeThread, Said


class Chat:
    def __init__(
        self, engine: Engine, thread: FakeThread, *, user: str = "u1", wait: float = 20.0
    ) -> None:
        self.engine = engine
        self.thread = thread
        self.user = user
        self.wait = wait

    async def say(
        self,
        text: str,
        *,
        wait: float | None = None,
        attachments: tuple[Attachment, ...] = (),
        **fields: Any,
    ) -> list[Said]:
        """Send `text` and wait until everything it started is done; returns what was said."""
        return await self.send(
            Incoming(text, attachments=attachments, user=self.user, **fields), wait=wait
        )

    async def click(self, action: Action, *, wait: float | None = None) -> list[Said]:
        return await self.send(Incoming("", user=self.user, action=action), wait=wait)

    async def send(self, incoming: Incoming, *, wait: float | None = None) -> list[Said]:
        seen = len(self.thread.log)
        await self.engine.handle(self.thread, incoming)
        await self.engine.idle(self.wait if wait is None else wait)
        return self.thread.log[seen:]

    @property
    def last(self) -> Said:
        return self.thread.log[-1]
