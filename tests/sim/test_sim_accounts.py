"""Tokens, sessions, state and credits, endpoint by endpoint (NEMO_PROTOCOL.md §1, 2, 5, 6)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

TOKEN_ERROR = {"code": 1001, "message": "token expired or invalid"}


async def test_anonymous_token_needs_a_client_id(http):
    reply = await http.post("/api/auth/anonymous-token")
    assert reply.status_code == 400
    assert reply.json() == {"code": 400, "message": "missing X-Client-Id"}


async def test_anonymous_token_shape_and_reuse(http):
    reply = await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "c1"})
    body = reply.json()
    assert reply.status_code == 200 and body["code"] == 0
    data = body["data"]
    assert re.fullmatch(r"nmv_usr_\w+", data["token"])
    assert re.fullmatch(r"anon_\w+", data["user_id"])
    assert data["credits"] == 100
    expires = datetime.strptime(data["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(expires - datetime.now(UTC) - timedelta(days=7)) < timedelta(minutes=1)

    # one valid token per client id: asking again while it holds is refused (HTTP 429)
    again = await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "c1"})
    assert again.status_code == 429 and again.json()["code"] == 429
    other = await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "c2"})
    assert other.json()["data"]["token"] != data["token"]


async def test_unknown_token_answers_1001_everywhere(http, nemo):
    _, session = await nemo.start()
    bad = nemo.auth("nmv_usr_nope")
    calls = [
        ("POST", "/api/tasks/me/with-session/nemo_agent", {"task_name": "project"}),
        ("GET", f"/api/state/nemo_agent/me/{session}/latest", None),
        ("GET", "/api/credits/balance/simple", None),
        ("POST", f"/api/upload-video/nemo_agent/me/{session}", {"urls": ["https://x.test/a.mp4"]}),
    ]
    for method, path, body in calls:
        reply = await http.request(method, path, headers=bad, json=body)
        assert (reply.status_code, reply.json()) == (200, TOKEN_ERROR), path
    missing = await http.get("/api/credits/balance/simple")
    assert missing.json() == TOKEN_ERROR

    stream = await http.post("/run_sse", headers=bad, json=nemo.run_body(session, "hi"))
    assert stream.status_code == 401 and stream.json()["code"] == 1001

    render = await http.get("/api/render/proxy/lambda/render_1", headers=bad)
    assert render.json()["code"] == 1001 and render.json()["success"] is False


async def test_expire_tokens_fault(http, nemo):
    token, session = await nemo.start()
    await nemo.faults(expire_tokens=True)
    assert (await http.get("/api/credits/balance/simple", headers=nemo.auth(token))).json() == (
        TOKEN_ERROR
    )
    fresh, _ = await nemo.token()  # same client id: a new token, the same user and session
    assert fresh != token
    assert (await nemo.balance(fresh))["available"] == 100
    assert (await nemo.state(fresh, session))["draft"] == {"t": [], "d": 0, "m": {}}
    await nemo.faults(expire_tokens=False)
    assert (await nemo.balance(token))["available"] == 100


async def test_session_shape_and_empty_state(http, nemo):
    token, user_id = await nemo.token()
    reply = await http.post(
        "/api/tasks/me/with-session/nemo_agent",
        headers=nemo.auth(token),
        json={"task_name": "project", "language": "zh-CN"},
    )
    data = reply.json()["data"]
    assert re.fullmatch(r"task_\w+", data["task_id"])
    assert re.fullmatch(r"\d{19}", data["session_id"])
    assert data["user_id"] == user_id
    state = await nemo.state(token, data["session_id"])
    assert state["draft"] == {"t": [], "d": 0, "m": {}}
    assert state["video_infos"] == [] and state["generated_media"] == []
    assert state["canvas_config"] == {"width": 1920, "height": 1080}


async def test_state_uses_both_documented_layouts(http, nemo):
    token, session = await nemo.start()
    layouts = set()
    for _ in range(40):
        reply = await http.get(
            f"/api/state/nemo_agent/me/{session}/latest", headers=nemo.auth(token)
        )
        data = reply.json()["data"]
        assert data["session_id"] == session
        layouts.add("nested" if "state" in data else "flat")
        assert "draft" in data.get("state", data) and "video_infos" in data.get("state", data)
    assert layouts == {"nested", "flat"}


async def test_sessions_belong_to_their_user(http, nemo):
    _, session = await nemo.start()
    stranger, _ = await nemo.token("someone-else")
    reply = await http.get(
        f"/api/state/nemo_agent/me/{session}/latest", headers=nemo.auth(stranger)
    )
    assert reply.json() == {"code": 1002, "message": "session not found"}
    stream = await http.post(
        "/run_sse", headers=nemo.auth(stranger), json=nemo.run_body(session, "x")
    )
    assert stream.status_code == 404
    assert stream.json() == {"detail": "Session not found", "code": 1002}


async def test_drop_sessions_fault(http, nemo):
    token, session = await nemo.start()
    await nemo.faults(drop_sessions=True)
    state = await http.get(f"/api/state/nemo_agent/me/{session}/latest", headers=nemo.auth(token))
    assert state.json()["code"] == 1002
    upload = await http.post(
        f"/api/upload-video/nemo_agent/me/{session}",
        headers=nemo.auth(token),
        json={"urls": ["https://example.test/clip.mp4"], "source_type": "url"},
    )
    assert upload.json()["code"] == 1002
    turn = await nemo.turn(token, session, "a sunset")
    assert turn.status == 404 and turn.body["code"] == 1002
    fresh = await nemo.session(token)  # sessions made after the fault work
    assert (await nemo.state(token, fresh))["draft"]["t"] == []


async def test_credits_balance_and_fault(http, nemo):
    token, _ = await nemo.start()
    assert await nemo.balance(token) == {"available": 100, "frozen": 0, "total": 100}
    await nemo.faults(credits=7)
    assert await nemo.balance(token) == {"available": 7, "frozen": 0, "total": 7}
    newcomer, _ = await nemo.token("newcomer")
    assert (await nemo.balance(newcomer))["available"] == 7


async def test_bad_session_body_is_422(http, nemo):
    token, _ = await nemo.token()
    reply = await http.post(
        "/api/tasks/me/with-session/nemo_agent", headers=nemo.auth(token), content=b"{nope"
    )
    assert reply.status_code == 422 and reply.json()["detail"][0]["type"] == "json_invalid"
