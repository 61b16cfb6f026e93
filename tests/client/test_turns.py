"""A turn is an async iterator of typed events; it is never re-sent once the backend may have it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from core.client import Credentials, NemoClient
from core.errors import (
    BackendUnavailable,
    NemoError,
    OutOfCredits,
    ProtocolError,
    RateLimited,
    SessionNotFound,
    StreamInterrupted,
    TokenRejected,
    TurnFailed,
    TurnTimedOut,
)
from core.models import (
    EndEvent,
    HeartbeatEvent,
    TextEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnEvent,
)
from tests.client.conftest import (
    RUN_PATH,
    TOKEN_PATH,
    Backend,
    Reply,
    code,
    payload,
    sse,
    stream,
    token_reply,
)

SID = "5529798706024415232"


def _frames(backend: Backend, *frames: object) -> None:
    """The turn's stream: `frames` as SSE events, then the server closes it."""
    backend.on("POST", RUN_PATH, stream(sse(*frames)))


async def _turn(
    nemo: NemoClient, creds: Credentials, text: str = "make a video"
) -> list[TurnEvent]:
    return [event async for event in nemo.run_turn(creds, SID, text)]


async def test_the_request_body_and_headers(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RUN_PATH, stream(sse({"type": "text", "content": "ok"})))
    await _turn(nemo, creds, "a city at night ✨")
    (request,) = backend.requests
    assert json.loads(request.content) == {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": SID,
        "new_message": {"parts": [{"text": "a city at night ✨"}]},
    }
    assert request.headers["Accept"] == "text/event-stream"
    assert request.headers["Authorization"] == "Bearer nmv_usr_old"


async def test_plain_events(backend: Backend, nemo: NemoClient, creds: Credentials) -> None:
    backend.on(
        "POST",
        RUN_PATH,
        stream(
            sse(
                {"type": "text", "content": "Generating"},
                {"type": "tool_call", "name": "edit_multitrack", "args": {"volume": 35}},
                {"type": "heartbeat"},
                {"type": "tool_result", "name": "edit_multitrack", "result": {"ok": True}},
                {"type": "text", "content": "Done.", "partial": False},
            )
        ),
    )
    assert await _turn(nemo, creds) == [
        TextEvent("Generating"),
        ToolCallEvent("edit_multitrack", {"volume": 35}),
        HeartbeatEvent(),
        ToolResultEvent("edit_multitrack", {"ok": True}),
        TextEvent("Done."),
        EndEvent(),
    ]


async def test_adk_events(backend: Backend, nemo: NemoClient, creds: Credentials) -> None:
    backend.on("POST", RUN_PATH, stream(sse(*payload("turn_adk"))))
    assert await _turn(nemo, creds) == [  # the final text supersedes the partial chunk
        ToolCallEvent("generate_video_with_seedance", {"prompt": "city timelapse", "duration": 10}),
        ToolResultEvent("generate_video_with_seedance", {"status": "ok"}),
        TextEvent("Your video is ready."),
        EndEvent(),
    ]


async def test_top_level_text(backend: Backend, nemo: NemoClient, creds: Credentials) -> None:
    backend.on("POST", RUN_PATH, stream(sse({"text": "Hello"}, {"text": "more", "partial": True})))
    assert await _turn(nemo, creds) == [
        TextEvent("Hello"),
        TextEvent("more"),  # a partial chunk left at the end is yielded whole
        EndEvent(),
    ]


@pytest.mark.parametrize(
    ("frame", "error", "message", "number"),
    [
        ({"error": "model overloaded"}, TurnFailed, "model overloaded", None),
        (
            {"errorCode": "2001", "errorMessage": "insufficient credits"},
            OutOfCredits,
            "insufficient",
            2001,
        ),
        ({"errorCode": 5003, "errorMessage": "render farm down"}, TurnFailed, "farm", 5003),
        ({"error": "Not enough CREDITS left"}, OutOfCredits, "CREDITS", 2001),
        ({"type": "text", "content": "Error: generation failed"}, TurnFailed, "generation", None),
        (
            {"content": {"role": "model", "parts": [{"text": "Error: quota"}]}},
            TurnFailed,
            "quota",
            None,
        ),
        ({"text": "  Error:"}, TurnFailed, "the agent reported an error", None),
    ],
    ids=["error", "code-2001", "other-code", "credit-word", "text-error", "adk-error", "bare"],
)
async def test_in_stream_errors_are_raised_as_typed_errors(
    backend: Backend,
    nemo: NemoClient,
    creds: Credentials,
    frame: dict,
    error: type[NemoError],
    message: str,
    number: int | None,
) -> None:
    _frames(backend, frame, {"text": "never seen"})
    seen: list[TurnEvent] = []
    with pytest.raises(error, match=message) as caught:
        async for event in nemo.run_turn(creds, SID, "go"):
            seen.append(event)
    assert type(caught.value) is error
    assert caught.value.code == number
    assert seen == []
    assert len(backend.requests) == 1


async def test_partial_chunks_are_joined_when_the_stream_ends(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    chunk = {"content": {"role": "model", "parts": [{"text": "Gener"}]}, "partial": True}
    more = {"content": {"role": "model", "parts": [{"text": "ating…"}]}, "partial": True}
    _frames(backend, chunk, {"type": "heartbeat"}, more)
    assert await _turn(nemo, creds) == [HeartbeatEvent(), TextEvent("Generating…"), EndEvent()]


async def test_a_final_text_replaces_the_partial_chunks_before_it(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    _frames(
        backend,
        {"text": "Hel", "partial": True},
        {"text": "lo", "partial": True},
        {"text": "Hello there."},
        {"text": "Next", "partial": True},
    )
    assert await _turn(nemo, creds) == [TextEvent("Hello there."), TextEvent("Next"), EndEvent()]


async def test_an_error_after_text_keeps_the_text_and_joins_what_was_partial(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    _frames(
        backend,
        {"type": "text", "content": "Working on it."},
        {"type": "text", "content": "Almost ", "partial": True},
        {"type": "text", "content": "there", "partial": True},
        {"errorCode": 5003, "errorMessage": "the model crashed"},
    )
    seen: list[TurnEvent] = []
    with pytest.raises(TurnFailed, match="the model crashed") as caught:
        async for event in nemo.run_turn(creds, SID, "go"):
            seen.append(event)
    assert seen == [TextEvent("Working on it."), TextEvent("Almost there")]
    assert caught.value.code == 5003
    assert len(backend.requests) == 1


async def test_429_then_1001_before_the_stream_are_each_retried_once(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    """The turn goes through the same retry loop as every other call."""
    backend.on("POST", RUN_PATH, Reply(429, {}), code(1001), stream(sse({"text": "hi"})))
    backend.on("POST", TOKEN_PATH, token_reply("nmv_usr_new"))
    assert await _turn(nemo, creds) == [TextEvent("hi"), EndEvent()]
    assert backend.paths() == [RUN_PATH, RUN_PATH, TOKEN_PATH, RUN_PATH]


async def test_comments_and_empty_data_are_heartbeats(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on(
        "POST",
        RUN_PATH,
        stream(b": ping\n\n", b"data:\n\n", b"data: \r\n\r\n", sse({"text": "hi"}), b":\n\n"),
    )
    assert await _turn(nemo, creds) == [
        HeartbeatEvent(),
        HeartbeatEvent(),
        HeartbeatEvent(),
        TextEvent("hi"),
        HeartbeatEvent(),
        EndEvent(),
    ]


async def test_an_empty_stream_is_a_turn_with_no_text(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RUN_PATH, stream())
    assert await _turn(nemo, creds) == [EndEvent()]


async def test_frames_split_across_reads_and_crlf(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    body = sse({"type": "text", "content": "一 line\u2028two\u2029three"}, {"text": "last"})
    body = body.replace(b"\n", b"\r\n")
    backend.on("POST", RUN_PATH, stream(*(body[i : i + 1] for i in range(len(body)))))
    assert await _turn(nemo, creds) == [
        TextEvent("一 line\u2028two\u2029three"),
        TextEvent("last"),
        EndEvent(),
    ]


async def test_a_last_frame_without_its_blank_line_still_counts(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RUN_PATH, stream(b'data: {"text": "tail"}'))
    assert await _turn(nemo, creds) == [TextEvent("tail"), EndEvent()]


async def test_a_stream_cut_mid_frame_is_interrupted_and_not_resent(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on(
        "POST",
        RUN_PATH,
        stream(
            sse({"text": "working"}),
            b'data: {"type": "te',
            httpx.RemoteProtocolError("peer closed connection without sending complete message"),
        ),
    )
    seen: list[TurnEvent] = []
    with pytest.raises(StreamInterrupted) as caught:
        async for event in nemo.run_turn(creds, SID, "go"):
            seen.append(event)
    assert seen == [TextEvent("working")]
    assert isinstance(caught.value, BackendUnavailable)
    assert len(backend.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [
        Reply(500, {}),
        Reply(502, raw=b"bad gateway"),
        Reply(503, {"code": 503, "message": "busy"}),
        httpx.ConnectError("refused"),
        httpx.ReadError("reset"),
    ],
    ids=["500", "502", "503", "connect", "read"],
)
async def test_a_turn_is_never_resent(
    backend: Backend, nemo: NemoClient, creds: Credentials, failure: object
) -> None:
    backend.on("POST", RUN_PATH, failure, stream(sse({"text": "charged twice"})))
    with pytest.raises(BackendUnavailable):
        await _turn(nemo, creds)
    assert len(backend.requests) == 1


@pytest.mark.parametrize(
    "rejection",
    [
        code(1001, "token expired", status=401),
        code(1001, "token expired"),  # HTTP 200 with the JSON envelope, no stream
        Reply(401, {}),
    ],
    ids=["http401", "http200-json", "http401-bare"],
)
async def test_1001_before_the_stream_renews_and_retries_once(
    backend: Backend, nemo: NemoClient, creds: Credentials, rejection: Reply
) -> None:
    backend.on("POST", RUN_PATH, rejection, stream(sse({"text": "hello"})))
    backend.on("POST", TOKEN_PATH, token_reply("nmv_usr_new"))
    assert await _turn(nemo, creds) == [TextEvent("hello"), EndEvent()]
    assert backend.paths() == [RUN_PATH, TOKEN_PATH, RUN_PATH]
    assert backend.requests[1].headers["X-Client-Id"] == "cid-1"
    assert backend.requests[2].headers["Authorization"] == "Bearer nmv_usr_new"


async def test_1001_twice_before_the_stream_gives_up(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RUN_PATH, code(1001, status=401))
    backend.on("POST", TOKEN_PATH, token_reply("nmv_usr_new"))
    with pytest.raises(TokenRejected):
        await _turn(nemo, creds)
    assert backend.paths() == [RUN_PATH, TOKEN_PATH, RUN_PATH]


async def test_1001_with_a_fixed_token_is_not_renewed(backend: Backend, nemo: NemoClient) -> None:
    backend.on("POST", RUN_PATH, code(1001, status=401))
    with pytest.raises(TokenRejected):
        await _turn(nemo, Credentials(client_id="c", token="nmv_usr_fixed", fixed=True))
    assert backend.paths() == [RUN_PATH]


async def test_429_before_the_stream_waits_and_retries_once(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RUN_PATH, Reply(429, {}), stream(sse({"text": "hi"})))
    assert await _turn(nemo, creds) == [TextEvent("hi"), EndEvent()]
    assert len(backend.requests) == 2


async def test_429_twice_is_rate_limited(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RUN_PATH, Reply(429, {}))
    with pytest.raises(RateLimited):
        await _turn(nemo, creds)
    assert len(backend.requests) == 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(404, {"detail": "Session not found"}), SessionNotFound),
        (code(1002, "session not found"), SessionNotFound),
        (Reply(200, {"code": 0, "data": {}}), ProtocolError),
        (Reply(422, {"detail": [{"msg": "bad"}]}), NemoError),
    ],
    ids=["404", "1002", "json-instead-of-stream", "422"],
)
async def test_refusals_before_the_stream(
    backend: Backend, nemo: NemoClient, creds: Credentials, reply: Reply, error: type
) -> None:
    backend.on("POST", RUN_PATH, reply)
    with pytest.raises(error):
        await _turn(nemo, creds)
    assert len(backend.requests) == 1


async def _heartbeats_forever() -> AsyncIterator[bytes]:
    while True:
        yield b'data: {"type": "heartbeat"}\n\n'
        await asyncio.sleep(0.005)


async def test_a_turn_that_runs_past_its_limit_times_out(
    backend: Backend, creds: Credentials
) -> None:
    nemo = backend.client(turn_timeout_seconds=0.1)
    backend.on("POST", RUN_PATH, Reply(chunks=_heartbeats_forever))
    seen: list[TurnEvent] = []
    started = time.monotonic()
    with pytest.raises(TurnTimedOut):
        async for event in nemo.run_turn(creds, SID, "go"):
            seen.append(event)
    elapsed = time.monotonic() - started
    assert 0.09 <= elapsed < 2.0
    assert len(seen) >= 3 and all(isinstance(e, HeartbeatEvent) for e in seen)
    assert len(backend.requests) == 1


async def test_a_silent_stream_times_out_on_the_total_limit_too(
    backend: Backend, creds: Credentials
) -> None:
    nemo = backend.client(turn_timeout_seconds=0.05)
    backend.on("POST", RUN_PATH, stream(sse({"text": "hi"}), 30.0))
    started = time.monotonic()
    with pytest.raises(TurnTimedOut):
        await _turn(nemo, creds)
    assert time.monotonic() - started < 2.0


async def test_an_idle_read_timeout_is_a_timed_out_turn(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RUN_PATH, stream(sse({"text": "hi"}), httpx.ReadTimeout("idle")))
    seen: list[TurnEvent] = []
    with pytest.raises(TurnTimedOut):
        async for event in nemo.run_turn(creds, SID, "go"):
            seen.append(event)
    assert seen == [TextEvent("hi")]
    assert len(backend.requests) == 1


async def test_the_read_timeout_is_the_idle_setting(backend: Backend, creds: Credentials) -> None:
    nemo = backend.client(stream_idle_seconds=42.0)
    backend.on("POST", RUN_PATH, stream(b""))
    await _turn(nemo, creds)
    timeouts = backend.requests[0].extensions["timeout"]
    assert timeouts["read"] == 42.0
