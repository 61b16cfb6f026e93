"""The three event shapes of NEMO_PROTOCOL.md §3 and their SSE framing.

A turn speaks one shape throughout, so a client that only half-handles a shape fails on a whole
turn rather than on a stray event; the shape rotates from turn to turn (see `SimState`), so any
three consecutive turns show all three.
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

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _adk(self, part: Json) -> Json:
        return {
            "content": {"role": "model", "parts": [part]},
            "author": AUTHOR,
            "partial": False,
            "id": self._uuid(),
            "invocationId": self._invocation,
            "timestamp": time.time(),
        }

    def text(self, content: str) -> Json:
        if self.shape is Shape.ADK:
            return self._adk({"text": content})
        if self.shape is Shape.TOP_LEVEL:
            return {"text": content}
        return {"type": "text", "content": content}

    def tool_call(self, name: str, args: dict[str, Any]) -> Json:
        if self.shape is Shape.ADK:
            return self._adk(
                {"functionCall": {"id": f"call_{self._uuid()}", "name": name, "args": args}}
            )
        return {"type": "tool_call", "name": name, "args": args}

    def tool_result(self, name: str, result: dict[str, Any]) -> Json:
        if self.shape is Shape.ADK:
            return self._adk(
                {
                    "functionResponse": {
                        "id": f"call_{self._uuid()}",
                        "name": name,
                        "response": result,
                    }
                }
            )
        return {"type": "tool_result", "name": name, "result": result}


def error(code: int, message: str, short: str) -> Json:
    """In-stream errors carry both documented spellings (`error` and `errorCode`/`errorMessage`)."""
    return {"error": short, "errorCode": code, "errorMessage": message}
