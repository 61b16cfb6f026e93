"""What a finished agent turn says: a pure function from what happened to the reply.

A turn that asked (`question`) made nothing: its reply is the question with its numbered
options and never "no changes" nor an export button. The task detail link (`link`, given when
a conversation starts) and the suggested next steps are detail lines after the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.gui import GuiAction
from core.messages import Msg, say
from core.models import Choice, Draft, QuestionEvent
from core.port import Action, Reply, ReplyKind

SHOWN_LABEL = 200  # an option's label in its text line; the Reply's `choices` keep it whole
AUDIO, TEXT = 1, 7  # draft track types (NEMO_PROTOCOL.md)

BUTTONS = (Action.EXPORT, Action.STATUS, Action.CREDITS)


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    language: str
    final: str | None  # the agent's last words, still unposted
    spoke: bool  # the agent said anything at all this turn
    gui: frozenset[GuiAction]  # what its GUI talk asked Jupiter to do
    summary: str | None  # the timeline after the turn; None when it could not be read
    changes: tuple[str, ...] = ()  # what changed in the timeline, in words
    question: QuestionEvent | None = None  # the agent asked: the turn awaits an answer
    question_id: str | None = None
    link: str | None = None  # the task detail link, when the conversation starts
    next_steps: tuple[Msg, ...] = ()  # what to suggest after an edit


def announces_export(outcome: TurnOutcome) -> bool:
    """The closing reply itself says an export follows (a turn of GUI talk and nothing else);
    otherwise the export the agent asked for is announced on its own, so it never starts
    unexplained."""
    silent = outcome.final is None and not outcome.spoke and outcome.summary is not None
    return silent and GuiAction.EXPORT in outcome.gui


def compose_reply(outcome: TurnOutcome) -> Reply:
    """The message that replaces "Connecting..." at the end of a turn."""
    lang = outcome.language
    link = (say(Msg.TASK_LINK, lang, link=outcome.link),) if outcome.link else ()
    if outcome.question is not None:
        return ask_reply(outcome, link)
    reply = _told(outcome)
    steps = next_steps_line(outcome.next_steps, lang) if outcome.changes else ()
    if steps or link:
        return Reply(
            reply.kind,
            reply.text,
            reply.buttons,
            details=(*reply.details, *steps, *link),
            language=lang,
        )
    return reply


def ask_reply(outcome: TurnOutcome, link: tuple[str, ...] = ()) -> Reply:
    """The question, the agent's words before it, what changed (a turn may edit and then
    ask), and the options numbered as the last detail lines."""
    lang = outcome.language
    question = outcome.question
    assert question is not None
    text = question.question.strip() or say(Msg.QUESTION_FREE, lang)
    if outcome.final:
        text = f"{outcome.final}\n\n{text}"
    options = tuple(choice for choice in question.options if choice.label.strip())
    if not options:
        hint = Msg.QUESTION_FREE
    else:
        hint = Msg.QUESTION_PICK if question.allow_freeform else Msg.QUESTION_PICK_ONLY
    return Reply(
        ReplyKind.TEXT,
        text,
        details=(*outcome.changes, *link, say(hint, lang), *numbered(options)),
        language=lang,
        choices=options,
        question_id=outcome.question_id if options else None,
    )


def numbered(options: tuple[Choice, ...]) -> tuple[str, ...]:
    """`1. Cinematic`, one line per option, each cut to a readable length."""
    lines = []
    for number, choice in enumerate(options, start=1):
        label = " ".join(choice.label.split())
        if len(label) > SHOWN_LABEL:
            label = label[: SHOWN_LABEL - 1].rstrip() + "…"
        lines.append(f"{number}. {label}")
    return tuple(lines)


def next_steps(draft: Draft) -> tuple[Msg, ...]:
    """Two or three suggestions chosen from what the draft lacks, ending with export."""
    if not draft.ready:
        return ()
    kinds = {track.kind for track in draft.tracks if track.segments}
    steps = [Msg.NEXT_MUSIC if AUDIO not in kinds else Msg.NEXT_MUSIC_VOLUME]
    steps.append(Msg.NEXT_TITLE if TEXT not in kinds else Msg.NEXT_BIGGER_TITLE)
    return (*steps, Msg.NEXT_EXPORT)


def next_steps_line(steps: tuple[Msg, ...], lang: str) -> tuple[str, ...]:
    if not steps:
        return ()
    return (say(Msg.NEXT_STEPS, lang, steps=" · ".join(say(step, lang) for step in steps)),)


def _told(outcome: TurnOutcome) -> Reply:
    lang = outcome.language
    summary = (outcome.summary,) if outcome.summary is not None else ()
    if outcome.final is not None:
        return Reply(ReplyKind.TEXT, outcome.final, BUTTONS, details=summary, language=lang)
    if outcome.spoke or outcome.summary is None:
        # Every word already posted: the status message closes the turn.
        kind = ReplyKind.TIMELINE if summary else ReplyKind.TEXT
        return Reply(kind, say(Msg.TURN_DONE, lang), BUTTONS, details=summary, language=lang)
    changed = (*outcome.changes, *summary)
    if announces_export(outcome):
        return Reply(ReplyKind.TIMELINE, say(Msg.GUI_EXPORT, lang), details=changed, language=lang)
    if outcome.gui:
        return Reply(
            ReplyKind.TIMELINE, say(Msg.GUI_SHOW, lang), BUTTONS, details=changed, language=lang
        )
    if outcome.changes:
        return Reply(
            ReplyKind.TIMELINE,
            say(Msg.NO_TEXT_CHANGES, lang),
            BUTTONS,
            details=changed,
            language=lang,
        )
    return Reply(
        ReplyKind.TIMELINE, say(Msg.NO_TEXT_SAME, lang), BUTTONS, details=summary, language=lang
    )
