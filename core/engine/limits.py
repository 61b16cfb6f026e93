"""Limits that keep one thread, one user or one member from taking everything.

- `JUPITER_MAX_QUEUED_PER_THREAD`: messages that may wait in one thread; past it a message is
  refused with a reply naming the limit (not stored, not charged).
- `JUPITER_MAX_TURNS_PER_USER`: backend turns one chat user may run at once across threads
  (in this process); more wait their turn, in order.
- `JUPITER_USER_DAILY_CREDITS`: the estimated credits a user may spend per UTC day in a
  workspace; a charged turn past it is refused before anything is sent.
A burst of refusals (by one limit, in one thread) is answered by one message: the first
refusal posts it in full; each later one edits it to count the refusals so far, so none goes
unanswered and the thread is not flooded. A burst ends `BURST_SECONDS` after its last refusal,
or as soon as the limit lets a message through (the queue drained, the budget has room again:
a new day, a raised budget); the next refusal then posts a message of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from core.client import Credentials, NemoClient
from core.engine.context import TurnContext
from core.engine.identity import Identities
from core.errors import NemoError, OutOfCredits
from core.explain import explain
from core.messages import Msg, say
from core.models import Balance
from core.port import Reply, ReplyKind, ThreadKey
from core.store import Store

GENERATION_COST = 100  # a new video (NEMO_PROTOCOL.md, "Costs")
EDIT_COST = 50  # an edit of the current video
BURST_SECONDS = 60.0
QUEUE_LIMIT, DAILY_LIMIT = "queue", "daily"  # the limits whose refusals come in bursts

log = logging.getLogger("jupiter.engine")


def utc_day(now: float | None = None) -> str:
    return dt.datetime.fromtimestamp(now or time.time(), dt.UTC).strftime("%Y-%m-%d")


class UserSlots:
    """At most `size` turns at once per user; the others wait first come, first served."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._running: dict[tuple[str, str, str], int] = {}
        self._freed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self, key: ThreadKey, user: str) -> AsyncIterator[None]:
        who = (key.platform, key.tenant, user)
        async with self._freed:
            await self._freed.wait_for(lambda: self._running.get(who, 0) < self.size)
            self._running[who] = self._running.get(who, 0) + 1
        try:
            yield
        finally:
            async with self._freed:
                left = self._running[who] - 1
                if left:
                    self._running[who] = left
                else:
                    del self._running[who]
                self._freed.notify_all()


@dataclass
class _Burst:
    reply: Reply  # what the first refusal said
    last: float  # when the latest refusal came (monotonic)
    count: int = 1  # refusals so far
    message_id: str | None = None  # the burst's one message, once posted
    shown: int = 1  # the count that message shows
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Refusals:
    """One message per burst of refusals by one limit in one thread, kept current."""

    def __init__(self) -> None:
        self._bursts: dict[tuple[ThreadKey, str], _Burst] = {}

    async def refuse(self, ctx: TurnContext, limit: str, reply: Reply) -> None:
        """Answer one refusal: `reply` when it opens a burst, else a count on the burst's message.
        The burst is taken before anything is awaited, so refusals at once still share one."""
        now = time.monotonic()
        slot = (ctx.key, limit)
        burst = self._bursts.get(slot)
        if burst is None or now - burst.last >= BURST_SECONDS:
            if len(self._bursts) > 10_000:
                self._bursts = {
                    k: b for k, b in self._bursts.items() if now - b.last < BURST_SECONDS
                }
            burst = self._bursts[slot] = _Burst(reply, now)
        else:
            burst.count += 1
            burst.last = now
        async with burst.lock:  # one post, then edits in order
            count, shown = burst.count, self._shown(burst)
            if burst.message_id is None:  # the first (or its post failed): post it now
                burst.message_id = await ctx.thread.post(shown)
            elif count > burst.shown:
                try:
                    await ctx.thread.update(burst.message_id, shown)
                except Exception:  # the message is gone or cannot be edited: post it afresh
                    log.warning("refusal edit failed, posting", extra={"thread_key": str(ctx.key)})
                    burst.message_id = await ctx.thread.post(shown)
            burst.shown = max(burst.shown, count)

    def end(self, key: ThreadKey, limit: str) -> None:
        """The limit let a message through: the next refusal opens a new burst."""
        self._bursts.pop((key, limit), None)

    @staticmethod
    def _shown(burst: _Burst) -> Reply:
        if burst.count == 1:
            return burst.reply
        line = say(Msg.REFUSED_SO_FAR, burst.reply.language, count=burst.count)
        return replace(burst.reply, details=(*burst.reply.details, line))


BALANCE_FRESH_SECONDS = 5.0  # how long one balance read lets other turns through


class SharedBalance:
    """Balance reads for the pre-check, shared by the turns of one token: turns that start
    together ask the backend once, and a read that showed enough lets turns through for
    `BALANCE_FRESH_SECONDS`. A refusal is never based on an old read (see `balance_refusal`);
    the backend, which refuses a turn it cannot charge, stays the authority either way."""

    def __init__(self, client: NemoClient, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._reads: dict[tuple[str, str | None], tuple[float, asyncio.Future[Balance]]] = {}

    async def read(self, creds: Credentials, *, not_before: float | None = None) -> Balance:
        """A shared read; `not_before`: one started at that `clock()` instant or later."""
        key = (creds.client_id, creds.token)
        now = self.clock()
        held = self._reads.get(key)
        if held is None or not _usable(held, now, not_before):
            if len(self._reads) >= MAX_SHARED_READS:
                self._forget_old(now)
            held = (now, asyncio.ensure_future(self.client.balance(creds)))
            held[1].add_done_callback(_retrieved)
            self._reads[key] = held
        return await asyncio.shield(held[1])

    def _forget_old(self, now: float) -> None:
        for key, (at, _) in list(self._reads.items()):
            if now - at > BALANCE_FRESH_SECONDS:
                del self._reads[key]
        if len(self._reads) >= MAX_SHARED_READS:  # a burst of distinct tokens: start over
            self._reads.clear()


MAX_SHARED_READS = 10_000


def _usable(
    held: tuple[float, asyncio.Future[Balance]], now: float, not_before: float | None
) -> bool:
    at, read = held
    if not_before is not None and at < not_before:
        return False
    if not read.done():
        return True
    if read.cancelled() or read.exception() is not None:
        return False
    return now - at <= BALANCE_FRESH_SECONDS


def _retrieved(read: asyncio.Future[Balance]) -> None:
    if not read.cancelled():
        read.exception()  # read here: callers that went away must not leave it unread


class Spending:
    """Whether a charged turn may be sent: the user's daily budget (when one is set) and, for
    a new video, the balance. A refused turn is not sent; the reply says what it would have
    cost and what is left (a budget's refusals: one message per burst, see `Refusals`)."""

    def __init__(
        self,
        client: NemoClient,
        store: Store,
        identities: Identities,
        *,
        daily_budget: int | None,
        clock: Callable[[], float] = time.time,  # what "today" is (UTC)
    ) -> None:
        self.client = client
        self.store = store
        self.identities = identities
        self.daily_budget = daily_budget
        self.clock = clock
        self.refusals = Refusals()
        self.balances = SharedBalance(client)

    async def spent_today(self, ctx: TurnContext) -> int:
        key = ctx.key
        return await self.store.spent_today(key.platform, key.tenant, ctx.user, self._today())

    def _today(self) -> str:
        return utc_day(self.clock())

    async def within_budget(self, ctx: TurnContext, cost: int) -> bool:
        """Whether the user's daily budget has room for `cost`; when not, the thread is told
        (once per burst of refusals). Asked before anything is posted or sent, since it needs
        only the store: a refusal that joins a burst adds no message at all."""
        if self.daily_budget is None:
            return True
        left = max(self.daily_budget - await self.spent_today(ctx), 0)
        limit = f"{DAILY_LIMIT} {self._today()}"  # a new day's refusal says its own "left"
        if cost <= left:
            self.refusals.end(ctx.key, limit)
            return True
        text = ctx.say(Msg.LIMIT_DAILY, cost=cost, left=left, budget=self.daily_budget)
        await self.refusals.refuse(ctx, limit, ctx.reply(ReplyKind.ERROR, text))
        return False

    async def balance_refusal(
        self, ctx: TurnContext, creds: Credentials, cost: int, generation: bool
    ) -> Reply | None:
        """The reply refusing a new video the balance cannot pay for, or None. A shared read
        (`SharedBalance`) lets the turn through; a refusal reads the balance again first."""
        if not generation:
            return None
        asked = self.balances.clock()
        try:
            balance = await self.balances.read(creds)
            if balance.available < cost:  # refused only by a read begun since it was asked
                balance = await self.balances.read(creds, not_before=asked)
        except NemoError:
            return None  # no verdict on the balance: the turn itself will say what is wrong
        if balance.available >= cost:
            return None
        anonymous = None if creds.fixed else creds.user_id
        why = explain(
            OutOfCredits("balance too low"),
            ctx.language,
            fixed_token=creds.fixed,
            anonymous_user=anonymous,
        )
        text = ctx.say(Msg.LIMIT_CREDITS, cost=cost, left=int(balance.available))
        return ctx.reply(ReplyKind.ERROR, text, details=(why,))

    async def record(self, ctx: TurnContext, cost: int) -> None:
        key = ctx.key
        await self.store.add_spend(key.platform, key.tenant, ctx.user, self._today(), cost)
