"""Replica processes for the tests: start `tests.replicas.runner`, talk to it, read what it said."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

Said = dict[str, Any]


class ReplicaProcess:
    """One `python -m tests.replicas.runner` process; `said` is every line it printed."""

    def __init__(self, owner: str, process: asyncio.subprocess.Process, log: Path) -> None:
        self.owner = owner
        self.process = process
        self.log = log
        self.said: list[Said] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read(), name=f"replica {owner} stdout")

    @classmethod
    async def start(cls, owner: str, env: dict[str, str], workdir: Path) -> ReplicaProcess:
        """Start a replica with `env` (settings) added to ours; it runs in `workdir`, so no
        `.env` file of the developer's is read."""
        log = workdir / f"replica-{owner}.log"
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        full_env.pop("NEMO_TOKEN", None)
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "tests.replicas.runner", "--owner", owner),
                cwd=str(workdir),
                env=full_env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        return cls(owner, process, log)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.said.append(json.loads(line))
            self._changed.set()
        self._changed.set()

    @property
    def ended(self) -> bool:
        return self._reader.done()

    def describe(self) -> str:
        lines = "\n".join(json.dumps(s) for s in self.said)
        return f"replica {self.owner} said:\n{lines}\nits log:\n{self.log.read_text()}"

    async def wait_for(self, predicate: Callable[[Said], bool], seconds: float = 20) -> Said:
        try:
            async with asyncio.timeout(seconds):
                while True:
                    for said in self.said:
                        if predicate(said):
                            return said
                    if self.ended:
                        raise AssertionError("the replica ended first")
                    self._changed.clear()
                    await self._changed.wait()
        except (TimeoutError, AssertionError) as exc:
            raise AssertionError(f"{exc or 'timed out'}; {self.describe()}") from None

    async def ready(self) -> None:
        await self.wait_for(lambda s: s["op"] == "ready")

    async def send(self, thread: str, text: str, event_id: str | None = None) -> None:
        assert self.process.stdin is not None
        message = {"thread": thread, "text": text, "event_id": event_id}
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def kill(self) -> None:
        """SIGKILL: a crashed replica, nothing cleaned up, leases left to lapse."""
        self.process.send_signal(signal.SIGKILL)
        await self.close()

    async def stop(self, seconds: float = 20) -> int:
        """End of input: the replica stops cleanly."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        async with asyncio.timeout(seconds):
            await self.close()
        return self.process.returncode or 0

    async def close(self) -> None:
        await self.process.wait()
        await self._reader
        if self.process.stdin is not None:
            self.process.stdin.close()
            with contextlib.suppress(ConnectionError):
                await self.process.stdin.wait_closed()

    def posts(self, kind: str) -> list[Said]:
        return [s for s in self.said if s["op"] == "post" and s["kind"] == kind]
