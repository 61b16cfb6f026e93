"""The agent asks: the question and its options shown, answered by number, name, click or the
user's own words, the question message updated after, and clicks that survive a restart."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.port import Action, Answer, Incoming, Reply, ReplyKind, ThreadKey
from core.sim import LocalBackend
from core.store import Store
from tests.conftest import RuntimeFactory
from tests.engine.steer import ask, sse, steered
from tests.fakes.chat import Chat
from tests.fakes.thread import FakeThread, Said

STYLES = ["Cinematic", "Anime", "Watercolor"]


def key(name: str = "q1") -> ThreadKey:
    return ThreadKey("console", "team", "chan", name)


async def sent_texts(sim: LocalBackend) -> list[str]:
    """What each turn sent the agent, in order."""
    async with httpx.AsyncClient() as http:
        log = (await http.get(sim.base_url + "/_sim/log", timeout=5)).json()
    entries = log if isinstance(log, list) else log.get("requests", [])
    return [
        e["json"]["new_message"]["parts"][0]["text"] for e in entries if e["path"] == "/run_sse"
    ]


def question_of(said: list[Said]) -> Reply:
    asked = [s.reply for s in said if s.reply is not None and s.reply.choices]
    assert asked, "no question shown"
    return asked[-1]


@pytest.fixture(autouse=True)
def asking(sim: LocalBackend) -> None:
    sim.set_faults({"question_ratio": 1.0})


async def test_a_question_shows_numbered_options_and_never_no_changes_or_export(
    runtime: RuntimeFactory,
) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        said = await Chat(rt.engine, thread).say("a koi pond")
        reply = question_of(said)
        assert reply.text == "Which style?"
        assert [c.label for c in reply.choices] == STYLES and reply.question_id
        assert reply.details[-3:] == ("1. Cinematic", "2. Anime", "3. Watercolor")
        assert reply.details_without_choices == reply.details[:-3]
        assert not reply.buttons and Action.EXPORT not in reply.buttons
        words = thread.transcript().lower()
        assert "changed" not in words and "unchanged" not in words and "done" not in words


@pytest.mark.parametrize(("typed", "label"), [("2", "Anime"), ("  watercolor ", "Watercolor")])
async def test_a_number_or_a_name_sends_the_label_and_the_question_shows_the_answer(
    runtime: RuntimeFactory, sim: LocalBackend, typed: str, label: str
) -> None:
    async with runtime() as rt:
        thread, chat = FakeThread(key()), None
        chat = Chat(rt.engine, thread)
        asked_at = len(thread.log)
        await chat.say("a koi pond")
        head = thread.log[asked_at].message_id
        said = await chat.say(typed)
        assert (await sent_texts(sim))[-1] == label
        marked = [s for s in said if s.op == "update" and s.message_id == head]
        assert marked and marked[0].reply is not None
        assert f"Answered: {label}" in marked[0].text and not marked[0].reply.choices
        assert "Timeline (" in thread.log[-1].text and label.lower() in thread.log[-1].text.lower()


async def test_free_words_are_the_answer_when_the_agent_allows_them(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("a koi pond")
        await chat.say("pixel art, please")
        assert (await sent_texts(sim))[-1] == "pixel art, please"


async def test_a_click_sends_the_label_once_and_a_second_click_is_told_politely(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        chat = Chat(rt.engine, thread)
        reply = question_of(await chat.say("a koi pond"))
        assert reply.question_id is not None
        click = Answer(reply.question_id, 0)
        await chat.send(Incoming("", user="u1", answer=click, event_id="c1"))
        assert (await sent_texts(sim))[-1] == "Cinematic"
        turns = len(await sent_texts(sim))
        again = await chat.send(Incoming("", user="u1", answer=Answer(reply.question_id, 1)))
        assert len(await sent_texts(sim)) == turns
        assert [s.text for s in again] == ["That question was already answered: Cinematic"]
        unknown = await chat.send(Incoming("", user="u1", answer=Answer("q_nope", 0)))
        assert "no longer open" in unknown[-1].text and len(await sent_texts(sim)) == turns


async def test_a_click_after_a_restart_still_answers_and_updates_the_question(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with runtime(owner="first") as rt:
        thread = FakeThread(key())
        said = await Chat(rt.engine, thread).say("a koi pond")
        reply = question_of(said)
        head = next(s for s in said if s.reply is reply).message_id
    async with runtime(owner="second") as rt:
        thread = FakeThread(key())
        assert reply.question_id is not None
        said = await Chat(rt.engine, thread).send(
            Incoming("", user="u1", answer=Answer(reply.question_id, 2))
        )
        assert (await sent_texts(sim))[-1] == "Watercolor"
        assert any(
            s.op == "update" and s.message_id == head and "Watercolor" in s.text for s in said
        )


async def test_only_listed_answers_are_taken_when_free_text_is_not_allowed(
    sim: LocalBackend, store: Store
) -> None:
    args = {"question": "Which format?", "options": ["16:9", "9:16"], "allow_freeform": False}
    async with steered(sim, store, {"/run_sse": ask(args)}) as engine:
        thread = FakeThread(key())
        chat = Chat(engine, thread)
        assert question_of(await chat.say("a koi pond")).details[-2:] == ("1. 16:9", "2. 9:16")
        reminded = await chat.say("something else entirely")
        assert reminded[-1].reply is not None and reminded[-1].reply.kind is ReplyKind.NOTICE
        assert "1. 16:9" in reminded[-1].text and "Connecting" not in thread.transcript()[-200:]
        assert await store.open_question(key()) is not None


@pytest.mark.parametrize(
    ("args", "check"),
    [
        ({"question": "Tell me more?"}, "none"),
        ({"question": "Pick", "options": [f"Style {n}" for n in range(60)]}, "sixty"),
        ({"prompt": "Long?", "options": ["x" * 10_000, {"label": "y" * 10_000}]}, "long"),
        ({"options": [None, {}, "", 5]}, "junk"),
    ],
)
async def test_malformed_questions_are_shown_sensibly(
    sim: LocalBackend, store: Store, args: dict[str, Any], check: str
) -> None:
    async with steered(sim, store, {"/run_sse": ask(args)}) as engine:
        thread = FakeThread(key())
        said = await Chat(engine, thread).say("a koi pond")
        final = said[-1].reply
        assert final is not None and not final.buttons
        if check == "none":
            assert final.text == "Tell me more?" and not final.choices
            assert final.question_id is None and "own words" in final.details[-1]
        elif check == "sixty":
            assert len(final.choices) == 60 and final.details[-1] == "60. Style 59"
        elif check == "long":
            assert len(final.choices) == 2
            assert all(len(line) <= 210 for line in final.details)
        else:
            assert [c.label for c in final.choices] == ["5"]


async def test_a_question_in_a_turn_that_also_made_the_video(
    sim: LocalBackend, store: Store
) -> None:
    draft = {"t": [{"tt": 0, "sg": [{"d": 3000, "m": {"name": "koi"}}]}], "d": 3000}
    state = {"code": 0, "data": {"state": {"draft": draft}}}
    turn = ask(
        {"question": "Add music?", "options": ["Yes", "No"]},
        {"type": "text", "content": "Here is your koi pond."},
        {"type": "tool_result", "name": "generate_video", "result": {"status": "success"}},
    )
    paths = {"/run_sse": turn}
    async with steered(sim, store, paths) as engine:
        thread = FakeThread(key())
        chat = Chat(engine, thread)
        await chat.say("warm up")  # a session exists: the state path is now known
        row = await store.get_thread(key())
        assert row is not None and row.session_id
        paths[f"/api/state/nemo_agent/me/{row.session_id}/latest"] = lambda _: httpx.Response(
            200, json=state
        )
        await store.close_questions(key())
        said = await chat.say("a koi pond")
        final = question_of(said)
        assert "Here is your koi pond." in thread.transcript() and final.text.endswith("Add music?")
        assert any("koi" in line for line in final.details_without_choices)
        assert Action.EXPORT not in final.buttons
        assert not [s for s in thread.log if s.reply and s.reply.kind is ReplyKind.VIDEO]


async def test_console_numbers_the_options_and_takes_retry() -> None:
    from bots.console import parse_line, render
    from core.engine.intake import intent_of
    from core.intents import Intent
    from core.models import Choice

    reply = Reply(
        ReplyKind.TEXT,
        "Which style?",
        details=("Reply with a number:", "1. Cinematic", "2. Anime"),
        choices=(Choice("Cinematic"), Choice("Anime")),
        question_id="q_1",
    )
    lines = render(reply).splitlines()
    assert lines[0] == "Which style?" and [line.strip() for line in lines[2:]] == [
        "1. Cinematic",
        "2. Anime",
    ]
    for line in ("retry", "Try again"):
        incoming, said = parse_line(line)
        assert incoming is not None and said == [] and intent_of(incoming) is Intent.RETRY
    assert intent_of(Incoming("", action=Action.RETRY)) is Intent.RETRY
    failed = Reply(ReplyKind.ERROR, "That step failed.", (Action.RETRY,))
    assert "try again" in render(failed)
    _ = sse  # the crafted-stream helper is shared with test_links
