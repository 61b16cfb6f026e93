"""The task detail link (at the start, in status, with every video, never blocking), exports
a plan refuses (402), lost streams watched and never re-sent, and what a turn suggests next."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from core.engine.lost import recovery_waits
from core.port import Action, ReplyKind, ThreadKey
from core.sim import LocalBackend
from core.store import Store
from tests.conftest import RuntimeFactory
from tests.engine.steer import steered
from tests.engine.test_asks import sent_texts
from tests.fakes.chat import Chat
from tests.fakes.thread import FakeThread, Said

LINK = "Open this project in NemoVideo: https://nemovideo.com/workspace/claim?ct=clm_"


def key(name: str = "l1") -> ThreadKey:
    return ThreadKey("console", "team", "chan", name)


def videos(thread: FakeThread) -> list[Said]:
    return [s for s in thread.log if s.op == "post" and s.reply and s.reply.kind is ReplyKind.VIDEO]


async def test_the_link_comes_at_the_start_in_status_and_with_every_video(
    runtime: RuntimeFactory,
) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        chat = Chat(rt.engine, thread)
        await chat.say("a 3-second sunset over mountains")
        assert LINK in thread.log[-1].text
        await chat.say("make the title bigger")
        assert LINK not in thread.log[-1].text  # once, when the conversation starts
        await chat.say("status")
        assert LINK in thread.log[-1].text
        await chat.say("export")
        (video,) = videos(thread)
        assert LINK in video.text and "nmv_usr_" not in video.text


async def test_a_refused_claim_token_never_blocks_a_turn_or_a_delivery(
    sim: LocalBackend, store: Store
) -> None:
    refuse = {"/api/auth/claim-token": lambda _: httpx.Response(500, json={"code": 500})}
    async with steered(sim, store, refuse) as engine:
        thread = FakeThread(key())
        chat = Chat(engine, thread)
        await chat.say("a 3-second sunset over mountains")
        assert "Timeline (" in thread.log[-1].text and "claim" not in thread.transcript()
        await chat.say("export")
        (video,) = videos(thread)
        assert video.reply is not None and video.reply.video_url and "claim" not in video.text
        refuse.clear()  # tried again next time
        await chat.say("status")
        assert LINK in thread.log[-1].text


async def test_an_export_the_plan_refuses_says_so_with_the_link_and_an_operator_hint(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        chat = Chat(rt.engine, thread)
        await chat.say("a 3-second sunset over mountains")
        sim.set_faults({"anonymous_render": False})
        said = await chat.say("export")
        error = [s for s in said if s.reply and s.reply.kind is ReplyKind.ERROR][-1]
        assert "plan" in error.text and "not credits" in error.text
        assert LINK in error.text and "NEMO_TOKEN" in error.text and "`render`" in error.text
        async with httpx.AsyncClient() as http:
            log = (await http.get(sim.base_url + "/_sim/log")).json()
        renders = [e for e in log if e["path"] == "/api/render/proxy/lambda"]
        assert len(renders) == 1  # not retried
        assert not videos(thread)


@asynccontextmanager
async def lost_turn(
    runtime: RuntimeFactory, sim: LocalBackend, fault: str
) -> AsyncIterator[tuple[FakeThread, Chat]]:
    """A first turn whose stream the local backend loses (`lose_stream_after`: the agent goes
    on and commits) or cuts (`drop_stream_after`: nothing is made); sent once, told so."""
    sim.set_faults({fault: 2, "turn_seconds": 0.3})
    async with runtime() as rt:
        thread = FakeThread(key())
        chat = Chat(rt.engine, thread)
        await chat.say("a koi pond")
        assert "connection to the video service dropped" in thread.transcript()
        assert await sent_texts(sim) == ["a koi pond"]
        yield thread, chat


async def test_a_lost_stream_is_watched_and_the_change_reported_without_re_sending(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with lost_turn(runtime, sim, "lose_stream_after") as (thread, _):
        final = thread.log[-1]
        assert final.reply is not None and final.reply.kind is ReplyKind.TIMELINE
        assert "Here's what changed" in final.text and "Timeline (" in final.text


async def test_an_unchanged_lost_turn_fails_with_try_again_which_re_sends_once(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with lost_turn(runtime, sim, "drop_stream_after") as (thread, chat):
        final = thread.log[-1]
        assert final.reply is not None and final.reply.kind is ReplyKind.ERROR
        assert final.reply.buttons == (Action.RETRY,) and "step failed" in final.text
        await chat.say("status")
        assert thread.log[-1].text.startswith("Timeline (")
        assert await sent_texts(sim) == ["a koi pond"]  # nothing re-sent without the click
        sim.set_faults({"drop_stream_after": 0})
        await chat.click(Action.RETRY)
        assert await sent_texts(sim) == ["a koi pond", "a koi pond"]
        assert "Timeline (" in thread.log[-1].text
        again = await chat.click(Action.RETRY)
        assert await sent_texts(sim) == ["a koi pond", "a koi pond"]
        assert again[-1].text == "There is nothing to try again."


def test_recovery_waits_double_and_are_bounded() -> None:
    assert recovery_waits(30) == (30, 60, 120, 120, 120)
    assert sum(recovery_waits(0.05)) < 1


async def test_a_generation_is_told_in_two_stages_and_an_edit_suggests_next_steps(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"turn_seconds": 0.4, "credits": 10_000})
    async with runtime(heartbeat_seconds=0.2) as rt:
        thread = FakeThread(key())
        chat = Chat(rt.engine, thread)
        await chat.say("a 3-second sunset over mountains")
        assert "adding music and a title" in thread.transcript()
        await chat.say("remove the music")
        final = thread.log[-1].text
        assert "Next: add music · " in final and final.rstrip().endswith("export")
