"""The scripted agent's questions: when a first prompt names no style, it may stop and ask.

With the `question_ratio` knob (0 by default, so demos and tests that do not ask for questions
see none) that share of first prompts without a style word is answered by an `ask_question`
call, "Which style?" with Cinematic / Anime / Watercolor and free text allowed, and nothing
else: the turn ends awaiting input, costs nothing and changes nothing. The next message in the
session is the answer; it is read together with the prompt it answers.
"""

from __future__ import annotations

import random
import re
from typing import Any

from core.sim.accounts import Session

ASK_TOOL = "ask_question"
STYLES = ("Cinematic", "Anime", "Watercolor")
STYLE_WORDS = re.compile(
    r"cinematic|anime|watercolou?r|cartoon|realistic|style|pixel|3d|风格|动漫|水彩|电影感",
    re.IGNORECASE,
)


def maybe_ask(
    text: str, session: Session, rng: random.Random, ratio: float
) -> dict[str, Any] | None:
    """The `ask_question` arguments when this turn asks, else None. Remembers what was asked."""
    if session.turns != 1 or not ratio or STYLE_WORDS.search(text) or rng.random() >= ratio:
        return None
    session.asked = text
    if rng.random() < 0.5:
        return {"question": "Which style?", "options": list(STYLES), "allow_freeform": True}
    options = [{"id": style.lower(), "label": style} for style in STYLES]
    return {"prompt": "Which style?", "options": options, "allowFreeform": True}


def answered(session: Session, text: str) -> str:
    """The message a turn works on: an answer to a pending question joins the prompt asked."""
    prompt, session.asked = session.asked, None
    return f"{prompt} ({text.strip()} style)" if prompt else text
