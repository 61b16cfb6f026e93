"""A bot process for kill tests and the recovery benchmark: the real engine, many threads.

    python -m tests.faults.bot_process        (settings from the environment, as `jupiter`)

stdin takes one JSON object a line: `{"thread": "t1", "text": "a red kite"}` is a message in
thread t1 (`"event": "Ev1"` adds a delivery id); `{"cmd": "idle"}` waits until no work is pending
and answers `{"op": "idle"}`. stdout says what the bot did, one JSON object a line:
`{"op": "ready"}` once resumed work is under way, then every post, update and upload with its
thread, kind, text and (for videos) the link. End of stdin: wait for pending work, exit 0.

Unlike `jupiter console` it speaks for any number of threads at once, and every thread, resumed
ones included, answers on stdout, so a test can kill it with SIGKILL at any point and read what
a second process posts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from core.logs import setup_logging
from core.port import Attachment, Incoming, Reply, ThreadKey
from core.runtime import Runtime
from core.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]

PLATFORM = "console"
TENANT = "bench"
CHANNEL = "c"


def key_for(name: str) -> ThreadKey:
    return ThreadKey(PLATFORM, TENANT, CHANNEL, name)


class PrintedThread:
    """A ChatThread whose every message is one JSON line on stdout.

    `BOT_CHAT_LOG` names a file standing for the chat service's own record: the marker of every
    delivered post is appended to it, and `find_delivery` reads it (as a takeover reads Slack's
    replies). `BOT_HANG_VIDEO` opens the crash window for a kill test: `before` never lets a
    delivery's post go out (a post retrying through 429s), `after` hangs once it went out,
    before the store hears of it.
    """

    def __init__(self, key: ThreadKey) -> None:
        self.key = key
        self._ids = 0
        self._chat_log = os.environ.get("BOT_CHAT_LOG")
        self._hang = os.environ.get("BOT_HANG_VIDEO")

    @property
    def upload_limit(self) -> int:
        return 0  # links only: the benchmark is about posting each link once

    def _emit(self, op: str, message_id: str, reply: Reply) -> None:
        emit(
            {
                "op": op,
                "thread": self.key.thread,
                "id": message_id,
                "kind": reply.kind.value,
                "text": reply.text,
                "video_url": reply.video_url,
            }
        )

    async def post(self, reply: Reply) -> str:
        self._ids += 1
        message_id = f"{os.getpid()}-{self.key.thread}-{self._ids}"
        if reply.marker and self._hang == "before":
            self._emit("stuck", message_id, reply)
            await asyncio.Event().wait()
        self._emit("post", message_id, reply)
        if reply.marker and self._chat_log:
            await asyncio.to_thread(_append, Path(self._chat_log), reply.marker)
        if reply.marker and self._hang == "after":
            self._emit("stuck", message_id, reply)
            await asyncio.Event().wait()
        return message_id

    async def find_delivery(self, marker: str) -> bool:
        path = Path(self._chat_log or "")
        if not self._chat_log or not await asyncio.to_thread(path.exists):
            return False
        return marker in (await asyncio.to_thread(path.read_text, "utf-8")).split()

    async def update(self, message_id: str, reply: Reply) -> None:
        self._emit("update", message_id, reply)

    async def upload(
        self, filename: str, size: int, chunks: AsyncIterator[bytes], reply: Reply
    ) -> None:
        raise RuntimeError("uploads are off in the bot process")

    async def set_busy(self, text: str | None) -> None:
        return None

    async def open_attachment(
        self, attachment: Attachment, language: str = "en"
    ) -> AsyncIterator[bytes]:
        raise RuntimeError("no attachments in the bot process")
        yield b""  # pragma: no cover


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.write(line + "\n")


def emit(record: dict[str, Any]) -> None:
    record["t"] = time.time()
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


async def _lines() -> AsyncIterator[str]:
    while line := await asyncio.to_thread(sys.stdin.readline):
        if line.strip():
            yield line


async def main() -> int:
    settings = load_settings()
    setup_logging(settings.log_level)
    threads: dict[ThreadKey, PrintedThread] = {}

    def resolve(key: ThreadKey) -> PrintedThread:
        return threads.setdefault(key, PrintedThread(key))

    async with Runtime.open(settings, owner=os.environ.get("JUPITER_OWNER")) as rt:
        rt.engine.register(PLATFORM, resolve)
        emit({"op": "ready", "pid": os.getpid()})
        async for line in _lines():
            order = json.loads(line)
            if order.get("cmd") == "idle":
                await rt.engine.idle()
                emit({"op": "idle"})
                continue
            thread = resolve(key_for(str(order["thread"])))
            incoming = Incoming(str(order["text"]), user="u1", event_id=order.get("event"))
            await rt.engine.handle(thread, incoming)
        await rt.engine.idle()
    return 0


# -- the test's side -------------------------------------------------------------------------


class BotProcess:
    """Drives one `python -m tests.faults.bot_process` and reads what it posts.

    `records` holds every JSON line it printed; `wait_for` waits (with a deadline) until a
    predicate over them holds. `kill()` is SIGKILL: no clean-up runs in the bot.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self.process: asyncio.subprocess.Process | None = None
        self.records: list[dict[str, Any]] = []
        self.started = 0.0
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    async def start(self) -> BotProcess:
        self.started = time.monotonic()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.faults.bot_process",
            cwd=str(ROOT),
            env=self._env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=1 << 22,
        )
        self._reader = asyncio.create_task(self._read())
        await self.wait_for(lambda r: r["op"] == "ready", timeout=60)
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            record = {"thread": "", "kind": "", "text": "", **json.loads(line)}
            record["seen"] = time.monotonic()
            async with self._changed:
                self.records.append(record)
                self._changed.notify_all()
        async with self._changed:
            self.records.append({"op": "exit", "seen": time.monotonic()})
            self._changed.notify_all()

    async def send(self, thread: str, text: str, event: str | None = None) -> None:
        await self.send_many([(thread, text, event)])

    async def send_many(self, messages: list[tuple[str, str, str | None]]) -> None:
        assert self.process is not None and self.process.stdin is not None
        for thread, text, event in messages:
            order = {"thread": thread, "text": text, **({"event": event} if event else {})}
            self.process.stdin.write(json.dumps(order).encode() + b"\n")
        await self.process.stdin.drain()

    async def idle(self, timeout: float = 60) -> None:  # noqa: ASYNC109
        assert self.process is not None and self.process.stdin is not None
        before = sum(1 for r in self.records if r["op"] == "idle")
        self.process.stdin.write(b'{"cmd": "idle"}\n')
        await self.process.stdin.drain()
        await self.wait_for(until=lambda: self.count("idle") > before, timeout=timeout)

    def count(self, op: str) -> int:
        return sum(1 for r in self.records if r["op"] == op)

    def posts(self, kind: str | None = None, thread: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records
            if r["op"] == "post"
            and (kind is None or r["kind"] == kind)
            and (thread is None or r["thread"] == thread)
        ]

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 30,  # noqa: ASYNC109
        *,
        until: Callable[[], bool] | None = None,
    ) -> None:
        """Until some record matches `predicate`, or `until()` holds; AssertionError on exit."""

        def done() -> bool:
            if until is not None:
                return until()
            assert predicate is not None
            return any(predicate(r) for r in self.records)

        try:
            async with asyncio.timeout(timeout), self._changed:
                while not done():
                    if self.records and self.records[-1]["op"] == "exit":
                        raise AssertionError("the bot process ended")
                    await self._changed.wait()
        except TimeoutError:
            tail = "\n".join(json.dumps(r, ensure_ascii=False) for r in self.records[-20:])
            raise AssertionError(f"the bot process never got there; last lines:\n{tail}") from None

    async def kill(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        await self.close()

    async def close(self, timeout: float = 60) -> int:  # noqa: ASYNC109
        """End of input: the bot finishes pending work and exits; returns its status."""
        assert self.process is not None
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                status = await self.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            status = await self.process.wait()
        if self._reader is not None:
            await self._reader
        return status

    async def __aenter__(self) -> BotProcess:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill()
        elif self._reader is not None and not self._reader.done():
            await self._reader


def bot_env(base_url: str, database_url: str, **settings: str) -> dict[str, str]:
    """The environment for a bot process: fast intervals, no .env surprises, no fixed token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPITER_", "NEMO_"))}
    env.update(
        {
            "NEMO_BASE_URL": base_url,
            "JUPITER_DATABASE_URL": database_url,
            "JUPITER_RENDER_POLL_SECONDS": "0.05",
            "JUPITER_HEARTBEAT_SECONDS": "0.2",
            "JUPITER_JOB_LEASE_SECONDS": "1",
            "JUPITER_RETRY_AFTER_SECONDS": "0.01",
            "JUPITER_RECOVERY_SECONDS": "0.05",
            "JUPITER_RETRY_BACKOFF_SECONDS": "0.01",
            "JUPITER_LOG_LEVEL": "ERROR",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(settings)
    return env


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
