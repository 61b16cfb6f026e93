"""One agent turn (`POST /run_sse`) as an async iterator of whole, typed events.

What must hold:
- The turn is opened under the transport's retry loop, so 1001 and 429 are retried while the
  backend has refused it; once the stream is open nothing is re-sent (it charges twice). A break
  is `StreamInterrupted`, silence past the idle setting or the turn limit is `TurnTimedOut`.
- ADK `partial` chunks are joined: a final (non-partial) text replaces them, as ADK repeats the
  whole text there; otherwise the joined text is yielded when the stream ends or before an error.
- An error inside the stream is raised as `OutOfCredits` (code 2001, or "credit" in the message)
  or `TurnFailed` with the backend's code. Text yielded before it stays yielded.
- A stream lost before the server closed it (reset, incomplete chunked body) is
  `StreamInterrupted`, told apart from a normal close, which ends in `EndEvent`. A stream that
  sends only heartbeats for `heartbeat_only_seconds` is `TurnTimedOut` (the protocol's bound).
- An `ask_question` call is a `QuestionEvent`, in order with the texts around it.
- The agent's trailing "I encountered a temporary issue" after other text in the same turn is
  noise and dropped; alone it is the turn's only word and stays.
- Everything is bounded, whatever the backend sends (`TurnBudget`): one text at most
  `MAX_EVENT_TEXT` characters, a turn's text (partials included) at most `MAX_TURN_TEXT` and
  `MAX_TEXTS` messages, the first part kept with a "(cut)" note; more than `MAX_EVENTS` events
  is `TurnFailed`. The loop is given back at least every `PAUSE_SECONDS` of decoding, so one
  flooding stream cannot stall the other tenants.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

import httpx

from core.client_envelopes import Answer, read_capped, unwrap
from core.client_transport import Credentials, Transport
from core.errors import (
    NemoError,
    OutOfCredits,
    ProtocolError,
    StreamInterrupted,
    TurnFailed,
    TurnTimedOut,
)
from core.jsonio import json_bytes
from core.models import (
    EndEvent,
    ErrorEvent,
    HeartbeatEvent,
    QuestionEvent,
    TextEvent,
    TurnEvent,
)
from core.redact import backend_text, cut
from core.sse import decode_event, iter_sse

RUN_PATH = "/run_sse"
TRAILING_ISSUE = "i encountered a temporary issue"
MAX_EVENT_TEXT = 64 * 1024  # characters of one text event (or of the joined partials)
MAX_TURN_TEXT = 256 * 1024  # characters of text in one turn, partials included
MAX_TEXTS = 50  # separate texts (chat messages) one turn may become
MAX_EVENTS = 20_000  # events of any kind in one turn
PAUSE_SECONDS = 0.01  # longest stretch of decoding before the loop is given back


class TurnBudget:
    """What is left of one turn's text allowance (see the module docstring)."""

    def __init__(self) -> None:
        self.left = MAX_TURN_TEXT
        self.texts = MAX_TEXTS
        self.held: list[str] = []  # partial chunks not yet superseded by a final text
        self.held_size = 0

    def hold(self, chunk: str) -> None:
        """Keep a partial chunk while the joined text still fits one text event."""
        room = MAX_EVENT_TEXT + 1 - self.held_size
        if room > 0:
            self.held.append(chunk[:room])
            self.held_size += min(len(chunk), room)

    def release(self) -> str:
        joined = "".join(self.held)
        self.held.clear()
        self.held_size = 0
        return joined

    def take(self, text: str) -> str:
        """`text` within what is left ("" once nothing is), cut with a note when too long;
        texts past `MAX_TEXTS` are dropped (the turn has said more than anyone reads)."""
        if self.left <= 0 or self.texts <= 0:
            return ""
        self.texts -= 1
        room = min(MAX_EVENT_TEXT, self.left)
        if len(text) <= room:
            self.left -= len(text)
            return text
        self.left = 0 if room == self.left else self.left - room
        return cut(text, room)


async def run_turn(
    transport: Transport, creds: Credentials, session_id: str, text: str
) -> AsyncIterator[TurnEvent]:
    """Send one message and yield the agent's events until the stream closes (`EndEvent`)."""
    deadline = time.monotonic() + transport.timing.turn_timeout_seconds
    response = await _open(transport, creds, session_id, text)
    budget = TurnBudget()
    spoke = False  # some text of this turn was yielded already
    try:
        async with contextlib.aclosing(_events(transport, response, deadline)) as events:
            async for event in events:
                if isinstance(event, TextEvent) and event.partial:
                    budget.hold(event.text)
                    continue
                if isinstance(event, TextEvent):
                    budget.release()
                elif isinstance(event, ErrorEvent | EndEvent | QuestionEvent) and budget.held:
                    joined = TextEvent(budget.release())
                    if not (spoke and trailing_issue(joined.text)):
                        spoke = True
                        if words := budget.take(joined.text):
                            yield TextEvent(words)
                if isinstance(event, ErrorEvent):
                    raise in_stream_error(event)
                if isinstance(event, TextEvent):
                    if spoke and trailing_issue(event.text):
                        continue
                    spoke = True
                    if not (words := budget.take(event.text)):
                        continue
                    event = TextEvent(words)
                yield event
    finally:
        await response.aclose()


def trailing_issue(text: str) -> bool:
    """The agent's stock "I encountered a temporary issue" line."""
    return text.strip().lower().startswith(TRAILING_ISSUE)


def in_stream_error(event: ErrorEvent) -> NemoError:
    """What an error the agent reported inside the stream means to the bot."""
    if event.code == 2001 or "credit" in event.message.lower():
        return OutOfCredits(event.message)
    return TurnFailed(backend_text(event.message, 2000) or "unknown error", code=event.code)


async def _open(transport: Transport, creds: Credentials, session_id: str, text: str) -> Answer:
    """The open stream of an accepted turn; a refusal (even HTTP 200 with a JSON envelope) is
    raised before a byte of the turn is read, so the retry loop may try again."""
    body = {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": session_id,
        "new_message": {"parts": [{"text": text}]},
    }
    idle = transport.timing.stream_idle_seconds

    async def attempt() -> Answer:
        headers = transport.headers(creds, creds.platform)
        headers["Accept"] = "text/event-stream"
        with _stream_errors(idle):
            response = await _send(transport, headers, body, idle)
            content_type = response.headers.get("content-type", "")
            if response.status_code == 200 and "json" not in content_type:
                return response
            try:
                content = await read_capped(response)
            finally:
                await response.aclose()
        unwrap(response.status_code, RUN_PATH, content)
        raise ProtocolError(f"the turn was refused (HTTP {response.status_code})")

    return await transport.retrying(creds, attempt, idempotent=False)


async def _send(
    transport: Transport, headers: dict[str, str], body: dict[str, Any], idle: float
) -> Answer:
    """The turn's request, its answer begun: straight on the aiohttp transport where the
    client has one (`Transport.wire`), else through httpx."""
    connect, write = 15.0, 30.0
    url = transport.base + RUN_PATH
    wire = transport.wire
    if wire is not None:
        sent = transport.direct_headers(headers) | {"content-type": "application/json"}
        return await wire.open_stream(
            "POST", url, sent, json_bytes(body), connect=connect, read=idle, write=write
        )
    http = transport.http
    timeout = httpx.Timeout(connect=connect, read=idle, write=write, pool=connect)
    request = http.build_request("POST", url, json=body, headers=headers, timeout=timeout)
    return await http.send(request, stream=True)


async def _events(
    transport: Transport, response: Answer, deadline: float
) -> AsyncGenerator[TurnEvent, None]:
    """The stream's events as decoded, then `EndEvent` when the server closes it."""
    only_beats = transport.timing.heartbeat_only_seconds
    last_word = time.monotonic()  # when something other than a heartbeat last arrived
    paused = last_word  # when the loop was last given back
    count = 0
    with _stream_errors(transport.timing.stream_idle_seconds):
        events = iter_sse(response.aiter_bytes()).__aiter__()
        while True:
            now = time.monotonic()
            remaining = min(deadline - now, last_word + only_beats - now)
            if remaining <= 0:
                raise _timed_out(now >= deadline, only_beats)
            try:
                # Not `asyncio.wait_for`: on 3.11 it loses a cancellation ("stop") that lands
                # as the next event arrives, and the turn would run on.
                async with asyncio.timeout(remaining):
                    data = await events.__anext__()
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise _timed_out(time.monotonic() >= deadline, only_beats) from None
            for event in decode_event(data):
                count += 1
                if count > MAX_EVENTS:
                    yield ErrorEvent(f"the video service sent more than {MAX_EVENTS:,} events")
                    return
                now = time.monotonic()
                if now - paused >= PAUSE_SECONDS:
                    await asyncio.sleep(0)
                    paused = time.monotonic()
                if not isinstance(event, HeartbeatEvent):
                    last_word = now
                yield event
    yield EndEvent()


def _timed_out(past_deadline: bool, only_beats: float) -> TurnTimedOut:
    if past_deadline:
        return TurnTimedOut("the turn ran past its time limit")
    return TurnTimedOut(f"the video service sent only heartbeats for {only_beats:g} s")


@contextlib.contextmanager
def _stream_errors(idle: float) -> Iterator[None]:
    """Transport failures of a turn as the bot's errors: silence is a timed-out turn, anything
    else a broken stream. Neither is retried by the loop (a turn is not idempotent)."""
    try:
        yield
    except httpx.ReadTimeout:
        raise TurnTimedOut(f"no word from the video service for {idle:g} s") from None
    except httpx.TransportError as exc:
        raise StreamInterrupted(
            f"the connection to the video service broke ({exc.__class__.__name__})"
        ) from None
