"""`/run_sse`: the scripted agent's turns, their shapes, costs and faults (NEMO_PROTOCOL.md §3)."""

from __future__ import annotations

import asyncio

import httpx

from core.sim import Faults, LocalBackend
from tests.sim.conftest import ATTRIBUTION

GENERATE = "generate_video_with_seedance"
EDIT = "edit_multitrack"


async def test_generation_turn_builds_the_draft(nemo):
    token, session = await nemo.start()
    prompt = "Make a 30-second video of a sunset over mountains with lo-fi music at 35%"
    turn = await nemo.turn(token, session, prompt)
    assert turn.status == 200 and not turn.cut
    meaningful = [kind for kind in turn.kinds() if kind != "heartbeat"]
    assert meaningful == ["text", "tool_call", "tool_result", "text"]
    assert turn.tools() == [("tool_call", GENERATE), ("tool_result", GENERATE)]
    assert turn.texts()[0].startswith("I'll generate")

    draft = (await nemo.state(token, session))["draft"]
    video, music, title = draft["t"]
    assert video["tt"] == 0 and video["sg"][0]["m"]["name"] == "sunset over mountains"
    assert video["sg"][0]["m"]["color"].startswith("#")
    assert music["tt"] == 1 and music["sg"][0]["m"] == {"name": "Lo-fi", "volume": 35}
    assert title["tt"] == 7 and title["sg"][0]["m"]["text"] == "Sunset Over Mountains"
    assert draft["d"] == 30000 and video["sg"][0]["d"] == 30000
    assert draft["m"] == {"title": "Sunset Over Mountains", "width": 1920, "height": 1080}
    assert await nemo.balance(token) == {"available": 0, "frozen": 0, "total": 0}


async def test_generation_reads_duration_and_aspect(nemo, backend):
    backend.set_faults({"credits": 1000})
    token, _ = await nemo.start()
    cases = {
        "a 1-minute vertical video of rain on a window": (60000, 1080, 1920),
        "square 15s clip of a cat playing, 720p": (15000, 720, 720),
        "a city timelapse": (10000, 1920, 1080),
    }
    for prompt, (duration, width, height) in cases.items():
        session = await nemo.session(token)
        await nemo.turn(token, session, prompt)
        state = await nemo.state(token, session)
        assert (
            state["draft"]["d"],
            state["draft"]["m"]["width"],
            state["draft"]["m"]["height"],
        ) == (
            duration,
            width,
            height,
        ), prompt
        assert state["canvas_config"] == {"width": width, "height": height}


async def test_edits_change_the_draft_and_cost_50(nemo, backend):
    backend.set_faults({"credits": 1000, "no_text_ratio": 0.0})
    token, session = await nemo.start()
    await nemo.turn(token, session, "a 30 second video of a sunset over mountains")
    assert (await nemo.balance(token))["available"] == 900

    async def edit(text):
        turn = await nemo.turn(token, session, text)
        assert turn.tools()[0] == ("tool_call", EDIT), (text, turn.events)
        return (await nemo.state(token, session))["draft"]

    def music(draft):
        return [track for track in draft["t"] if track["tt"] == 1]

    def titles(draft):
        return [track for track in draft["t"] if track["tt"] == 7]

    draft = await edit("lo-fi music at 35%")
    assert music(draft)[0]["sg"][0]["m"] == {"name": "Lo-fi", "volume": 35}
    draft = await edit("mute the music")
    assert music(draft)[0]["sg"][0]["m"]["volume"] == 0
    draft = await edit('change the title to "Golden Hour"')
    assert titles(draft)[0]["sg"][0]["m"]["text"] == "Golden Hour"
    draft = await edit("make the title bigger")
    assert titles(draft)[0]["sg"][0]["m"]["size"] > 120
    draft = await edit("trim to 20s")
    assert draft["d"] == 20000 and all(t["sg"][-1]["d"] <= 20000 for t in draft["t"])
    draft = await edit("make it vertical")
    assert (draft["m"]["width"], draft["m"]["height"]) == (1080, 1920)
    draft = await edit("remove the title")
    assert titles(draft) == []
    draft = await edit("remove the music")
    assert music(draft) == []
    assert (await nemo.balance(token))["available"] == 900 - 8 * 50


async def test_chat_turns_are_text_only_and_free(nemo, backend):
    backend.set_faults({"credits": 1000})
    token, session = await nemo.start()
    hello = await nemo.turn(token, session, "hello")
    assert [k for k in hello.kinds() if k != "heartbeat"] == ["text"]
    assert (await nemo.balance(token))["available"] == 1000
    assert (await nemo.state(token, session))["draft"]["t"] == []


async def test_gui_talk_shows_up_for_export_questions(nemo, backend):
    backend.set_faults({"credits": 1000})
    token, session = await nemo.start()
    await nemo.turn(token, session, "a sunset over mountains")
    said = []
    for question in ("how do I export?", "how can I preview it?", "can I download it?"):
        said += (await nemo.turn(token, session, question)).texts()
    gui = ("Export button", "timeline panel", "Play", "导出", "时间线")
    assert any(word in text for text in said for word in gui), said


async def test_no_text_ratio_one_makes_edits_silent(nemo, backend):
    backend.set_faults({"credits": 1000, "no_text_ratio": 1.0})
    token, session = await nemo.start()
    generation = await nemo.turn(token, session, "a sunset over mountains")
    assert generation.texts()  # generations always speak
    for text in ("make it 15 seconds", "music at 20%", "make it square"):
        turn = await nemo.turn(token, session, text)
        assert turn.texts() == [] and "tool_result" in turn.kinds(), text
        assert not turn.cut


async def test_all_three_event_shapes_and_heartbeats_appear(nemo, backend):
    backend.set_faults({"credits": 1000, "no_text_ratio": 0.0})
    token, session = await nemo.start()
    turns = [await nemo.turn(token, session, "a sunset over mountains")]
    for text in ("make it 15 seconds", "music at 20%", "make it square"):
        turns.append(await nemo.turn(token, session, text))
    assert {turn.shape() for turn in turns} == {"plain", "adk", "top_level"}
    frames = [frame for turn in turns for frame in turn.frames]
    assert 'data: {"type":"heartbeat"}' in frames
    assert "data:" in frames  # an empty data line
    assert ": keepalive" in frames
    adk = next(turn for turn in turns if turn.shape() == "adk").events[0]
    assert adk["author"] == "nemo_agent" and adk["partial"] is False
    assert {"id", "invocationId", "timestamp"} <= adk.keys()
    assert adk["content"]["role"] == "model"


async def test_same_seed_same_script(nemo_class):
    prompts = ["a sunset over mountains", "music at 20%", "make it square", "how do I export?"]

    async def script(seed):
        seen = []
        faults = Faults(turn_seconds=0, credits=1000)
        async with LocalBackend(seed=seed, faults=faults) as backend:
            async with httpx.AsyncClient(base_url=backend.base_url, headers=ATTRIBUTION) as http:
                nemo = nemo_class(http)
                token, session = await nemo.start()
                for prompt in prompts:
                    turn = await nemo.turn(token, session, prompt)
                    seen.append((turn.shape(), turn.texts(), turn.tools()))
                seen.append(await nemo.state(token, session))
        return seen

    assert await script(3) == await script(3)


async def test_insufficient_credits_is_an_in_stream_2001(nemo, backend):
    token, session = await nemo.start()
    backend.set_faults({"credits": 40})
    turn = await nemo.turn(token, session, "a sunset over mountains")
    assert turn.status == 200
    error = turn.events[-1]
    assert error["errorCode"] == 2001 and error["error"] == "insufficient credits"
    assert "errorMessage" in error
    assert await nemo.balance(token) == {"available": 40, "frozen": 0, "total": 40}
    assert (await nemo.state(token, session))["draft"]["t"] == []


async def test_frozen_credits_while_generating(nemo, backend, http):
    backend.set_faults({"turn_seconds": 1.0, "heartbeat_seconds": 0.05})
    token, session = await nemo.start()
    running = asyncio.create_task(nemo.turn(token, session, "a sunset over mountains"))
    balance = await nemo.poll(lambda: nemo.balance(token), lambda seen: seen["frozen"] > 0)
    assert balance == {"available": 0, "frozen": 100, "total": 100}
    second = await http.post(
        "/run_sse", headers=nemo.auth(token), json=nemo.run_body(session, "make it square")
    )
    assert second.status_code == 409 and second.json()["code"] == 409
    await running
    assert await nemo.balance(token) == {"available": 0, "frozen": 0, "total": 0}


async def test_disconnect_cancels_without_charge(nemo, backend, http):
    backend.set_faults({"turn_seconds": 5.0, "heartbeat_seconds": 0.05})
    token, session = await nemo.start()
    body = nemo.run_body(session, "a sunset over mountains")
    async with http.stream("POST", "/run_sse", headers=nemo.auth(token), json=body) as reply:
        async for line in reply.aiter_lines():
            if "tool_call" in line or "functionCall" in line:
                break
    balance = await nemo.poll(lambda: nemo.balance(token), lambda seen: seen["frozen"] == 0)
    assert balance == {"available": 100, "frozen": 0, "total": 100}
    assert (await nemo.state(token, session))["draft"]["t"] == []
    backend.set_faults({"turn_seconds": 0.1})
    again = await nemo.turn(token, session, "a sunset over mountains")  # the session is free
    assert again.status == 200 and "tool_result" in again.kinds()


async def test_drop_stream_after_cuts_the_connection(nemo, backend):
    token, session = await nemo.start()
    await nemo.faults(drop_stream_after=2)
    turn = await nemo.turn(token, session, "a sunset over mountains")
    assert turn.cut and len(turn.events) == 2
    assert await nemo.balance(token) == {"available": 100, "frozen": 0, "total": 100}
    assert (await nemo.state(token, session))["draft"]["t"] == []
    await nemo.faults(drop_stream_after=0)
    whole = await nemo.turn(token, session, "a sunset over mountains")
    assert not whole.cut and "tool_result" in whole.kinds()


async def test_run_sse_rejects_bad_bodies_like_fastapi(http, nemo):
    token, session = await nemo.start()
    missing = await http.post("/run_sse", headers=nemo.auth(token), json={"app_name": "nemo_agent"})
    assert missing.status_code == 422
    locations = {tuple(error["loc"]) for error in missing.json()["detail"]}
    assert ("body", "session_id") in locations or ("body", "sessionId") in locations
    no_text = nemo.run_body(session, "")
    reply = await http.post("/run_sse", headers=nemo.auth(token), json=no_text)
    assert reply.status_code == 422
    unknown = await http.post(
        "/run_sse", headers=nemo.auth(token), json=nemo.run_body("123", "hello")
    )
    assert unknown.status_code == 404 and unknown.json() == {
        "detail": "Session not found",
        "code": 1002,
    }
