"""Every documented answer shape becomes the same typed value."""

from __future__ import annotations

import json

import pytest

from core.client import Credentials, NemoClient
from core.errors import ProtocolError
from core.models import Draft
from core.timeline import summarize
from tests.client.conftest import (
    BALANCE_PATH,
    RENDER_PATH,
    SESSION_PATH,
    TOKEN_PATH,
    Backend,
    Reply,
    ok,
    payload,
    state_path,
    success,
)


async def test_the_token_call_returns_a_typed_token(backend: Backend, nemo: NemoClient) -> None:
    backend.on("POST", TOKEN_PATH, Reply(body=payload("token")))
    token = await nemo.anonymous_token("cid", "slack")
    assert token.token == "nmv_usr_fresh"
    assert token.user_id == "anon_7f3a"
    assert token.credits == 100
    assert token.expires_at == "2030-01-08T00:00:00Z"


async def test_a_numeric_session_id_becomes_a_string_without_losing_digits(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", SESSION_PATH, Reply(body=payload("session")))
    session = await nemo.create_session(creds, "zh-CN")
    assert session.session_id == "5529798706024415232"
    assert session.task_id == "task_91c2"
    assert json.loads(backend.requests[0].content) == {"task_name": "project", "language": "zh-CN"}


async def test_create_session_fills_in_a_missing_user_id(
    backend: Backend, nemo: NemoClient
) -> None:
    backend.on("POST", SESSION_PATH, Reply(body=payload("session")))
    creds = Credentials(client_id="c", token="nmv_usr_x")
    await nemo.create_session(creds)
    assert creds.user_id == "anon_7f3a"


@pytest.mark.parametrize(
    "body",
    [
        {"code": 0, "message": "ok", "data": {"available": 25000, "frozen": 40, "total": 25040}},
        {"success": True, "data": {"available": 25000, "frozen": 40, "total": 25040}},
        {"available": 25000, "frozen": 40, "total": 25040},
    ],
    ids=["code", "success", "bare"],
)
async def test_balance_in_every_envelope(
    backend: Backend, nemo: NemoClient, creds: Credentials, body: dict
) -> None:
    backend.on("GET", BALANCE_PATH, Reply(body=body))
    balance = await nemo.balance(creds)
    assert (balance.available, balance.frozen, balance.grand_total) == (25000, 40, 25040)


async def test_balance_total_is_derived_when_absent(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", BALANCE_PATH, ok({"available": 60, "frozen": 40}))
    assert (await nemo.balance(creds)).grand_total == 100


async def test_state_with_the_draft_under_data_state(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", state_path("sid"), Reply(body=payload("state_nested")))
    state = await nemo.state(creds, "sid")
    assert state.session_id == "5529798706024415232"
    assert [track.kind for track in state.draft.tracks] == [0, 1, 7]
    assert state.draft.ready
    assert state.draft.duration_ms == 10000
    assert state.canvas_config == {"width": 1920, "height": 1080}
    assert state.video_infos[0]["url"] == "https://cdn.example/clip.mp4"
    raw_draft = payload("state_nested")["data"]["state"]["draft"]
    assert state.draft.raw == raw_draft  # unknown keys survive for the render call
    assert summarize(state.draft) == (
        "Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) "
        '3. Title: "Urban Dreams" (0-3s)'
    )


async def test_state_with_the_draft_at_data_level(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", state_path("sid"), Reply(body=payload("state_flat")))
    state = await nemo.state(creds, "sid")
    assert state.session_id == "s-flat"
    assert [segment.meta["name"] for segment in state.draft.tracks[0].segments] == ["ocean waves"]
    assert state.video_infos == [{"url": "https://cdn.example/waves.mp4"}]
    assert state.generated_media == []


@pytest.mark.parametrize(
    "data",
    [{}, {"state": None}, {"state": {"draft": None}}, {"draft": None, "video_infos": None}],
)
async def test_a_fresh_session_has_an_empty_draft(
    backend: Backend, nemo: NemoClient, creds: Credentials, data: dict
) -> None:
    backend.on("GET", state_path("sid"), ok(data))
    state = await nemo.state(creds, "sid")
    assert state.draft.tracks == []
    assert not state.draft.ready


async def test_both_render_status_shapes(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", f"{RENDER_PATH}/render_a", Reply(body=payload("render_done_envelope")))
    backend.on("GET", f"{RENDER_PATH}/render_b", Reply(body=payload("render_done_flat")))

    enveloped = await nemo.render_status(creds, "render_a")
    flat = await nemo.render_status(creds, "render_b")

    assert (enveloped.id, enveloped.status, enveloped.progress) == ("render_a", "completed", 100)
    assert enveloped.output_url == "https://cdn.example/render.mp4"
    assert enveloped.succeeded
    assert (flat.id, flat.status) == ("render_b", "completed")
    assert flat.output_url == "https://cdn.example/flat.mp4"
    assert (flat.duration, flat.size) == (30.5, 15728640)
    assert flat.succeeded


async def test_a_render_start_in_the_success_envelope(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RENDER_PATH, Reply(body=payload("render_started")))
    status = await nemo.start_render(creds, "sid", Draft.model_validate({"t": []}))
    assert (status.id, status.status, status.progress) == ("render_1700000000000", "pending", 5)
    assert not status.finished


@pytest.mark.parametrize(
    "reply",
    [
        Reply(raw=b"<html>502 Bad Gateway</html>"),
        Reply(body=[1, 2, 3]),
        Reply(raw=b""),
    ],
    ids=["html", "list", "empty"],
)
async def test_an_answer_of_no_documented_shape_is_a_protocol_error(
    backend: Backend, nemo: NemoClient, creds: Credentials, reply: Reply
) -> None:
    backend.on("GET", BALANCE_PATH, reply)
    with pytest.raises(ProtocolError):
        await nemo.balance(creds)


async def test_code_200_counts_as_success(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", BALANCE_PATH, Reply(body={"code": 200, "data": {"available": 5}}))
    assert (await nemo.balance(creds)).available == 5


async def test_success_true_without_data_is_the_body_itself(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", f"{RENDER_PATH}/render_c", success(None))
    status = await nemo.render_status(creds, "render_c")
    assert (status.id, status.status) == ("render_c", "pending")
