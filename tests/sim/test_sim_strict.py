"""The local backend is as strict as the real service (NEMO_PROTOCOL.md: headers, §1, §2, §7-9,
and "What the real agent does that a first client misses"), rule by rule and knob by knob."""

from __future__ import annotations

import argparse

import httpx
import pytest

from core.sim import Faults, LocalBackend, add_fault_arguments, faults_from_args
from tests.sim.conftest import ATTRIBUTION, Nemo, kind_of

OUTPUT = {"format": "mp4", "quality": "high"}
RENDER = "/api/render/proxy/lambda"


@pytest.fixture
async def bare(backend: LocalBackend) -> httpx.AsyncClient:
    """A client that sends no attribution headers."""
    async with httpx.AsyncClient(base_url=backend.base_url, timeout=20) as client:
        yield client


async def _generated(nemo: Nemo, token: str | None = None) -> tuple[str, str, dict]:
    token, session = await nemo.start(token)
    await nemo.turn(token, session, "a sunset over mountains")
    return token, session, (await nemo.state(token, session))["draft"]


async def test_attribution_is_required_on_every_call(nemo, bare) -> None:
    token, session, draft = await _generated(nemo)
    bearer = {"Authorization": f"Bearer {token}"}
    for method, path in [
        ("GET", "/api/credits/balance/simple"),
        ("GET", f"/api/state/nemo_agent/me/{session}/latest"),
        ("POST", "/run_sse"),
    ]:
        reply = await bare.request(method, path, headers=bearer, json=nemo.run_body(session, "hi"))
        assert reply.status_code == 400, path
        assert "X-Skill-Source" in reply.json()["message"]
    body = {"id": "render_1", "sessionId": session, "draft": draft, "output": OUTPUT}
    blocked = await bare.post(RENDER, headers=bearer, json=body)
    assert blocked.status_code == 402 and blocked.json()["code"] == 402
    token_call = await bare.post("/api/auth/anonymous-token", headers={"X-Client-Id": "x"})
    assert token_call.status_code == 400 and "attribution" in token_call.json()["message"]
    # without a valid token the token's own error comes first, as before
    assert (await bare.get("/api/credits/balance/simple")).json()["code"] == 1001


async def test_anonymous_tokens_cannot_render_api_tokens_can(nemo, http, backend) -> None:
    token, session, draft = await _generated(nemo)
    refused = await nemo.export(token, session, "render_anon")
    assert refused.status_code == 402 and "plan" in refused.json()["error"]

    reply = (await http.post("/_sim/api-token")).json()["data"]
    assert reply["token"].startswith("nmv_usr_") and "render" in reply["scopes"]
    paid, paid_session, _ = await _generated(nemo, reply["token"])
    assert (await nemo.export(paid, paid_session, "render_paid")).json()["success"] is True

    await nemo.faults(anonymous_render=True)
    assert (await nemo.export(token, session, "render_anon_ok")).json()["success"] is True


async def test_one_anonymous_token_per_client_and_a_cap_per_address(nemo, http) -> None:
    first = await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "one"})
    assert first.status_code == 200
    second = await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "one"})
    assert second.status_code == 429 and "valid token" in second.json()["message"]

    await nemo.faults(address_token_limit=3)
    codes = [
        (await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": f"c{n}"})).status_code
        for n in range(3)
    ]
    assert codes == [200, 200, 429]  # "one" counted too


async def test_a_lapsed_token_may_be_renewed(nemo, http) -> None:
    token, _ = await nemo.token("renewer")
    await nemo.faults(expire_tokens=True)
    again, _ = await nemo.token("renewer")
    assert again != token


async def test_session_creation_gives_a_task_id_and_checks_the_language(nemo, http) -> None:
    token, _ = await nemo.token()
    path = "/api/tasks/me/with-session/nemo_agent"
    for language in ("en", "zh-CN", "ja", "es", "pt-BR", "zh-Hant"):
        reply = await http.post(path, headers=nemo.auth(token), json={"language": language})
        data = reply.json()["data"]
        assert data["task_id"].startswith("task_") and data["session_id"], language
    for language in ("english", "EN", "zh_CN", "12", "en-"):
        reply = await http.post(path, headers=nemo.auth(token), json={"language": language})
        assert reply.status_code == 400 and "ISO" in reply.json()["message"], language


async def test_claim_tokens(nemo, http) -> None:
    token, _ = await nemo.token()
    created = await http.post(
        "/api/tasks/me/with-session/nemo_agent", headers=nemo.auth(token), json={}
    )
    data = created.json()["data"]
    claim = await http.post(
        "/api/auth/claim-token",
        headers=nemo.auth(token),
        json={"task_id": data["task_id"], "session_id": data["session_id"]},
    )
    body = claim.json()["data"]
    assert body["claim_token"].startswith("clm_") and body["expires_in"] == 604800
    wrong = await http.post(
        "/api/auth/claim-token",
        headers=nemo.auth(token),
        json={"task_id": "task_nope", "session_id": data["session_id"]},
    )
    assert wrong.status_code == 400
    unknown = await http.post(
        "/api/auth/claim-token",
        headers=nemo.auth(token),
        json={"task_id": data["task_id"], "session_id": "1"},
    )
    assert unknown.json()["code"] == 1002
    assert (await http.post("/api/auth/claim-token", json={})).json()["code"] == 1001


async def test_render_bodies_are_validated(nemo, http) -> None:
    token, session, draft = await _generated(nemo, await nemo.api_token())
    cases = [
        ({"id": "render_a", "draft": draft, "output": OUTPUT}, "sessionId"),
        ({"id": "render_b", "sessionId": "42", "draft": draft, "output": OUTPUT}, "sessionId"),
        ({"id": "render_c", "sessionId": session, "draft": draft}, "output"),
        (
            {"id": "render_d", "sessionId": session, "draft": draft, "output": {"format": "gif"}},
            "format",
        ),
    ]
    for body, word in cases:
        reply = await http.post(RENDER, headers=nemo.auth(token), json=body)
        assert reply.status_code == 400 and word in reply.json()["error"], body


async def test_the_fallback_download(nemo, http) -> None:
    token, session, _ = await _generated(nemo, await nemo.api_token())
    await nemo.faults(render_seconds=0.3)
    await nemo.export(token, session, "render_dl")
    early = await http.get("/api/render/proxy/render_dl/download", headers=nemo.auth(token))
    assert early.status_code == 409
    await nemo.wait_render(token, "render_dl")
    video = await http.get("/api/render/proxy/render_dl/download", headers=nemo.auth(token))
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    anonymous = (await nemo.token("stranger"))[0]
    other = await http.get("/api/render/proxy/render_dl/download", headers=nemo.auth(anonymous))
    assert other.status_code == 404


async def test_question_ratio_asks_for_a_style_first(nemo, backend) -> None:
    await nemo.faults(question_ratio=1.0)
    token, session = await nemo.start()
    asked = await nemo.turn(token, session, "a sunset over mountains")
    assert asked.kinds() == ["tool_call"] and asked.tools() == [("tool_call", "ask_question")]
    event = asked.events[0]
    args = (
        event["content"]["parts"][0]["functionCall"]["args"]
        if "content" in event
        else event["args"]
    )
    assert (args.get("question") or args.get("prompt")) == "Which style?"
    labels = [o if isinstance(o, str) else o["label"] for o in args["options"]]
    assert labels == ["Cinematic", "Anime", "Watercolor"]
    assert args.get("allow_freeform", args.get("allowFreeform")) is True
    assert (await nemo.state(token, session))["draft"]["t"] == []  # nothing was made
    answer = await nemo.turn(token, session, "Anime")
    assert ("tool_result", "generate_video_with_seedance") in answer.tools()

    styled, styled_session = await nemo.start(await nemo.api_token())
    direct = await nemo.turn(styled, styled_session, "a cinematic sunset over mountains")
    assert ("tool_call", "ask_question") not in direct.tools()


async def test_question_ratio_is_off_by_default() -> None:
    assert Faults().question_ratio == 0 and Faults().trailing_issue_ratio == 0


async def test_trailing_issue_ratio(nemo) -> None:
    await nemo.faults(trailing_issue_ratio=1.0)
    token, session = await nemo.start()
    turn = await nemo.turn(token, session, "a sunset over mountains")
    texts = turn.texts()
    assert len(texts) >= 2 and texts[-1].startswith("I encountered a temporary issue")


async def test_lose_stream_after_cuts_mid_frame_and_the_turn_goes_on(nemo, backend) -> None:
    await nemo.faults(lose_stream_after=2, turn_seconds=0.3)
    token, session = await nemo.start()
    turn = await nemo.turn(token, session, "a sunset over mountains")
    assert turn.cut and len(turn.events) == 2
    busy = await nemo.http.post(
        "/run_sse", headers=nemo.auth(token), json=nemo.run_body(session, "again")
    )
    assert busy.status_code == 409  # the agent still works on the lost turn
    state = await nemo.poll(
        lambda: nemo.state(token, session), lambda value: bool(value["draft"]["t"])
    )
    assert state["draft"]["t"], "the lost turn's change was committed"
    assert (await nemo.balance(token))["available"] == 0  # charged: it did the work


async def test_adk_partials_call_ids_and_contentless_events(nemo, backend) -> None:
    backend.set_faults({"credits": 1000})
    token, session = await nemo.start()
    turns = [await nemo.turn(token, session, "a sunset over mountains")]
    for text in ("make it 15 seconds", "music at 20%"):
        turns.append(await nemo.turn(token, session, text))
    adk = next(turn for turn in turns if turn.shape() == "adk")
    kinds = adk.all_kinds()
    assert "partial" in kinds and "bare" in kinds
    parts = [e["content"]["parts"][0] for e in adk.events if isinstance(e.get("content"), dict)]
    calls = {
        p["functionCall"]["name"]: p["functionCall"]["id"] for p in parts if "functionCall" in p
    }
    for part in parts:
        if "functionResponse" in part:
            assert part["functionResponse"]["id"] == calls[part["functionResponse"]["name"]]
    partial = [e for e in adk.events if kind_of(e) == "partial"]
    final = adk.events[adk.events.index(partial[-1]) + 1]
    joined = "".join(e["content"]["parts"][0]["text"] for e in partial)
    assert final["partial"] is False and final["content"]["parts"][0]["text"] == joined


def test_the_new_knobs_are_flags_too() -> None:
    parser = argparse.ArgumentParser()
    add_fault_arguments(parser)
    args = parser.parse_args(
        [
            "--question-ratio",
            "0.5",
            "--trailing-issue-ratio",
            "1",
            "--lose-stream-after",
            "3",
            "--anonymous-render",
            "--address-token-limit",
            "0",
        ]
    )
    faults = faults_from_args(args)
    assert (faults.question_ratio, faults.trailing_issue_ratio, faults.lose_stream_after) == (
        0.5,
        1.0,
        3,
    )
    assert faults.anonymous_render is True and faults.address_token_limit == 0
    assert ATTRIBUTION["X-Skill-Source"] == "jupiter-text-to-video"
