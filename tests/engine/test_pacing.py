"""A turn's busy phases go through the engine's pacer (its start before "Connecting...", its end
before the answer; the stream in between does not wait), and a new conversation's claim token
is minted while its first turn streams, not after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from core.client import CLAIM_PATH
from core.client_turns import RUN_PATH
from core.pacing import Pacer
from core.port import Incoming, ThreadKey
from core.sim import LocalBackend
from tests.conftest import RuntimeFactory
from tests.fakes.thread import FakeThread

LINK = "nemovideo.com/workspace/claim?ct=clm_"


def key(name: str) -> ThreadKey:
    return ThreadKey("console", "team", "chan", name)


def one_at_a_time(pacer: Pacer) -> Pacer:
    pacer.limit = pacer.floor = pacer.ceiling = 1
    return pacer


@asynccontextmanager
async def full(pacer: Pacer) -> AsyncIterator[None]:
    """The pacer held by someone else, at a bound of one: whoever comes next waits."""
    async with one_at_a_time(pacer).hold():
        yield


def answered(thread: FakeThread) -> bool:
    return any(s.reply is not None and s.reply.buttons for s in thread.log)


async def stuck_until_released(thread: FakeThread, phase: str) -> None:
    await asyncio.sleep(0.6)  # longer than the whole turn (0.25 s) takes when let through
    assert not answered(thread), f"the {phase} did not wait for the pacer"


async def test_a_turn_waits_for_the_pacer_before_it_says_anything_then_runs(
    runtime: RuntimeFactory,
) -> None:
    async with runtime() as rt:
        thread = FakeThread(key("p1"))
        async with full(rt.engine.pacer):
            await rt.engine.handle(thread, Incoming("a 3-second sunset", user="u1"))
            await stuck_until_released(thread, "start")
            assert thread.log == []  # not even "Connecting..."
            shown = rt.engine.metrics.render().decode()  # an operator sees the pacer at work
            assert "jupiter_paced_waiting 1.0" in shown and "jupiter_pace_limit 1.0" in shown
        await rt.engine.idle(10)
        assert answered(thread)


async def test_the_answer_waits_for_the_pacer_but_the_stream_does_not(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"turn_seconds": 1.0})
    async with runtime() as rt:
        thread = FakeThread(key("p2"))
        one_at_a_time(rt.engine.pacer)
        await rt.engine.handle(thread, Incoming("a 3-second sunset", user="u1"))
        await thread.wait_text("Still working")  # streaming now
        async with full(rt.engine.pacer):
            beats = thread.transcript().count("Still working")
            await asyncio.sleep(1.2)  # the stream ends meanwhile
            assert thread.transcript().count("Still working") > beats  # beats go on
            assert not answered(thread), "the end did not wait for the pacer"
        await rt.engine.idle(10)
        assert answered(thread)


async def test_a_new_conversations_claim_token_is_minted_while_its_turn_streams(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"turn_seconds": 0.6})
    async with runtime() as rt:
        thread = FakeThread(key("p3"))
        await rt.engine.handle(thread, Incoming("a 3-second sunset", user="u1"))
        await rt.engine.idle(10)
        assert LINK in thread.log[-1].text
    async with httpx.AsyncClient() as http:
        log = (await http.get(sim.base_url + "/_sim/log")).json()
    paths = [e["path"] for e in log]
    assert paths.count(CLAIM_PATH) == 1  # minted once, stored, used in the answer
    # asked for after the stream opened and before it ended: the timeline read that follows
    # the stream (the next request after it) comes later
    stream = paths.index(RUN_PATH)
    assert stream < paths.index(CLAIM_PATH)
    between = paths[stream : paths.index(CLAIM_PATH)]
    assert not any(p.startswith("/api/state") for p in between), paths


async def test_a_burst_of_messages_is_taken_in_batches_the_loop_breathes_between(
    runtime: RuntimeFactory,
) -> None:
    """Storing a message never waits (SQLite runs on the loop's thread): a burst handed over
    at once is let in a few per turn of the loop, so a timer due meanwhile is not held back
    until the whole burst is stored; every message is taken all the same."""
    async with runtime() as rt:
        pacer = rt.engine.pacer
        pacer.limit = pacer.floor = pacer.ceiling = 4
        threads = [FakeThread(key(f"burst{i}")) for i in range(40)]
        stored: list[int] = []
        woke: list[int] = []  # messages stored when a 0 s timer, set before the burst, fired
        loop = asyncio.get_running_loop()
        loop.call_later(0, lambda: woke.append(len(stored)))

        async def take(i: int) -> None:
            await rt.engine.handle(threads[i], Incoming(f"a clip number {i}", user=f"b{i}"))
            stored.append(i)

        await asyncio.gather(*(take(i) for i in range(40)))
        assert len(stored) == 40
        assert woke and woke[0] < 40, "the whole burst ran before the timer"
        await rt.engine.idle(30)
        # each heard back (the anonymous credits run out part way: those are told so)
        assert all(len(t.log) >= 2 for t in threads)


async def test_a_bursts_conversations_start_oldest_first_each_through_to_its_stream(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    """The first conversation of a burst says "Connecting..." before the last one's turn is
    even taken: claims and starts wait in line with the busy phases, by age, instead of all
    claims going first and leaving every conversation waiting for all of them."""
    sim.set_faults({"credits": 10_000})
    async with runtime() as rt:
        store, last = rt.store, key("b3")
        seen: list[int] = []

        class Watched(FakeThread):
            async def post(self, reply):  # type: ignore[no-untyped-def]
                if not seen:
                    seen.append(await store.queued_count(last))
                return await super().post(reply)

        first = Watched(key("b1"))
        threads = [first, FakeThread(key("b2")), FakeThread(last)]
        async with full(rt.engine.pacer):
            for n, thread in enumerate(threads):
                await rt.engine.handle(thread, Incoming(f"a {n + 3}-second sunset", user=f"u{n}"))
        await rt.engine.idle(15)
        assert seen == [1]  # the last one's message was still queued, not yet started
        assert all(answered(t) for t in threads)
