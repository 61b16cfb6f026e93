"""The agent asks (`ask_question`): every documented spelling is one typed `QuestionEvent`, and
no malformed question can crash a turn or flood a chat."""

from __future__ import annotations

from typing import Any

import pytest

from core.client import Credentials, NemoClient
from core.models import Choice, EndEvent, HeartbeatEvent, QuestionEvent, TextEvent, TurnEvent
from core.questions import DEFAULT_QUESTION, MAX_LABEL, question_from_args
from tests.client.conftest import RUN_PATH, Backend, payload, sse, stream

SID = "5529798706024415232"
STYLES = (Choice("Cinematic"), Choice("Anime"), Choice("Watercolor"))


async def _turn(
    backend: Backend, nemo: NemoClient, creds: Credentials, *frames: Any
) -> list[TurnEvent]:
    backend.on("POST", RUN_PATH, stream(sse(*frames)))
    return [event async for event in nemo.run_turn(creds, SID, "a sunset")]


def _plain(args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_call", "name": "ask_question", "args": args}


def _adk(args: dict[str, Any]) -> dict[str, Any]:
    call = {"id": "call_9", "name": "ask_question", "args": args}
    return {"content": {"role": "model", "parts": [{"functionCall": call}]}, "author": "nemo_agent"}


@pytest.mark.parametrize("wrap", [_plain, _adk], ids=["plain", "adk"])
@pytest.mark.parametrize(
    "args",
    [
        {"question": "Which style?", "options": ["Cinematic", "Anime", "Watercolor"]},
        {"prompt": "Which style?", "options": ["Cinematic", "Anime", "Watercolor"]},
    ],
    ids=["question", "prompt"],
)
async def test_each_spelling_is_one_question(backend, nemo, creds, wrap, args) -> None:
    events = await _turn(backend, nemo, creds, wrap(args))
    assert events == [QuestionEvent("Which style?", STYLES, True), EndEvent()]


@pytest.mark.parametrize("key", ["allow_freeform", "allowFreeform"])
async def test_freeform_in_both_spellings(backend, nemo, creds, key) -> None:
    args = {"question": "Which style?", "options": [{"id": "c", "label": "Cinematic"}], key: False}
    events = await _turn(backend, nemo, creds, _plain(args))
    assert events[0] == QuestionEvent("Which style?", (Choice("Cinematic", "c"),), False)


async def test_a_question_after_text_keeps_the_order(backend, nemo, creds) -> None:
    events = await _turn(backend, nemo, creds, *payload("turn_question_adk"))
    assert HeartbeatEvent() in events  # the content-less ADK event: alive, nothing to say
    assert [event for event in events if not isinstance(event, HeartbeatEvent)] == [
        TextEvent("Before I start, one question."),
        QuestionEvent(
            "Which style?",
            (Choice("Cinematic", "cinematic"), Choice("Anime", "anime"), Choice("Watercolor")),
            False,
        ),
        EndEvent(),
    ]


async def test_partial_text_before_a_question_comes_first(backend, nemo, creds) -> None:
    chunks = [
        {"content": {"role": "model", "parts": [{"text": t}]}, "partial": True}
        for t in ("One ", "question.")
    ]
    events = await _turn(backend, nemo, creds, *chunks, _plain({"question": "Style?"}))
    assert events[:2] == [TextEvent("One question."), QuestionEvent("Style?", (), True)]


def test_no_options_means_free_text() -> None:
    assert question_from_args({"question": "What now?", "allow_freeform": False}) == QuestionEvent(
        "What now?", (), True
    )
    assert question_from_args({"question": "What now?", "options": "nope"}).options == ()


def test_sixty_options_are_all_kept() -> None:
    question = question_from_args(
        {"question": "Pick", "options": [f"Style {n}" for n in range(60)]}
    )
    assert len(question.options) == 60 and question.options[59] == Choice("Style 59")


def test_huge_labels_are_cut_with_an_ellipsis() -> None:
    question = question_from_args(
        {"question": "Pick", "options": ["x" * 10_000, {"label": "y" * 10_000}]}
    )
    for choice in question.options:
        assert len(choice.label) == MAX_LABEL and choice.label.endswith("…")
    assert len(question_from_args({"question": "q" * 50_000}).question) <= 2000


def test_odd_labels_duplicates_and_empty_text() -> None:
    args = {
        "question": "   ",
        "options": [
            3,
            None,
            {"label": 4.5},
            "",
            {"id": "only-id"},
            {"label": ["list"]},
            "Anime",
            "anime",
            " Anime ",
        ],
    }
    question = question_from_args(args)
    assert question.question == DEFAULT_QUESTION
    assert [choice.label for choice in question.options] == ["3", "4.5", "only-id", "Anime"]


@pytest.mark.parametrize(
    "args", [None, [], "Which style?", '{"question": "Which?"}', {"options": [{}]}, 42]
)
def test_garbage_arguments_never_raise(args) -> None:
    question = question_from_args(args)
    assert question.question and isinstance(question.options, tuple)
