"""What the real agent does that a first client misses, at the turn stream: a lost stream is
told apart from a closed one and never re-sent, heartbeats alone end in a timeout, and the
trailing "I encountered a temporary issue" after real words is dropped."""

from __future__ import annotations

import httpx
import pytest

from core.client import Credentials, NemoClient
from core.errors import StreamInterrupted, TurnTimedOut
from core.models import EndEvent, HeartbeatEvent, TextEvent, TurnEvent
from tests.client.conftest import RUN_PATH, Backend, sse, stream

SID = "5529798706024415232"
ISSUE = "I encountered a temporary issue. Please try again."
BEAT = b'data: {"type":"heartbeat"}\n\n'


async def _events(nemo: NemoClient, creds: Credentials) -> list[TurnEvent]:
    return [event async for event in nemo.run_turn(creds, SID, "a sunset")]


@pytest.mark.parametrize(
    "cut",
    [
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadError("connection reset by peer"),
    ],
    ids=["incomplete-chunked-read", "reset"],
)
async def test_a_lost_stream_is_interrupted_and_never_resent(
    backend: Backend, nemo: NemoClient, creds: Credentials, cut: Exception
) -> None:
    backend.on("POST", RUN_PATH, stream(sse({"type": "text", "content": "Working on it"}), cut))
    seen: list[TurnEvent] = []
    with pytest.raises(StreamInterrupted):
        async for event in nemo.run_turn(creds, SID, "a sunset"):
            seen.append(event)
    assert seen == [TextEvent("Working on it")]
    assert len(backend.calls(RUN_PATH)) == 1


async def test_a_closed_stream_ends_normally(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RUN_PATH, stream(sse({"type": "text", "content": "Done"})))
    assert await _events(nemo, creds) == [TextEvent("Done"), EndEvent()]


async def test_heartbeats_alone_time_the_turn_out(backend: Backend, creds: Credentials) -> None:
    nemo = backend.client(heartbeat_only_seconds=0.2, stream_idle_seconds=5.0)
    beats = tuple(item for _ in range(40) for item in (BEAT, 0.02))
    backend.on("POST", RUN_PATH, stream(*beats))
    with pytest.raises(TurnTimedOut) as caught:
        await _events(nemo, creds)
    assert "heartbeats" in caught.value.message
    assert len(backend.calls(RUN_PATH)) == 1


async def test_words_between_heartbeats_keep_the_turn_alive(
    backend: Backend, creds: Credentials
) -> None:
    nemo = backend.client(heartbeat_only_seconds=0.15)
    word = sse({"type": "tool_call", "name": "edit_multitrack", "args": {}})
    chunks = tuple(item for _ in range(6) for item in (BEAT, 0.05, BEAT, 0.05, word))
    backend.on("POST", RUN_PATH, stream(*chunks))
    events = await _events(nemo, creds)
    assert events[-1] == EndEvent() and HeartbeatEvent() in events


async def test_the_trailing_temporary_issue_after_words_is_dropped(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on(
        "POST",
        RUN_PATH,
        stream(sse({"type": "text", "content": "Done! Your video is ready."}, {"text": ISSUE})),
    )
    assert await _events(nemo, creds) == [TextEvent("Done! Your video is ready."), EndEvent()]


async def test_a_partial_trailing_issue_is_dropped_too(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    chunks = [
        {"content": {"role": "model", "parts": [{"text": part}]}, "partial": True}
        for part in ("I encountered ", "a temporary issue.")
    ]
    backend.on("POST", RUN_PATH, stream(sse({"type": "text", "content": "Done."}, *chunks)))
    assert await _events(nemo, creds) == [TextEvent("Done."), EndEvent()]


async def test_a_temporary_issue_alone_stays(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RUN_PATH, stream(sse({"text": ISSUE})))
    assert await _events(nemo, creds) == [TextEvent(ISSUE), EndEvent()]
