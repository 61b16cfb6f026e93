"""A ChatThread that records what the engine says, so tests read like transcripts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from core.port import Attachment, Reply, ReplyKind, ThreadKey


@dataclass
class Said:
    op: str  # post | update | upload | busy
    reply: Reply | None
    message_id: str
    at: float = field(default_factory=time.monotonic)
    data: bytes = b""

    @property
    def text(self) -> str:
        if self.reply is None:
            return ""
        return "\n".join((self.reply.text, *self.reply.details))


class FakeThread:
    def __init__(
        self,
        key: ThreadKey,
        *,
        upload_limit: int = 50 * 1024 * 1024,
        files: dict[str, bytes] | None = None,
        update_seconds: float = 0.0,
    ) -> None:
        """`update_seconds`: how long an edit takes to be answered (a busy chat API); it is
        recorded as sent, as the platform sees it."""
        self.key = key
        self.update_seconds = update_seconds
        self._upload_limit = upload_limit
        self.files = files or {}
        self.log: list[Said] = []
        self.busy: list[str | None] = []
        self._changed = asyncio.Event()
        self._ids = 0
        self.fail_next_posts = 0

    @property
    def upload_limit(self) -> int:
        return self._upload_limit

    def _record(self, said: Said) -> None:
        self.log.append(said)
        self._changed.set()

    async def post(self, reply: Reply) -> str:
        if self.fail_next_posts:
            self.fail_next_posts -= 1
            raise RuntimeError("chat API unavailable")
        self._ids += 1
        self._record(Said("post", reply, str(self._ids)))
        return str(self._ids)

    async def update(self, message_id: str, reply: Reply) -> None:
        self._record(Said("update", reply, message_id))
        if self.update_seconds:
            await asyncio.sleep(self.update_seconds)

    async def upload(
        self, filename: str, size: int, chunks: AsyncIterator[bytes], reply: Reply
    ) -> None:
        data = b"".join([chunk async for chunk in chunks])
        assert len(data) == size, (len(data), size)
        self._record(Said("upload", reply, filename, data=data))

    async def set_busy(self, text: str | None) -> None:
        self.busy.append(text)

    async def find_delivery(self, marker: str) -> bool:
        return any(
            s.op == "post" and s.reply is not None and s.reply.marker == marker for s in self.log
        )

    async def open_attachment(
        self, attachment: Attachment, language: str = "en"
    ) -> AsyncIterator[bytes]:
        data = self.files[attachment.source]
        for start in range(0, len(data), 64 * 1024):
            yield data[start : start + 64 * 1024]

    # -- reading the transcript -----------------------------------------------------------

    def texts(self, *kinds: ReplyKind) -> list[str]:
        return [
            s.text for s in self.log if s.reply is not None and (not kinds or s.reply.kind in kinds)
        ]

    def transcript(self) -> str:
        return "\n".join(f"[{s.op}:{s.reply.kind if s.reply else '-'}] {s.text}" for s in self.log)

    def count(self, predicate: Callable[[Said], bool]) -> int:
        return sum(1 for s in self.log if predicate(s))

    async def wait_for(self, predicate: Callable[[Said], bool], timeout: float = 10.0) -> Said:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                for said in self.log:
                    if predicate(said):
                        return said
                self._changed.clear()
                await self._changed.wait()

    async def wait_text(self, fragment: str, timeout: float = 10.0) -> Said:  # noqa: ASYNC109
        try:
            return await self.wait_for(lambda s: fragment in s.text, timeout)
        except TimeoutError:
            raise AssertionError(
                f"{fragment!r} never said; transcript:\n{self.transcript()}"
            ) from None
