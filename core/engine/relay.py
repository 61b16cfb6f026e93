"""The agent's words during one turn, shown as they come.

Each text is held briefly: when another follows, or the hold runs out (checked at every stream
event, heartbeats included), it is posted as a message of its own, so people see the agent's
first words while the work goes on. A text still held when the stream ends is the answer: it
replaces the status message.
"""

from __future__ import annotations

import time

from core.port import ChatThread, Reply, ReplyKind


class Relay:
    def __init__(self, thread: ChatThread, hold: float, language: str = "en") -> None:
        self._language = language
        self._thread = thread
        self._hold = hold
        self.texts: list[str] = []
        self._posted = 0
        self._held_since = 0.0

    @property
    def hold(self) -> float:
        return self._hold

    @property
    def posted(self) -> int:
        """How many texts were posted as messages of their own so far."""
        return self._posted

    @property
    def final(self) -> str | None:
        """The text still held (the answer), or None when every word was already posted."""
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
            await self._thread.post(Reply(ReplyKind.TEXT, text, language=self._language))
