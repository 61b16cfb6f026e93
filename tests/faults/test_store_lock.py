"""Another process holds the SQLite file's write lock for about a second while messages arrive
and a render is polled: everything waits (busy timeout) and nothing is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from core.sim import LocalBackend
from tests.fakes.thread import FakeThread
from tests.faults.conftest import (
    answers,
    finished_turns,
    key,
    open_runtime,
    said,
    sent_turns,
    videos,
    wait_for_request,
)

HOLD_SECONDS = 1.0
WAIT = 20.0


def _hold_exclusive(path: Path, locked: Callable[[], None], seconds: float) -> None:
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        locked()
        threading.Event().wait(seconds)  # the fault itself: the lock is held this long
        connection.execute("COMMIT")
    finally:
        connection.close()


async def test_messages_arrive_while_the_store_is_locked(tmp_path: Path, sim: LocalBackend) -> None:
    sim.set_faults({"credits": 10_000, "render_seconds": 0.8})
    async with open_runtime(tmp_path, sim.base_url) as rt:
        rendering = FakeThread(key("render"))
        rt.engine.register("console", lambda k: rendering)
        await rt.engine.handle(rendering, said("a sailing boat"))
        await rt.engine.idle(WAIT)
        await rt.engine.handle(rendering, said("export"))
        await wait_for_request(sim.base_url, "POST", "/api/render/proxy/lambda")

        locked = asyncio.Event()
        loop = asyncio.get_running_loop()
        holder = asyncio.create_task(
            asyncio.to_thread(
                _hold_exclusive,
                tmp_path / "jupiter.db",
                lambda: loop.call_soon_threadsafe(locked.set),
                HOLD_SECONDS,
            )
        )
        await asyncio.wait_for(locked.wait(), WAIT)
        threads = [FakeThread(key(f"t{i}")) for i in range(5)]
        arriving = [
            asyncio.create_task(rt.engine.handle(thread, said(f"a paper crane {i}")))
            for i, thread in enumerate(threads)
        ]
        arriving.append(asyncio.create_task(rt.engine.handle(threads[0], said("credits"))))
        await asyncio.gather(holder, *arriving)
        await rendering.wait_text("Your video is ready", timeout=WAIT)
        await rt.engine.idle(WAIT)

    for thread in threads:
        assert len(finished_turns(thread)) == 1, thread.transcript()
    assert len(answers(threads[0])) == 2  # the turn and the credits
    assert len(videos(rendering)) == 1
    sent = await sent_turns(sim.base_url)
    assert sorted(sent[1:]) == [f"a paper crane {i}" for i in range(5)]
