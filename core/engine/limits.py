"""Limits that keep one thread, one user or one member from taking everything.

- `JUPITER_MAX_QUEUED_PER_THREAD`: messages that may wait in one thread; past it a message is
  refused with a reply naming the limit (not stored, not charged).
- `JUPITER_MAX_TURNS_PER_USER`: backend turns one chat user may run at once across threads
  (in this process); more wait their turn, in order.
- `JUPITER_USER_DAILY_CREDITS`: the estimated credits a user may spend per UTC day in a
  workspace; a charged turn past it is refused before anything is sent.
A burst of refusals is answered once: the first refusal speaks, the next ones within
`BURST_SECONDS` in the same thread stay silent (their messages are still not run).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.client import Credentials, NemoClient
from core.engine.context import TurnContext
from core.engine.identity import Identities
from core.errors import NemoError, OutOfCredits
from core.explain import explain
from core.messages import Msg
from core.port import Reply, ReplyKind, ThreadKey
from core.store import Store

GENERATION_COST = 100  # a new video (NEMO_PROTOCOL.md, "Costs")
EDIT_COST = 50  # an edit of the current video
BURST_SECONDS = 60.0


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


class Bursts:
    """Remembers when a thread was last told about a refusal, so a flood hears it once."""

    def __init__(self) -> None:
        self._last: dict[tuple[ThreadKey, str], float] = {}

    def should_speak(self, key: ThreadKey, kind: str) -> bool:
        now = time.monotonic()
        if len(self._last) > 10_000:
            self._last = {k: t for k, t in self._last.items() if now - t < BURST_SECONDS}
        last = self._last.get((key, kind))
        self._last[(key, kind)] = now
        return last is None or now - last >= BURST_SECONDS


class Spending:
    """Whether a charged turn may be sent: the user's daily budget (when one is set) and, for
    a new video, the balance. A refused turn is not sent; the reply says what it would have
    cost and what is left."""

    def __init__(
        self,
        client: NemoClient,
        store: Store,
        identities: Identities,
        *,
        daily_budget: int | None,
    ) -> None:
        self.client = client
        self.store = store
        self.identities = identities
        self.daily_budget = daily_budget

    async def spent_today(self, ctx: TurnContext) -> int:
        key = ctx.key
        return await self.store.spent_today(key.platform, key.tenant, ctx.user, utc_day())

    async def refusal(
        self, ctx: TurnContext, creds: Credentials, cost: int, generation: bool
    ) -> Reply | None:
        """The reply refusing this turn, or None when it may go ahead."""
        if self.daily_budget is not None:
            left = max(self.daily_budget - await self.spent_today(ctx), 0)
            if cost > left:
                text = ctx.say(Msg.LIMIT_DAILY, cost=cost, left=left, budget=self.daily_budget)
                return ctx.reply(ReplyKind.ERROR, text)
        if generation:
            try:
                balance = await self.client.balance(creds)
            except NemoError:
                return None  # no verdict on the balance: the turn itself will say what is wrong
            if balance.available < cost:
                anonymous = None if creds.fixed else creds.user_id
                why = explain(
                    OutOfCredits("balance too low"),
                    ctx.language,
                    fixed_token=creds.fixed,
                    anonymous_user=anonymous,
                )
                text = ctx.say(Msg.LIMIT_CREDITS, cost=cost, left=int(balance.available))
                return ctx.reply(ReplyKind.ERROR, text, details=(why,))
        return None

    async def record(self, ctx: TurnContext, cost: int) -> None:
        key = ctx.key
        await self.store.add_spend(key.platform, key.tenant, ctx.user, utc_day(), cost)
