"""Failures into words: whatever a unit of work raises becomes a friendly reply in its thread,
never a dead task, and the thread stays usable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

from core.engine.context import TurnContext
from core.engine.identity import Identities
from core.errors import ExportBlocked, NemoError, OutOfCredits
from core.explain import explain
from core.messages import Msg
from core.port import Reply, ReplyKind

log = logging.getLogger("jupiter.engine")


class Voice:
    def __init__(self, identities: Identities) -> None:
        self.identities = identities

    async def report(self, ctx: TurnContext, exc: NemoError) -> None:
        with contextlib.suppress(Exception):
            anonymous = None
            if isinstance(exc, OutOfCredits):
                anonymous = await self.identities.anonymous_user(ctx.key)
            text = explain(
                exc,
                ctx.language,
                fixed_token=bool(self.identities.nemo_token),
                anonymous_user=anonymous,
            )
            details = await self._plan_hints(ctx) if isinstance(exc, ExportBlocked) else ()
            await ctx.thread.post(
                Reply(ReplyKind.ERROR, text, details=details, language=ctx.language)
            )

    async def _plan_hints(self, ctx: TurnContext) -> tuple[str, ...]:
        """HTTP 402 on export is the plan: the project can still be opened (and exported) on
        the web through the task detail link, and an operator can give the bot a token that
        may render."""
        link = await self.identities.task_link(ctx.key)
        operator = (
            Msg.EXPORT_PLAN_OPERATOR_FIXED
            if self.identities.nemo_token
            else Msg.EXPORT_PLAN_OPERATOR
        )
        lines = (ctx.say(Msg.TASK_LINK, link=link),) if link else ()
        return (*lines, ctx.say(operator))

    async def internal_error(self, ctx: TurnContext) -> None:
        with contextlib.suppress(Exception):
            await ctx.post(ReplyKind.ERROR, Msg.ERR_INTERNAL)

    async def guard(self, ctx: TurnContext, work: Awaitable[Any]) -> None:
        """Run `work`; whatever it raises becomes a reply."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except NemoError as exc:
            await self.report(ctx, exc)
        except Exception:
            log.exception("unexpected failure", extra={"thread_key": str(ctx.key)})
            await self.internal_error(ctx)
