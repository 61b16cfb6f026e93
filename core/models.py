"""Typed views of the backend's answers. Each accepts every documented shape of its response.

Models ignore unknown keys (the backend adds fields freely) and keep the raw draft, because a
render must send the draft back exactly as the backend gave it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Token(_Model):
    token: str
    user_id: str = ""
    expires_at: str | None = None
    credits: int | None = None


class SessionInfo(_Model):
    """A new backend session; `task_id` is what a task detail (claim) link is made for."""

    session_id: str
    task_id: str | None = None
    user_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _numeric_ids(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("session_id"), int):
            data = {**data, "session_id": str(data["session_id"])}
        return data


class ClaimToken(_Model):
    """A `clm_...` token for the task detail link: opens one project in the web editor, no API
    access. `expires_at` is a `time.time()` instant, so the caller knows when to get a new one."""

    token: str = Field(alias="claim_token", min_length=1)
    expires_at: float = 0.0


class Balance(_Model):
    available: float = 0
    frozen: float = 0
    total: float | None = None

    @property
    def grand_total(self) -> float:
        return self.total if self.total is not None else self.available + self.frozen


class Segment(_Model):
    duration_ms: int = Field(0, alias="d")
    start_ms: int | None = Field(None, alias="s")
    meta: dict[str, Any] = Field(default_factory=dict, alias="m")


class Track(_Model):
    kind: int = Field(0, alias="tt")
    segments: list[Segment] = Field(default_factory=list, alias="sg")
    meta: dict[str, Any] = Field(default_factory=dict, alias="m")


class Draft(_Model):
    tracks: list[Track] = Field(default_factory=list, alias="t")
    duration_ms: int | None = Field(None, alias="d")
    meta: dict[str, Any] = Field(default_factory=dict, alias="m")
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _keep_raw(cls, data: Any) -> Any:
        if isinstance(data, dict) and "raw" not in data:
            data = {**data, "raw": dict(data)}
        elif data is None:
            data = {"raw": {}}
        return data

    @classmethod
    def from_json(cls, text: str | None) -> Draft:
        """A draft kept as JSON (the thread's cache, a stored version); an unreadable one reads
        as empty."""
        if not text:
            return cls()
        try:
            return cls.model_validate(json.loads(text))
        except ValueError:
            return cls()

    @property
    def ready(self) -> bool:
        """Ready to export when some track has a non-empty segment list."""
        return any(track.segments for track in self.tracks)


class State(_Model):
    session_id: str | None = None
    draft: Draft = Field(default_factory=Draft)
    video_infos: list[dict[str, Any]] = Field(default_factory=list)
    generated_media: list[Any] = Field(default_factory=list)
    canvas_config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        """Accept `data.state.draft` and `data.draft` alike."""
        if not isinstance(data, dict):
            return data
        state = data.get("state")
        merged = {**data, **state} if isinstance(state, dict) else dict(data)
        merged.pop("state", None)
        if merged.get("draft") is None:
            merged["draft"] = {}
        if isinstance(merged.get("session_id"), int):
            merged["session_id"] = str(merged["session_id"])
        for key in ("video_infos", "generated_media"):
            if not isinstance(merged.get(key), list):
                merged[key] = []
        if not isinstance(merged.get("canvas_config"), dict):
            merged["canvas_config"] = {}
        return merged


class UploadedFile(_Model):
    filename: str = ""
    file_type: str = ""
    cdn_url: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None


class UploadResult(_Model):
    files: list[UploadedFile] = Field(default_factory=list)
    session_state_applied: bool = False


RenderState = Literal["pending", "processing", "completed", "failed", "cancelled"]


class RenderStatus(_Model):
    """A render's state. Numbers are checked, not trusted: a progress that is not a finite
    0..100 is `None` (unknown: the caller keeps the last one shown), a size or duration that is
    negative or not finite is `None`, so a bad value never reaches arithmetic further in."""

    id: str | None = None
    status: str = "pending"
    progress: float | None = 0
    output_url: str | None = None
    duration: float | None = None
    size: int | None = None
    error: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _both_shapes(cls, data: Any) -> Any:
        """`{"data":{"outputUrl":...}}` and `{"output":{"url":...}}` become one shape."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        output = merged.pop("output", None)
        if isinstance(output, dict):
            merged.setdefault("output_url", output.get("url"))
            merged.setdefault("duration", output.get("duration"))
            merged.setdefault("size", output.get("size"))
        elif isinstance(output, str):
            merged.setdefault("output_url", output)
        for key in ("outputUrl", "url", "output_url"):
            if merged.get(key):
                merged["output_url"] = merged[key]
                break
        status = merged.get("status")
        merged["status"] = str(status).lower() if status else "pending"
        merged["progress"] = _number(merged.get("progress"), 100.0)
        merged["size"] = _number(merged.get("size"), float(1 << 62))
        merged["duration"] = _number(merged.get("duration"), 1e9)
        if merged["size"] is not None:
            merged["size"] = int(merged["size"])
        return merged

    @property
    def finished(self) -> bool:
        return self.status in {"completed", "failed", "cancelled", "canceled", "error"}

    @property
    def succeeded(self) -> bool:
        return self.status == "completed" and bool(self.output_url)


def _number(value: Any, top: float) -> float | None:
    """`value` as a finite number within 0..`top`, else None (see `RenderStatus`)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and 0 <= number <= top else None


# Turn events: what one `/run_sse` stream says, reduced to what the engine acts on.


@dataclass(frozen=True, slots=True)
class TextEvent:
    text: str
    partial: bool = False


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolResultEvent:
    name: str
    result: Any = None


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer the agent offers: `label` is what the user sees and what is sent back."""

    label: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class QuestionEvent:
    """The agent stopped to ask (`ask_question`): the turn ends awaiting input, nothing was made.
    `options` may be empty (then free text is the only answer) or long (the UI caps them)."""

    question: str
    options: tuple[Choice, ...] = ()
    allow_freeform: bool = True


@dataclass(frozen=True, slots=True)
class HeartbeatEvent:
    pass


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    message: str
    code: int | None = None


@dataclass(frozen=True, slots=True)
class EndEvent:
    """The stream closed normally: the turn is over."""


TurnEvent = (
    TextEvent
    | QuestionEvent
    | ToolCallEvent
    | ToolResultEvent
    | HeartbeatEvent
    | ErrorEvent
    | EndEvent
)
