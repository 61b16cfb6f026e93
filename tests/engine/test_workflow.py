"""The video workflow as conversations: versions and `export vN`, the gallery, a fresh start,
per-user defaults, the limits, and the words that must not cost a turn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from core.engine.limits import utc_day
from core.port import ReplyKind, ThreadKey
from core.sim import LocalBackend
from tests.conftest import RuntimeFactory
from tests.fakes.chat import Chat
from tests.fakes.thread import FakeThread


def key(name: str = "t1") -> ThreadKey:
    return ThreadKey("console", "team", "chan", name)


async def backend_log(sim: LocalBackend) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        data = (await http.get(sim.base_url + "/_sim/log", timeout=5)).json()
    return data if isinstance(data, list) else data.get("requests", [])  # type: ignore[no-any-return]


async def sent_turns(sim: LocalBackend) -> list[str]:
    return [
        e["json"]["new_message"]["parts"][0]["text"]
        for e in await backend_log(sim)
        if e["path"] == "/run_sse"
    ]


async def test_versions_list_and_an_old_version_exports_its_own_draft(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 1000, "no_text_ratio": 0.0})
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("a 4-second sunset over mountains")
        await chat.say("make it 6 seconds")
        await chat.say("versions")
        listing = chat.last.text
        assert 'v1: "a 4-second sunset over mountains" · 4 s, 3 tracks' in listing
        assert "v2: \"make it 6 seconds\" · Video 'sunset over mountains' now 0-6s" in listing
        assert listing.endswith("duration 4s -> 6s")
        stored = await rt.store.get_version(chat.thread.key, 1)
        assert stored is not None

        turns_before = len(await sent_turns(sim))
        said = await chat.say("export v1")
        renders = [e for e in await backend_log(sim) if e["path"] == "/api/render/proxy/lambda"]
        assert renders[-1]["json"]["draft"] == json.loads(stored.draft_json)  # v1, not v2
        assert len(await sent_turns(sim)) == turns_before  # a render takes a draft: no turn
        video = next(s for s in said if s.reply and s.reply.kind is ReplyKind.VIDEO)
        assert 'Version v1: "a 4-second sunset over mountains"' in video.text

        again = await chat.say("export v1")  # delivered already: the same link, no render
        assert "v1 was delivered already" in again[-1].text
        assert len(
            [e for e in await backend_log(sim) if e["path"] == "/api/render/proxy/lambda"]
        ) == len(renders)

        await chat.say("videos")
        assert chat.last.text.startswith("Videos delivered in this conversation:")
        assert (
            "v1 · " in chat.last.text
            and video.reply
            and str(video.reply.video_url) in chat.last.text
        )


async def test_unknown_version_and_chinese_commands(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("版本")
        assert chat.last.text == "还没有版本：先描述一个视频来生成 v1。"
        await chat.say("export v7")
        assert "There is no v7 here" in chat.last.text
        await chat.say("视频")
        assert "还没有导出过视频" in chat.last.text
        assert await sent_turns(sim) == []


async def test_new_starts_a_fresh_session_and_versions_keep_the_videos_apart(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 1000, "no_text_ratio": 0.0})
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("a 3-second city timelapse")
        first = await rt.store.get_thread(chat.thread.key)
        await chat.say("start over")
        assert "Starting a new video" in chat.last.text
        await chat.say("a 3-second forest in autumn")
        second = await rt.store.get_thread(chat.thread.key)
        assert first and second and first.session_id != second.session_id
        sessions = [e for e in await backend_log(sim) if "with-session" in e["path"]]
        assert len(sessions) == 2
        await chat.say("history")
        lines = chat.last.text.splitlines()
        assert lines[1].startswith('v1: "a 3-second city timelapse"')
        assert lines[2] == "— new video —"
        assert lines[3].startswith('v2: "a 3-second forest in autumn" · 3 s')
        await chat.say("重新开始")
        assert "开始一个新视频" in chat.last.text


async def test_defaults_apply_to_the_next_new_video_and_are_shown(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 1000, "no_text_ratio": 0.0})
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("settings")
        assert "no defaults" in chat.last.text and "set aspect 9:16" in chat.last.text
        await chat.say("set aspect vertical")
        assert chat.last.text == "✅ Saved: aspect 9:16. It applies to your next new video."
        await chat.say("set duration 15")
        await chat.say("set duration forever")
        assert chat.last.reply and chat.last.reply.kind is ReplyKind.ERROR
        assert "seconds from 3 to 600" in chat.last.text
        await chat.say("settings")
        assert "Your defaults for new videos: 9:16, 15 s." in chat.last.text
        said = await chat.say("a sunset over the sea")
        assert any("Using your defaults: 9:16, 15 s" in s.text for s in said)
        assert (await sent_turns(sim))[
            -1
        ] == "a sunset over the sea (aspect ratio 9:16, 15 seconds long)"
        await chat.say("make the title bigger")  # an edit: no defaults added
        assert (await sent_turns(sim))[-1] == "make the title bigger"
        other = Chat(rt.engine, FakeThread(key("t2")), user="someone-else")
        await other.say("a sunset over the sea")
        assert (await sent_turns(sim))[-1] == "a sunset over the sea"  # defaults are per user


async def test_a_chosen_language_answers_in_it(runtime: RuntimeFactory, sim: LocalBackend) -> None:
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("set language zh")
        await chat.say("versions")
        assert chat.last.text == "还没有版本：先描述一个视频来生成 v1。"


async def test_a_full_queue_refuses_once_and_sends_nothing_more(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000, "turn_seconds": 0.6})
    async with runtime(max_queued_per_thread=2) as rt:
        thread = FakeThread(key())
        chat = Chat(rt.engine, thread)
        from core.port import Incoming

        for n in range(8):
            await rt.engine.handle(thread, Incoming(f"make it {n + 3} seconds", user="u1"))
        await rt.engine.idle(30)
        refusals = [s for s in thread.log if "JUPITER_MAX_QUEUED_PER_THREAD" in s.text]
        assert [s.op for s in refusals if s.op == "post"] == ["post"]  # one for the burst
        assert {s.message_id for s in refusals} == {refusals[0].message_id}  # kept current:
        assert "5 messages refused for this so far" in refusals[-1].text  # none unanswered
        assert len(await sent_turns(sim)) == 3  # the first, and the two that fit the queue
        assert chat.last.reply is not None


async def test_the_daily_budget_refuses_a_turn_before_it_is_sent_and_credits_show_it(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000, "no_text_ratio": 0.0})
    async with runtime(user_daily_credits=120) as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("a 3-second waterfall")  # a generation: 100 of 120
        await chat.say("make it 5 seconds")  # an edit: 50 more would pass the budget
        assert chat.last.reply and chat.last.reply.kind is ReplyKind.ERROR
        assert "about 50 credits" in chat.last.text and "20 left" in chat.last.text
        assert await sent_turns(sim) == ["a 3-second waterfall"]
        assert await rt.store.spent_today("console", "team", "u1", utc_day()) == 100
        await chat.say("credits")
        assert "spent about 100 of your 120 daily credits" in chat.last.text


async def test_a_low_balance_refuses_a_new_video_with_the_way_forward(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 40})
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("a 3-second waterfall")
        assert "cost about 100 credits and only 40 are left" in chat.last.text
        assert "register?bind=anon_" in chat.last.text
        assert await sent_turns(sim) == []


async def test_one_users_turns_beyond_the_limit_wait_their_turn(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000, "turn_seconds": 0.5})
    async with runtime(max_turns_per_user=1) as rt:
        a, b = FakeThread(key("a")), FakeThread(key("b"))
        from core.port import Incoming

        await rt.engine.handle(a, Incoming("a city at night", user="u1"))
        await rt.engine.handle(b, Incoming("a beach at noon", user="u1"))
        await rt.engine.idle(30)
        end_a = a.log[-1].at
        end_b = b.log[-1].at
        first, second = sorted((end_a, end_b))
        assert second - first >= 0.4  # one after the other, not side by side
        assert len(await sent_turns(sim)) == 2


async def test_words_that_must_not_cost_a_turn(runtime: RuntimeFactory, sim: LocalBackend) -> None:
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("undo")
        assert "export v2" in chat.last.text
        await chat.say("quit")
        assert "Nothing to quit here" in chat.last.text
        await chat.say("/help")
        assert "I turn descriptions into videos" in chat.last.text
        assert await sent_turns(sim) == []


async def test_versions_and_videos_survive_a_restart(
    tmp_path: Path, runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 1000, "no_text_ratio": 0.0})
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("a 2-second clip of rain")
        await chat.say("export")
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("versions")
        assert 'v1: "a 2-second clip of rain"' in chat.last.text
        await chat.say("videos")
        assert "v1 · " in chat.last.text


async def test_a_delivered_video_carries_a_poster_of_its_picture(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    import io

    from PIL import Image

    sim.set_faults({"credits": 1000, "no_text_ratio": 0.0})
    async with runtime() as rt:
        chat = Chat(rt.engine, FakeThread(key()))
        await chat.say("a 2-second sunset over mountains")
        said = await chat.say("export")
        video = next(s for s in said if s.reply and s.reply.kind is ReplyKind.VIDEO)
        assert video.reply is not None and video.reply.poster is not None
        image = Image.open(io.BytesIO(video.reply.poster))
        assert image.format == "JPEG" and max(image.size) <= 640
        top, bottom = (
            image.getpixel((image.width // 2, 2)),
            image.getpixel((image.width // 2, image.height - 3)),
        )
        assert top != bottom  # a picture (sky above, land below), not a flat colour
        jobs = await rt.store.posted_renders(chat.thread.key)
        assert await rt.store.get_poster(jobs[0].id)  # kept with the video
