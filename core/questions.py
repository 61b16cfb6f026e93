"""The agent's `ask_question` tool call, read into a `QuestionEvent` whatever its spelling.

What must hold: every documented spelling is accepted (`question`/`prompt`, `options` as strings
or `{id, label}` objects, `allow_freeform`/`allowFreeform`), and nothing in the arguments can
crash the turn or flood a chat: labels are cut to `MAX_LABEL` characters, non-text labels are
made text (or dropped when empty), duplicates dropped, at most `MAX_OPTIONS` kept, token
shapes masked (`core.redact`).
No option at all leaves free text as the only answer, so it is then always allowed.
"""

from __future__ import annotations

import json
from typing import Any

from core.models import Choice, QuestionEvent
from core.redact import mask_secrets

ASK_TOOL = "ask_question"
MAX_LABEL = 200
MAX_QUESTION = 2000
MAX_OPTIONS = 100  # far more than any surface shows (the UI caps them); bounds a flood
DEFAULT_QUESTION = "The agent needs more details before it goes on. What would you like?"


def question_from_args(args: Any) -> QuestionEvent:
    """The question an `ask_question` call's arguments hold (never raises)."""
    if isinstance(args, str):  # some gateways send the arguments as a JSON string
        try:
            args = json.loads(args)
        except (ValueError, RecursionError):
            args = {"question": args}
    args = args if isinstance(args, dict) else {}
    text = _label(args.get("question"), MAX_QUESTION) or _label(args.get("prompt"), MAX_QUESTION)
    options = _choices(args.get("options", args.get("choices")))
    freeform = args.get("allow_freeform", args.get("allowFreeform"))
    allow = freeform is not False and freeform != "false" or not options
    return QuestionEvent(text or DEFAULT_QUESTION, options, bool(allow))


def _choices(raw: Any) -> tuple[Choice, ...]:
    if not isinstance(raw, list | tuple):
        return ()
    seen: set[str] = set()
    out: list[Choice] = []
    for item in raw[: MAX_OPTIONS * 4]:  # duplicates are dropped: look a little further
        if len(out) >= MAX_OPTIONS:
            break
        choice = _choice(item)
        if choice is None or choice.label.casefold() in seen:
            continue
        seen.add(choice.label.casefold())
        out.append(choice)
    return tuple(out)


def _choice(item: Any) -> Choice | None:
    if isinstance(item, dict):
        label = _label(item.get("label", item.get("text", item.get("value"))), MAX_LABEL)
        raw_id = item.get("id")
        choice_id = _label(raw_id, MAX_LABEL) if raw_id is not None else None
        label = label or (choice_id or "")
        return Choice(label, choice_id or None) if label else None
    label = _label(item, MAX_LABEL)
    return Choice(label) if label else None


def _label(value: Any, limit: int) -> str:
    """One line of text at most `limit` characters long ("" for nothing usable)."""
    if value is None or isinstance(value, dict | list | tuple):
        return ""
    text = mask_secrets(" ".join(str(value)[: limit * 4].split()))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
