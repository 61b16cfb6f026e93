"""Backend JSON with missing fields, wrong types and huge strings: the models accept it or raise
pydantic's ValidationError; the client turns any answer into a model or a NemoError; the timeline
words never crash on a strange draft."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from core.client import ClientTiming, Credentials, NemoClient
from core.errors import NemoError
from core.models import Balance, Draft, RenderStatus, SessionInfo, State, Token, UploadResult
from core.timeline import describe_changes, summarize
from tests.faults.fuzz import json_values, objects_with

BASE = "http://nemo.invalid"
FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MODELS: dict[type[BaseModel], list[str]] = {
    Token: ["token", "user_id", "expires_at", "credits"],
    SessionInfo: ["session_id", "task_id", "user_id"],
    Balance: ["available", "frozen", "total"],
    RenderStatus: ["id", "status", "progress", "outputUrl", "output", "url", "error", "size"],
    UploadResult: ["files", "session_state_applied"],
    State: ["session_id", "state", "draft", "video_infos", "generated_media", "canvas_config"],
    Draft: ["t", "d", "m"],
}

segments = objects_with(["d", "s", "m"])
tracks = st.fixed_dictionaries(
    {}, optional={"tt": st.sampled_from([0, 1, 7, 3]) | json_values, "sg": st.lists(segments)}
)
drafts = st.fixed_dictionaries(
    {}, optional={"t": st.lists(tracks, max_size=4) | json_values, "d": json_values}
)


@FUZZ
@given(data=st.data())
def test_models_take_any_json_or_say_why_not(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from(list(MODELS)))
    value = data.draw(st.one_of(objects_with(MODELS[model]), json_values))
    try:
        model.model_validate(value)
    except ValidationError:
        pass


@FUZZ
@given(before=drafts, after=drafts)
def test_timeline_words_for_any_valid_draft(before: dict[str, Any], after: dict[str, Any]) -> None:
    try:
        old, new = Draft.model_validate(before), Draft.model_validate(after)
    except ValidationError:
        return
    line = summarize(new)
    assert line.startswith("Timeline (")
    for change in describe_changes(old, new):
        assert isinstance(change, str) and change


# -- through the client ----------------------------------------------------------------------------


class Answers:
    """What the fake backend says to the example being run."""

    status = 200
    body: Any = None
    raw: bytes | None = None


def _transport(answers: Answers) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if answers.raw is not None:
            return httpx.Response(answers.status, content=answers.raw)
        return httpx.Response(answers.status, json=answers.body)

    return httpx.MockTransport(answer)


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
async def nemo(answers: Answers) -> AsyncIterator[NemoClient]:
    timing = ClientTiming(retry_after_seconds=0, backoff_seconds=0, request_timeout_seconds=5)
    async with httpx.AsyncClient(transport=_transport(answers)) as http:
        yield NemoClient(http, BASE, timing)


async def _three_bytes() -> AsyncIterator[bytes]:
    yield b"abc"


Call = Callable[[NemoClient, Credentials], Awaitable[Any]]
CALLS: dict[str, tuple[Call, list[str]]] = {
    "token": (lambda n, c: n.anonymous_token("cid"), MODELS[Token]),
    "session": (lambda n, c: n.create_session(c), MODELS[SessionInfo]),
    "balance": (lambda n, c: n.balance(c), MODELS[Balance]),
    "state": (lambda n, c: n.state(c, "s1"), MODELS[State]),
    "render": (lambda n, c: n.start_render(c, "s1", Draft(), "render_1"), MODELS[RenderStatus]),
    "poll": (lambda n, c: n.render_status(c, "render_1"), MODELS[RenderStatus]),
    "upload": (lambda n, c: n.upload_stream(c, "s1", "a.mp4", 3, _three_bytes), ["files"]),
}

envelopes = st.sampled_from(["bare", "code", "success", "detail"])
statuses = st.sampled_from([200, 200, 200, 201, 400, 401, 402, 404, 409, 422, 429, 500, 503])


@FUZZ
@given(data=st.data())
async def test_client_answers_are_models_or_nemo_errors(
    nemo: NemoClient, answers: Answers, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(CALLS)))
    call, keys = CALLS[name]
    payload = data.draw(st.one_of(objects_with(keys), json_values))
    envelope = data.draw(envelopes)
    answers.status = data.draw(statuses)
    answers.raw = (
        data.draw(st.none() | st.binary(max_size=40), label="raw")
        if (data.draw(st.integers(0, 9)) == 0)
        else None
    )
    answers.body = {
        "bare": payload,
        "code": {
            "code": data.draw(st.sampled_from([0, 200, 1001, 1002, 2001, 4001, 7])),
            "data": payload,
        },
        "success": {"success": data.draw(st.booleans()), "data": payload},
        "detail": {"detail": payload},
    }[envelope]
    creds = Credentials(client_id="cid", token="nmv_usr_t", fixed=True)
    try:
        result = await call(nemo, creds)
    except NemoError as exc:
        assert "nmv_usr_t" not in str(exc)
        return
    assert isinstance(result, BaseModel)
