"""Oldest first when the event loop is busy.

One process serves every conversation on one event loop. When a burst arrives (a thousand
`/video` commands in a second), each conversation's next step queues behind every other's, so
all of them are late together: each finishes its start only when all have, and the loop is
seconds behind for the heartbeats of the turns already under way.

The pacer lets a bounded number of conversations through their busy phases at once (a turn's
start up to its stream, its end from the stream's close to the answer, a `/video` thread's
opening), oldest arrival first. The bound follows the loop: it shrinks when a tick of the
pacer's watch wakes late, and grows while the loop keeps up and someone waits, so a calm
process (or one waiting on slow networks, not on its CPU) is never held back. With no one
waiting, passing costs a counter; the watch runs only while someone holds or waits.

A task that already holds passes again at once (a phase inside a phase); a task it starts
waits like any other, since it is a conversation's own work.

The bound holds twice: at most `limit` phases at once, and at most `limit` let in per turn of the
loop. The second matters for phases that never wait (a message stored in SQLite on the loop's
own thread): each one leaves before the next arrives, so a bound on those at once would let a
burst of a thousand run in one turn of the loop and hold every timer back for its whole length.
The rest wait for the next turn, when the loop has run its timers and I/O.

Waiters queue in three lanes (`Lane`), each oldest first. Taking a message in (storing it, so
it can be acknowledged) is `URGENT`: it waits only for other messages taken in, never behind the
busy phases of conversations already under way, so a burst is acknowledged as fast as before
while the loop still gets its ticks between batches. A worker's claim of its thread and start of
its next turn are `TURN` work, in line by when the worker was called: a burst's conversations
then start oldest first, each through to its stream, where all claims first and every start
after them left the middle of the burst waiting for both (engine level, 1,000 turns, eight runs
each: answer p50 median 1.29x -> 1.24x the turn). Work no one is waiting for yet (a link
minted while its turn streams) is `SPARE`: it goes after every other waiter, into the time a
burst leaves over, instead of spending the loop that the burst's starts are queueing for.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import itertools
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar

# when the current work arrived (epoch seconds), set by whoever starts it (a stored turn's time)
ARRIVED: ContextVar[float | None] = ContextVar("jupiter_arrived", default=None)

LAG_TARGET_SECONDS = 0.02  # a tick later than this shrinks the bound
TICK_SECONDS = 0.02  # how often the watch looks at the loop
FIRST_LIMIT = 64
FLOOR = 8  # never fewer at once: a slow loop still moves
CEILING = 4096


class Lane(enum.IntEnum):
    """Which waiters go first; within a lane, the oldest arrival."""

    URGENT = 0  # a message taken in: what acknowledgements wait for
    TURN = 1  # a conversation's busy phases
    SPARE = 2  # work done ahead of need: only when no one else waits


class Pacer:
    def __init__(
        self,
        *,
        lag_target: float = LAG_TARGET_SECONDS,
        tick: float = TICK_SECONDS,
        limit: int = FIRST_LIMIT,
        floor: int = FLOOR,
        ceiling: int = CEILING,
    ) -> None:
        self.lag_target = lag_target
        self.tick = tick
        self.floor, self.ceiling = floor, ceiling
        self.limit = max(floor, min(limit, ceiling))
        self.active = 0
        self.this_round = 0  # let in during this turn of the loop
        self._waiting: list[tuple[Lane, float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._holders: set[asyncio.Task[object]] = set()
        self._watch: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return sum(1 for *_, f in self._waiting if not f.done())

    @contextlib.asynccontextmanager
    async def hold(
        self, since: float | None = None, *, lane: Lane = Lane.TURN
    ) -> AsyncIterator[None]:
        """One busy phase; waiters go by `lane`, then by `since` (epoch seconds), else
        `ARRIVED`, else now."""
        task = asyncio.current_task()
        if task is None or task in self._holders:
            yield
            return
        await self._enter(since if since is not None else ARRIVED.get() or time.time(), lane)
        self._holders.add(task)
        try:
            yield
        finally:
            self._holders.discard(task)
            self._leave()

    async def _enter(self, since: float, lane: Lane) -> None:
        self._watching()
        if self._room() and not self._waiting:
            self._admit()
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (lane, since, next(self._order), granted))
        self._let_in()  # room left by waiters that were cancelled
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._leave()  # let in, then cancelled before it could go on: hand it on
            raise

    def _leave(self) -> None:
        self.active -= 1
        self._let_in()

    def _let_in(self) -> None:
        while self._waiting and self._room():
            *_, granted = heapq.heappop(self._waiting)
            if granted.done():  # its waiter was cancelled
                continue
            granted.set_result(None)
            self._admit()

    def _room(self) -> bool:
        """Under the bound twice: those at once, and those let in during this turn of the loop."""
        return self.active < self.limit and self.this_round < self.limit

    def _admit(self) -> None:
        self.active += 1
        if not self.this_round:  # the round ends once what is ready now has run
            asyncio.get_running_loop().call_soon(self._next_round)
        self.this_round += 1

    def _next_round(self) -> None:
        self.this_round = 0
        self._let_in()

    def _watching(self) -> None:
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(self._look(), name="pacer")

    async def _look(self) -> None:
        loop = asyncio.get_running_loop()
        while self.active or self._waiting:
            asked = loop.time()
            await asyncio.sleep(self.tick)
            self.adapt(loop.time() - asked - self.tick)

    def adapt(self, lag: float) -> None:
        """A late tick shrinks the bound below those passing now; a calm one grows it while
        someone waits."""
        if lag > self.lag_target:
            self.limit = max(self.floor, min(self.limit, self.active) * 3 // 4)
        elif lag < self.lag_target / 2 and self.waiting:
            self.limit = min(self.ceiling, self.limit + max(1, self.limit // 4))
            self._let_in()

    async def close(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch


__all__ = ["ARRIVED", "Lane", "Pacer"]
