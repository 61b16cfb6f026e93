"""What a finished agent turn says: a pure function from what happened to the reply."""

from __future__ import annotations

from dataclasses import dataclass

from core.gui import GuiAction
from core.messages import Msg, say
from core.port import Action, Reply, ReplyKind

BUTTONS = (Action.EXPORT, Action.STATUS, Action.CREDITS)


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    language: str
    final: str | None  # the agent's last words, still unposted
    spoke: bool  # the agent said anything at all this turn
    gui: frozenset[GuiAction]  # what its GUI talk asked Jupiter to do
    summary: str | None  # the timeline after the turn; None when it could not be read
    changes: tuple[str, ...] = ()  # what changed in the timeline, in words


def announces_export(outcome: TurnOutcome) -> bool:
    """The closing reply itself says an export follows (a turn of GUI talk and nothing else);
    otherwise the export the agent asked for is announced on its own, so it never starts
    unexplained."""
    silent = outcome.final is None and not outcome.spoke and outcome.summary is not None
    return silent and GuiAction.EXPORT in outcome.gui


def compose_reply(outcome: TurnOutcome) -> Reply:
    """The message that replaces "Connecting..." at the end of a turn."""
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
