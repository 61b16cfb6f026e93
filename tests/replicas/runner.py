"""One bot replica as an OS process, for the multi-replica tests: `python -m tests.replicas.runner`.

It opens a `Runtime` from the environment's settings (the same `JUPITER_*` names as the real
bot), with the owner id given on the command line, and registers itself for the "slack" platform,
as a Slack HTTP replica behind a load balancer would. What a chat platform would deliver comes
in on stdin, one JSON object a line (`{"thread": "...", "text": "...", "event_id": "..."}`);
everything the replica says in a thread goes out on stdout, one JSON object a line, so the test
can tell which replica said what. `{"op": "ready"}` is printed once the engine runs. The process
exits cleanly at the end of stdin; a test kills it with SIGKILL to play a crashed replica.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

from core.logs import setup_logging
from core.port import Attachment, Incoming, Reply, ThreadKey
from core.runtime import Runtime
from core.settings import load_settings

PLATFORM = "slack"
TENANT = "T-replicas"
CHANNEL = "C-replicas"


def thread_key(thread: str) -> ThreadKey:
    return ThreadKey(PLATFORM, TENANT, CHANNEL, thread)


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


class StdoutThread:
    """A ChatThread whose every post and edit is one JSON line on stdout."""

    def __init__(self, key: ThreadKey, owner: str) -> None:
        self.key = key
        self._owner = owner
        self._ids = 0

    @property
    def upload_limit(self) -> int:
        return 0  # the link is what must arrive exactly once; no file upload

    def _emit(self, op: str, message_id: str, reply: Reply) -> None:
        emit(
            op=op,
            owner=self._owner,
            thread=self.key.thread,
            message_id=message_id,
            kind=reply.kind.value,
            text=reply.text,
            video_url=reply.video_url,
        )

    async def post(self, reply: Reply) -> str:
        self._ids += 1
        message_id = f"{self._owner}-{self._ids}"
        self._emit("post", message_id, reply)
        return message_id

    async def update(self, message_id: str, reply: Reply) -> None:
        self._emit("update", message_id, reply)

    async def upload(
        self, filename: str, size: int, chunks: AsyncIterator[bytes], reply: Reply
    ) -> None:
        raise RuntimeError("uploads are off in the replica runner")

    async def set_busy(self, text: str | None) -> None:
        return None

    def open_attachment(self, attachment: Attachment, language: str = "en") -> AsyncIterator[bytes]:
        raise RuntimeError("no attachments in the replica runner")

    async def find_delivery(self, marker: str) -> bool:
        return False  # stdout keeps no record a replica could read


class Threads:
    """The resolver: one StdoutThread per key, for messages and for resumed work alike."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._by_key: dict[ThreadKey, StdoutThread] = {}

    def __call__(self, key: ThreadKey) -> StdoutThread:
        return self._by_key.setdefault(key, StdoutThread(key, self._owner))


async def _lines() -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        while line := await reader.readline():
            yield line
    finally:
        transport.close()


async def serve(owner: str) -> None:
    settings = load_settings()
    threads = Threads(owner)
    async with Runtime.open(settings, owner=owner) as rt:
        rt.engine.register(PLATFORM, threads)
        emit(op="ready", owner=owner)
        async for line in _lines():
            message = json.loads(line)
            incoming = Incoming(
                message["text"], user=message.get("user", "U1"), event_id=message.get("event_id")
            )
            await rt.engine.handle(threads(thread_key(message["thread"])), incoming)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--owner", required=True, help="the engine's owner id (lease holder)")
    args = parser.parse_args()
    settings = load_settings()
    setup_logging(settings.log_level)
    asyncio.run(serve(args.owner))


if __name__ == "__main__":
    main()
