"""Server-Sent Events, parsed from raw bytes and decoded into turn events.

Why our own parser: the stream must survive frames split across reads, CRLF or CR line ends,
`:` comments, empty `data:` lines, non-JSON payloads and absurdly long lines, and must never split
on U+2028 (valid inside JSON strings; `str.splitlines` would break on it). Lines are split on
bytes only, and a line longer than `max_line` is dropped whole instead of growing without bound,
as is an event whose data lines together outgrow it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

from core.client_envelopes import loads
from core.models import (
    ErrorEvent,
    HeartbeatEvent,
    TextEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnEvent,
)
from core.questions import ASK_TOOL, question_from_args

MAX_LINE_BYTES = 1024 * 1024
_LINE_END = re.compile(rb"\r\n|\r|\n")


class SSEParser:
    """Feed bytes, get back the `data` of each complete event (None for a keep-alive)."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._size = 0  # characters of data gathered for the current event
        self._oversized = False  # the current event outgrew `max_line`: drop it whole
        self._max_line = max_line
        self._overflow = False  # inside a line that is being dropped
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[str | None]:
        out: list[str | None] = []
        if not chunk:
            return out  # an empty read must not forget a pending \r
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the \n of a \r\n split across reads
        self._pending_cr = False
        self._buffer += chunk
        start = 0
        for match in _LINE_END.finditer(self._buffer):
            if match.group() == b"\r" and match.end() == len(self._buffer):
                self._pending_cr = True
            self._line(self._buffer[start : match.start()], out)
            start = match.end()
        self._buffer = self._buffer[start:]
        if len(self._buffer) > self._max_line:
            self._buffer = b""
            self._overflow = True
        return out

    def close(self) -> list[str | None]:
        """The stream ended: a last event without its blank line still counts."""
        out: list[str | None] = []
        if self._buffer:
            self._line(self._buffer, out)
            self._buffer = b""
        self._overflow = False  # a dropped line cut by the end must not swallow the last event
        self._line(b"", out)
        return out

    def _line(self, raw: bytes, out: list[str | None]) -> None:
        if self._overflow:
            self._overflow = False  # the tail of an over-long line: drop it with its head
            return
        if not raw:
            if self._data and not self._oversized:
                out.append("\n".join(self._data))
            self._data, self._size, self._oversized = [], 0, False
            return
        if len(raw) > self._max_line:
            return  # an over-long line that arrived whole in one read: dropped all the same
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            out.append(None)
            return
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            if value:
                self._size += len(value) + 1
                if self._size > self._max_line:
                    self._data, self._oversized = [], True
                elif not self._oversized:
                    self._data.append(value)
            elif not self._data:
                out.append(None)  # an empty `data:` line is a keep-alive


async def iter_sse(
    chunks: AsyncIterable[bytes], max_line: int = MAX_LINE_BYTES
) -> AsyncIterator[str | None]:
    parser = SSEParser(max_line)
    async for chunk in chunks:
        for item in parser.feed(chunk):
            yield item
    for item in parser.close():
        yield item


def decode_event(data: str | None) -> list[TurnEvent]:
    """One SSE `data` payload as turn events; anything unrecognisable is ignored, never raised."""
    if data is None:
        return [HeartbeatEvent()]
    try:
        payload = loads(data)
    except (ValueError, RecursionError):
        text = data.strip()
        return [TextEvent(text)] if text and not text.startswith(("{", "[")) else []
    if not isinstance(payload, dict):
        return []
    return list(_from_payload(payload))


def _from_payload(payload: dict[str, Any]) -> Iterable[TurnEvent]:
    error = _error(payload)
    if error is not None:
        yield error
        return
    kind = payload.get("type")
    if kind == "heartbeat" or payload.get("heartbeat") is True:
        yield HeartbeatEvent()
    elif kind == "text":
        yield from _text(
            payload.get("content") or payload.get("text"), bool(payload.get("partial"))
        )
    elif kind == "tool_call":
        yield _call(payload.get("name"), payload.get("args", payload.get("arguments")))
    elif kind == "tool_result":
        yield ToolResultEvent(str(payload.get("name") or ""), payload.get("result"))
    elif isinstance(payload.get("content"), dict):
        yield from _adk(payload)
    elif "text" in payload:
        yield from _text(payload.get("text"), bool(payload.get("partial")))
    else:
        yield HeartbeatEvent()  # a frame we do not know still proves the stream is alive


def _adk(payload: dict[str, Any]) -> Iterable[TurnEvent]:
    content = payload["content"]
    # ADK sends tool results with role "user"; only the model's own words are text to relay
    from_model = content.get("role") in (None, "model", "assistant")
    partial = bool(payload.get("partial"))
    parts = content.get("parts")
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("functionCall"), dict) and from_model:
            call = part["functionCall"]
            yield _call(call.get("name"), call.get("args"))
        elif isinstance(part.get("functionResponse"), dict):
            response = part["functionResponse"]
            yield ToolResultEvent(str(response.get("name") or ""), response.get("response"))
        elif "text" in part and not part.get("thought") and from_model:
            yield from _text(part.get("text"), partial)


def _call(name: Any, args: Any) -> TurnEvent:
    """A tool call; `ask_question` is the agent asking the user, so it becomes a question."""
    if name == ASK_TOOL:
        return question_from_args(args)
    return ToolCallEvent(str(name or ""), _dict(args))


def _text(value: Any, partial: bool) -> Iterable[TurnEvent]:
    if not isinstance(value, str) or not value.strip():
        return
    if value.lstrip().startswith("Error:"):
        yield ErrorEvent(value.strip()[len("Error:") :].strip() or "the agent reported an error")
        return
    yield TextEvent(value, partial)


def _error(payload: dict[str, Any]) -> ErrorEvent | None:
    code = payload.get("errorCode", payload.get("error_code"))
    message = payload.get("errorMessage") or payload.get("error_message") or payload.get("error")
    if code is None and not message:
        return None
    if isinstance(message, dict):
        code = code if code is not None else message.get("code")
        message = message.get("message") or json.dumps(message)[:200]
    numeric: int | None
    try:
        numeric = int(code) if code is not None else None
    except (TypeError, ValueError, OverflowError):  # JSON allows Infinity
        numeric = None
    return ErrorEvent(str(message or "the agent reported an error")[:2000], numeric)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
