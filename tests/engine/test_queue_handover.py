"""A message that arrives while its thread's worker is deciding to stop still runs: the store's
answers come after a shared commit (a turn of the loop later), so the worker's last look at the
queue and the intake's look at the worker can each be overtaken by the other."""

from __future__ import annotations

import asyncio
from typing import Any

from core.port import Incoming, ThreadKey
from core.sim import LocalBackend
from tests.conftest import RuntimeFactory
from tests.fakes.thread import FakeThread


def key(name: str) -> ThreadKey:
    return ThreadKey("console", "team", "chan", name)


def answers(thread: FakeThread) -> int:
    return sum(1 for s in thread.log if s.reply is not None and s.reply.buttons)


async def test_a_message_taken_in_while_the_worker_looks_its_last_is_run(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000})
    async with runtime() as rt:
        thread = FakeThread(key("w1"))
        store, engine = rt.store, rt.engine
        counted = store.queued_count
        later: list[asyncio.Task[Any]] = []

        async def last_look(k: ThreadKey) -> int:
            seen = await counted(k)  # nothing queued: the worker is about to stop...
            if not later:  # ...when the next message is taken in, the worker still alive
                later.append(asyncio.create_task(engine.handle(thread, Incoming("a 4-second sea"))))
                await later[0]
            return seen

        store.queued_count = last_look  # type: ignore[method-assign]
        await engine.handle(thread, Incoming("a 3-second sunset", user="u1"))
        await engine.idle(15)
        assert later and later[0].done()
        await engine.idle(15)
        assert answers(thread) == 2, thread.transcript()


async def test_a_message_whose_worker_stopped_while_it_was_taken_in_starts_one(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000, "turn_seconds": 0.3})
    async with runtime() as rt:
        thread = FakeThread(key("w2"))
        store, engine = rt.store, rt.engine
        waiting = store.waiting_count

        async def slow_count(k: ThreadKey) -> int:
            seen = await waiting(k)  # the intake saw a worker; it stops meanwhile
            worker = engine.queue.workers.get(k)
            if worker is not None:
                await asyncio.wait([worker])
            return seen

        store.waiting_count = slow_count  # type: ignore[method-assign]
        await engine.handle(thread, Incoming("a 3-second sunset", user="u1"))
        await engine.handle(thread, Incoming("a 4-second sea", user="u1"))
        await engine.idle(15)
        assert answers(thread) == 2, thread.transcript()
