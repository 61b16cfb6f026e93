"""Answers to the agent's questions, and "Try again" after a lost turn.

What must hold:
- While a question is open, a typed number or option name (any case) sends that option's label
  as the next turn; other words are the answer when the agent allows free text, else the user
  hears the options again and nothing is sent (a turn costs credits).
- A click (`Incoming.answer`) sends the label once: the store's conditional update decides
  between two clicks, or a click and a typed answer. A click on an answered or replaced question
  is answered politely and sends nothing. Either way the question message is edited to show the
  answer and offer no choices. Questions are stored, so a click works after a restart.
- "Try again" re-sends a lost turn's message only when clicked, and at most once per failure.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import replace

from core.engine.context import TurnContext
from core.engine.reply import numbered
from core.messages import Msg
from core.models import QuestionEvent
from core.port import Incoming, Reply, ReplyKind
from core.store import Store
from core.store.base import Question

log = logging.getLogger("jupiter.engine")


def new_question_id() -> str:
    return f"q_{uuid.uuid4().hex[:16]}"


def match_answer(question: Question, text: str) -> str | None:
    """What `text` answers: an option's label (by number or name), the words themselves when
    free text is allowed, else None."""
    words = " ".join(text.split())
    options = question.options
    if words.isdigit() and 1 <= int(words) <= len(options):
        return options[int(words) - 1].label
    for choice in options:
        if words.casefold() == " ".join(choice.label.split()).casefold():
            return choice.label
    if question.allow_freeform or not options:
        return text.strip() or None
    return None


class Answers:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def remember(
        self, ctx: TurnContext, question_id: str, asked: QuestionEvent, message_id: str
    ) -> None:
        """Keep the question the turn's reply showed, so its answer (or click) finds it."""
        await self.store.add_question(
            Question(
                id=question_id,
                key=ctx.key,
                message_id=message_id,
                question=asked.question,
                options=tuple(c for c in asked.options if c.label.strip()),
                allow_freeform=asked.allow_freeform,
                language=ctx.language,
            )
        )

    async def typed(self, ctx: TurnContext, text: str) -> str | None:
        """The message to send for `text` (see the module docstring); None: nothing to send."""
        question = await self.store.open_question(ctx.key)
        if question is None:
            return text
        answer = match_answer(question, text)
        if answer is None:
            await ctx.thread.post(
                Reply(
                    ReplyKind.NOTICE,
                    ctx.say(Msg.QUESTION_REMIND),
                    details=numbered(question.options),
                    language=ctx.language,
                )
            )
            return None
        if await self.store.answer_question(question.id, answer):
            await self._show_answered(ctx, question, answer)
        return answer

    async def clicked(self, ctx: TurnContext) -> Incoming | None:
        """The next turn a click on a choice sends, or None (stale: said so)."""
        click = ctx.incoming.answer
        assert click is not None
        question = await self.store.get_question(click.question_id)
        if question is None or question.key != ctx.key:
            await ctx.post(ReplyKind.NOTICE, Msg.QUESTION_CLOSED)
            return None
        if question.answered_at is None and 0 <= click.option < len(question.options):
            label = question.options[click.option].label
            if await self.store.answer_question(question.id, label):
                await self._show_answered(ctx, question, label)
                # (its delivery id was spent on the click itself, so the turn carries none)
                return replace(ctx.incoming, text=label, answer=None, action=None, event_id=None)
            question = await self.store.get_question(question.id) or question
        if question.answer is not None:
            await ctx.post(ReplyKind.NOTICE, Msg.QUESTION_STALE, answer=question.answer[:200])
        else:
            await ctx.post(ReplyKind.NOTICE, Msg.QUESTION_CLOSED)
        return None

    async def _show_answered(self, ctx: TurnContext, question: Question, answer: str) -> None:
        """The question message shows the answer and no choices (a refused edit is only
        logged: the answer is on its way regardless)."""
        if not question.message_id:
            return
        shown = answer if len(answer) <= 200 else answer[:199] + "…"
        reply = Reply(
            ReplyKind.TEXT,
            question.question,
            details=(ctx.say(Msg.QUESTION_ANSWERED, answer=shown),),
            language=question.language,
        )
        try:
            await ctx.thread.update(question.message_id, reply)
        except Exception:
            log.warning("could not mark the question answered", extra={"thread_key": str(ctx.key)})

    async def retry(self, ctx: TurnContext) -> Incoming | None:
        """The lost message, taken once, as the next turn; None when there is none."""
        taken = await self.store.take_retry(ctx.key)
        if taken is None:
            with contextlib.suppress(Exception):
                await ctx.post(ReplyKind.NOTICE, Msg.NOTHING_TO_RETRY)
            return None
        text, user = taken
        return Incoming(text, user=user or ctx.user, locale=ctx.incoming.locale)
