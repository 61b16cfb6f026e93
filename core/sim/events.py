"""The three event shapes of NEMO_PROTOCOL.md §3 and their SSE framing.

A turn speaks one shape throughout, so a client that only half-handles a shape fails on a whole
turn rather than on a stray event; the shape rotates from turn to turn (see `SimState`), so any
three consecutive turns show all three.

ADK turns look like ADK's `/run_sse` does: a longer text after the turn's first event streams as
`partial: true` chunks before the final event repeats it whole, a function response carries its call's id, and content-less
events (state and actions only) appear between them.
"""

from __future__ import annotations

import enum
import json
import random
import time
import uuid
from typing import Any

from core.sim.draft import Json

AUTHOR = "nemo_agent"
PARTIAL_FROM = 60  # ADK texts at least this long stream as partial chunks first
HEARTBEAT_FRAMES = (b'data: {"type":"heartbeat"}\n\n', b"data:\n\n", b": keepalive\n\n")


class Shape(enum.Enum):
    PLAIN = "plain"  # {"type": "text", "content": ...}
    ADK = "adk"  # Google ADK Event objects
    TOP_LEVEL = "top_level"  # {"text": ...}; tool events as in PLAIN


def frame(event: Json) -> bytes:
    return (
        b"data: " + json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
    )


def is_data_frame(raw: bytes) -> bool:
    """Comments (`: ...`) are not events; empty `data:` frames are (heartbeats)."""
    return raw.startswith(b"data:")


class EventMaker:
    """Builds one turn's events in its shape; ADK ids are stable for a given seed."""

    def __init__(self, shape: Shape, rng: random.Random) -> None:
        self.shape = shape
        self._rng = rng
        self._invocation = f"e-{self._uuid()}"
        self._calls: dict[str, str] = {}  # tool name -> id of its latest call
        self._made = 0  # ADK events made so far in this turn

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _adk(self, part: Json) -> Json:
        self._made += 1
        return {
            "content": {"role": "model", "parts": [part]},
            "author": AUTHOR,
            "partial": False,
            "id": self._uuid(),
            "invocationId": self._invocation,
            "timestamp": time.time(),
        }

    def _bare(self) -> Json:
        """An ADK event without content (state or actions only): no word for the user."""
        return {
            "author": AUTHOR,
            "actions": {"stateDelta": {}, "artifactDelta": {}},
            "id": self._uuid(),
            "invocationId": self._invocation,
            "timestamp": time.time(),
        }

    def partials(self, content: str) -> list[Json]:
        """The `partial` chunks ADK streams before a longer text (none in other shapes)."""
        if self.shape is not Shape.ADK or len(content) < PARTIAL_FROM or not self._made:
            return []
        cut = len(content) // 2
        chunks = [content[:cut], content[cut:]]
        return [{**self._adk({"text": chunk}), "partial": True} for chunk in chunks]

    def extras(self) -> list[Json]:
        """Events with no word in them that ADK sends around tool calls."""
        return [self._bare()] if self.shape is Shape.ADK else []

    def text(self, content: str) -> Json:
        if self.shape is Shape.ADK:
            return self._adk({"text": content})
        if self.shape is Shape.TOP_LEVEL:
            return {"text": content}
        return {"type": "text", "content": content}

    def tool_call(self, name: str, args: dict[str, Any]) -> Json:
        if self.shape is Shape.ADK:
            call_id = f"call_{self._uuid()}"
            self._calls[name] = call_id
            return self._adk({"functionCall": {"id": call_id, "name": name, "args": args}})
        return {"type": "tool_call", "name": name, "args": args}

    def tool_result(self, name: str, result: dict[str, Any]) -> Json:
        if self.shape is Shape.ADK:
            return self._adk(
                {
                    "functionResponse": {
                        "id": self._calls.get(name) or f"call_{self._uuid()}",
                        "name": name,
                        "response": result,
                    }
                }
            )
        return {"type": "tool_result", "name": name, "result": result}


def error(code: int, message: str, short: str) -> Json:
    """In-stream errors carry both documented spellings (`error` and `errorCode`/`errorMessage`)."""
    return {"error": short, "errorCode": code, "errorMessage": message}
