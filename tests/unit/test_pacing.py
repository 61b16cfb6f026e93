"""The pacer: oldest first when its bound is reached, nothing lost to cancellation, a bound
that follows the loop's lag, and no deadlock for a phase inside a phase."""

from __future__ import annotations

import asyncio
import time

from core.pacing import ARRIVED, Lane, Pacer


def fixed(limit: int) -> Pacer:
    return Pacer(limit=limit, floor=limit, ceiling=limit)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_under_its_bound_everyone_passes_at_once() -> None:
    pacer = fixed(3)
    inside = asyncio.Event()
    entered: list[int] = []

    async def phase(n: int) -> None:
        async with pacer.hold():
            entered.append(n)
            await inside.wait()

    tasks = [asyncio.create_task(phase(n)) for n in range(3)]
    await settle()
    assert entered == [0, 1, 2] and pacer.active == 3 and pacer.waiting == 0
    inside.set()
    await asyncio.gather(*tasks)
    assert pacer.active == 0
    await pacer.close()


async def test_at_its_bound_the_oldest_arrival_goes_first() -> None:
    pacer = fixed(1)
    release = asyncio.Event()
    order: list[float] = []

    async def phase(since: float) -> None:
        async with pacer.hold(since):
            order.append(since)
            if since == 0:
                await release.wait()

    first = asyncio.create_task(phase(0))
    await settle()
    later = [asyncio.create_task(phase(s)) for s in (30.0, 10.0, 20.0)]  # asked in this order
    await settle()
    assert order == [0] and pacer.waiting == 3
    release.set()
    await asyncio.gather(first, *later)
    assert order == [0, 10.0, 20.0, 30.0]
    await pacer.close()


async def test_the_arrival_of_the_work_orders_it_when_no_time_is_given() -> None:
    pacer = fixed(1)
    release = asyncio.Event()
    order: list[str] = []

    async def phase(name: str, arrived: float | None) -> None:
        if arrived is not None:
            ARRIVED.set(arrived)  # as the turn queue sets a stored turn's time
        async with pacer.hold():
            order.append(name)
            if name == "holder":
                await release.wait()

    holder = asyncio.create_task(phase("holder", None))
    await settle()
    now = asyncio.create_task(phase("now", None))  # no arrival: now
    old = asyncio.create_task(phase("stored an hour ago", time.time() - 3600))
    await settle()
    release.set()
    await asyncio.gather(holder, now, old)
    assert order == ["holder", "stored an hour ago", "now"]
    await pacer.close()


async def test_a_cancelled_waiter_loses_its_place_and_nothing_else() -> None:
    pacer = fixed(1)
    release = asyncio.Event()
    entered: list[str] = []

    async def phase(name: str) -> None:
        async with pacer.hold():
            entered.append(name)
            if name == "holder":
                await release.wait()

    holder = asyncio.create_task(phase("holder"))
    await settle()
    gone = asyncio.create_task(phase("gone"))
    kept = asyncio.create_task(phase("kept"))
    await settle()
    gone.cancel()
    await settle()
    release.set()
    await asyncio.gather(holder, kept)
    assert gone.cancelled() and entered == ["holder", "kept"] and pacer.active == 0
    await pacer.close()


async def test_a_waiter_cancelled_just_as_it_is_let_in_hands_its_place_on() -> None:
    pacer = fixed(1)
    entered: list[str] = []

    async def phase(name: str) -> None:
        async with pacer.hold():
            entered.append(name)

    held = pacer.hold()
    await held.__aenter__()
    unlucky = asyncio.create_task(phase("unlucky"))
    next_one = asyncio.create_task(phase("next"))
    await settle()
    await held.__aexit__(None, None, None)  # leaves at once: `unlucky` is let in...
    unlucky.cancel()  # ...and cancelled before it runs
    await asyncio.wait_for(next_one, 2)
    assert unlucky.cancelled() and entered == ["next"] and pacer.active == 0
    await pacer.close()


async def test_a_phase_inside_a_phase_passes_and_a_task_it_starts_waits_its_turn() -> None:
    pacer = fixed(1)
    order: list[str] = []

    async def child() -> None:
        async with pacer.hold():
            order.append("child")

    async def outer() -> None:
        async with pacer.hold():
            async with pacer.hold():  # the same task: no deadlock on a bound of one
                order.append("inner")
            spawned = asyncio.create_task(child())
            await settle()
            assert order == ["inner"]  # the child is not taken for its parent
        await spawned

    await asyncio.wait_for(outer(), 2)
    assert order == ["inner", "child"]
    await pacer.close()


def test_a_late_tick_shrinks_the_bound_below_those_passing_a_calm_one_grows_it() -> None:
    pacer = Pacer(limit=64, floor=8, ceiling=100, lag_target=0.02)
    pacer.active = 40
    pacer.adapt(0.05)
    assert pacer.limit == 30  # three quarters of the 40 passing, not of the bound
    pacer.adapt(0.5)
    assert pacer.limit == 22
    for _ in range(10):
        pacer.adapt(0.5)
    assert pacer.limit == 8  # the floor: a slow loop still moves
    pacer.adapt(0.001)
    assert pacer.limit == 8  # calm, but no one waits: nothing to grow for


async def test_calm_with_waiters_grows_the_bound_and_lets_them_in() -> None:
    pacer = Pacer(limit=2, floor=2, ceiling=5, lag_target=0.02)
    release = asyncio.Event()
    inside: list[int] = []

    async def phase(n: int) -> None:
        async with pacer.hold():
            inside.append(n)
            await release.wait()

    tasks = [asyncio.create_task(phase(n)) for n in range(8)]
    await settle()
    assert len(inside) == 2
    for _ in range(5):
        pacer.adapt(0.0)
    await settle()
    assert len(inside) == 5 and pacer.limit == 5  # grown to its ceiling, not past it
    release.set()
    await asyncio.gather(*tasks)
    await pacer.close()


async def test_its_watch_shrinks_the_bound_when_the_loop_is_blocked_and_stops_when_idle() -> None:
    pacer = Pacer(limit=32, floor=2, ceiling=64, lag_target=0.01, tick=0.005)
    release = asyncio.Event()

    async def phase() -> None:
        async with pacer.hold():
            await release.wait()

    tasks = [asyncio.create_task(phase()) for _ in range(32)]
    await settle()
    for _ in range(3):
        time.sleep(0.05)  # noqa: ASYNC251 - the busy loop the watch must notice
        await asyncio.sleep(0.01)
    assert pacer.limit < 32
    release.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(0.05)
    assert pacer._watch is not None and pacer._watch.done()  # no task left behind
    await pacer.close()


async def test_phases_that_never_wait_are_let_in_a_bound_per_turn_of_the_loop() -> None:
    """Each leaves before the next arrives, so the bound on those at once never bites: without
    one per turn of the loop, a burst runs whole in one turn and holds every timer back."""
    pacer = fixed(3)
    entered: list[int] = []
    seen: list[int] = []  # how many had entered each time the loop came round to the ticker
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            seen.append(len(entered))
            await asyncio.sleep(0)

    async def phase(n: int) -> None:
        async with pacer.hold():
            entered.append(n)  # no await inside: over before the next one asks

    watching = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    await asyncio.gather(*(phase(n) for n in range(10)))
    done.set()
    await watching
    assert entered == list(range(10))  # all of them, in the order they asked
    steps = [b - a for a, b in zip(seen, seen[1:], strict=False)]
    assert max(steps) <= 3 and sum(1 for s in steps if s) >= 4  # in batches of at most three
    assert pacer.active == 0 and pacer.this_round <= 3
    await pacer.close()


async def test_lanes_go_urgent_then_turns_then_spare_work_each_oldest_first() -> None:
    """Taking a message in (what the ack waits for) never queues behind conversations' ends, and
    work done ahead of need (a link minted while a turn streams) waits for everyone, however
    long it has waited itself."""
    pacer = fixed(1)
    release = asyncio.Event()
    order: list[str] = []

    async def phase(name: str, since: float, lane: Lane = Lane.TURN) -> None:
        async with pacer.hold(since, lane=lane):
            order.append(name)
            if name == "holder":
                await release.wait()

    now = time.time()
    holder = asyncio.create_task(phase("holder", 0.0))
    await settle()
    waiters = [
        asyncio.create_task(phase("a day-old link", now - 86400, Lane.SPARE)),
        asyncio.create_task(phase("a new link", now, Lane.SPARE)),
        asyncio.create_task(phase("a minute-old turn's end", now - 60)),
        asyncio.create_task(phase("an hour-old turn's end", now - 3600)),
        asyncio.create_task(phase("next intake", now + 1, Lane.URGENT)),
        asyncio.create_task(phase("intake", now, Lane.URGENT)),
    ]
    await settle()
    release.set()
    await asyncio.gather(holder, *waiters)
    assert order == [
        "holder",
        "intake",
        "next intake",
        "an hour-old turn's end",
        "a minute-old turn's end",
        "a day-old link",
        "a new link",
    ]
    await pacer.close()
