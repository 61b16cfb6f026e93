"""Whatever bytes a turn's stream carries, the client yields typed events or raises a NemoError,
and the engine answers the user: never a crash, never a stuck thread."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.client import ClientTiming, Credentials, NemoClient
from core.engine import Engine, EngineConfig
from core.errors import NemoError
from core.models import EndEvent, ErrorEvent, TextEvent, TurnEvent
from core.port import ReplyKind, ThreadKey
from core.store import Store
from tests.fakes.thread import FakeThread
from tests.faults.conftest import said
from tests.faults.fuzz import sse_bodies

NAMES = itertools.count()

BASE = "http://nemo.invalid"
TIMING = ClientTiming(
    retry_after_seconds=0.0,
    backoff_seconds=0.0,
    turn_timeout_seconds=5,
    stream_idle_seconds=5,
    request_timeout_seconds=5,
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STATE = {"code": 0, "data": {"state": {"draft": {"t": [], "m": {}}}}}


class Stream:
    """The body of `/run_sse` for the example being run, chunk by chunk."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.break_after: int | None = None  # raise a read error after this many chunks

    async def play(self) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if self.break_after is not None and index >= self.break_after:
                raise httpx.ReadError("connection reset by peer")
            yield chunk


def backend(stream: Stream) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/auth/anonymous-token":
            return httpx.Response(200, json={"code": 0, "data": {"token": "nmv_usr_t"}})
        if path.startswith("/api/tasks/"):
            return httpx.Response(200, json={"code": 0, "data": {"session_id": "s1"}})
        if path.startswith("/api/state/"):
            return httpx.Response(200, json=STATE)
        if path == "/run_sse":
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, headers=headers, content=stream.play())
        return httpx.Response(404, json={"detail": "Not Found"})

    return httpx.MockTransport(answer)


@pytest.fixture
def stream() -> Stream:
    return Stream()


@pytest.fixture
async def nemo(stream: Stream) -> AsyncIterator[NemoClient]:
    async with httpx.AsyncClient(transport=backend(stream)) as http:
        yield NemoClient(http, BASE, TIMING)


@FUZZ
@given(chunks=sse_bodies(), break_after=st.none() | st.integers(0, 6))
async def test_any_stream_gives_events_or_a_nemo_error(
    nemo: NemoClient, stream: Stream, chunks: list[bytes], break_after: int | None
) -> None:
    stream.chunks, stream.break_after = chunks, break_after
    creds = Credentials(client_id="c1", token="nmv_usr_t")
    events: list[TurnEvent] = []
    try:
        async for event in nemo.run_turn(creds, "s1", "hello"):
            events.append(event)
    except NemoError:
        return
    assert events and isinstance(events[-1], EndEvent)
    assert all(not isinstance(e, EndEvent) for e in events[:-1])
    for event in events:
        if isinstance(event, TextEvent):
            assert event.text.strip() and not event.partial  # partial chunks arrive joined
        assert not isinstance(event, ErrorEvent)  # in-stream errors are raised, not yielded


@pytest.fixture
async def engine(nemo: NemoClient, store: Store) -> AsyncIterator[Engine]:
    config = EngineConfig(
        heartbeat_seconds=60, render_poll_seconds=0.01, lease_seconds=5, recovery_seconds=0.02
    )
    engine = Engine(nemo, store, config, owner="fuzz")
    await engine.start()
    yield engine
    await engine.stop()


@FUZZ
@given(chunks=sse_bodies(), break_after=st.none() | st.integers(0, 6))
async def test_any_stream_gets_the_user_an_answer(
    engine: Engine, stream: Stream, chunks: list[bytes], break_after: int | None
) -> None:
    stream.chunks, stream.break_after = chunks, break_after
    thread = FakeThread(ThreadKey("console", "fuzz", "c", f"t{next(NAMES)}"))
    await engine.handle(thread, said("a video of the sea"))
    await engine.idle(10)
    status = thread.log[0]
    assert status.text == "Connecting...", thread.transcript()
    replaced = [
        s
        for s in thread.log
        if s.op == "update"
        and s.message_id == status.message_id
        and s.reply is not None
        and s.reply.kind is not ReplyKind.STATUS
    ]
    failed = [s for s in thread.log if s.reply is not None and s.reply.kind is ReplyKind.ERROR]
    assert replaced or failed, thread.transcript()  # the status became the answer, or an error
    assert "went wrong on my side" not in thread.transcript()
    for said_ in thread.log:
        assert "nmv_usr_" not in said_.text


@pytest.mark.parametrize(
    ("error", "reply"),
    [
        ({"errorCode": 5003, "errorMessage": "the model crashed"}, "the model crashed"),
        ({"errorCode": 2001, "errorMessage": "insufficient credits"}, "credits"),
    ],
    ids=["agent-error", "out-of-credits"],
)
async def test_words_before_an_in_stream_error_are_shown(
    engine: Engine, stream: Stream, error: dict[str, object], reply: str
) -> None:
    """The client raises the agent's error; the words it yielded before (a whole text and the
    joined partial chunks) are posted ahead of the error reply."""
    frames = [
        {"type": "text", "content": "Starting on your sea video."},
        {"type": "text", "content": "Almost ", "partial": True},
        {"type": "text", "content": "done", "partial": True},
        error,
    ]
    stream.chunks = [f"data: {json.dumps(frame)}\n\n".encode() for frame in frames]
    thread = FakeThread(ThreadKey("console", "fuzz", "c", f"t{next(NAMES)}"))
    await engine.handle(thread, said("a video of the sea"))
    await engine.idle(10)
    texts = thread.texts(ReplyKind.TEXT)
    assert texts == ["Starting on your sea video.", "Almost done"], thread.transcript()
    (failure,) = thread.texts(ReplyKind.ERROR)
    assert reply in failure.lower(), thread.transcript()
    last_text = max(
        i for i, s in enumerate(thread.log) if s.reply and s.reply.kind is ReplyKind.TEXT
    )
    first_error = min(
        i for i, s in enumerate(thread.log) if s.reply and s.reply.kind is ReplyKind.ERROR
    )
    assert last_text < first_error
