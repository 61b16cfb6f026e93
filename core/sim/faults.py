"""The local backend's fault knobs, shared by `POST /_sim/faults` and the `jupiter sim` flags.

Every knob has a default that keeps a demo snappy; tests shrink the timings further. A change
applies from the next call on: handlers read the current `Faults` at the moment they need a value.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    """What the local backend does differently from a healthy NemoVideo (see CONTRACT.md)."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)

    latency_ms: int = Field(default=0, ge=0, le=600_000)
    turn_seconds: float = Field(default=1.5, ge=0, le=3600)
    heartbeat_seconds: float = Field(default=0.5, gt=0, le=3600)
    no_text_ratio: float = Field(default=0.3, ge=0, le=1)
    rate_limit_next: int = Field(default=0, ge=0)
    expire_tokens: bool = False
    drop_sessions: bool = False
    drop_stream_after: int = Field(default=0, ge=0)
    render_seconds: float = Field(default=2.0, ge=0, le=3600)
    render_fail: bool = False
    # The long side of a rendered MP4 in pixels; CONTRACT.md wants at least 640 by default, and
    # tests that render a lot shrink it to stay fast.
    render_long_side: int = Field(default=640, ge=16, le=4096)
    credits: int | None = Field(default=None, ge=0)
    question_ratio: float = Field(default=0.0, ge=0, le=1)
    trailing_issue_ratio: float = Field(default=0.0, ge=0, le=1)
    lose_stream_after: int = Field(default=0, ge=0)
    anonymous_render: bool = False
    address_token_limit: int = Field(default=10, ge=0)

    def updated(self, changes: dict[str, Any]) -> Faults:
        """A validated copy with `changes` applied; raises pydantic's ValidationError."""
        return Faults.model_validate({**self.model_dump(), **changes})


def _number(
    kind: type[int] | type[float], low: float, *, strictly: bool = False
) -> Callable[[str], Any]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value < low or (strictly and value == low):
            bound = "greater than" if strictly else "at least"
            raise argparse.ArgumentTypeError(f"must be {bound} {low:g}, got {text}")
        return value

    return parse


def _ratio(text: str) -> float:
    value: float = _number(float, 0)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds one flag per knob; every default is None, meaning "keep the knob's default"."""
    group = parser.add_argument_group("local backend faults")
    add = group.add_argument
    add("--latency-ms", type=_number(int, 0), default=None, help="added to every call")
    add("--turn-seconds", type=_number(float, 0), default=None, help="how long a turn works")
    add(
        "--heartbeat-seconds",
        type=_number(float, 0, strictly=True),
        default=None,
        help="gap between heartbeats during a turn",
    )
    add(
        "--no-text-ratio",
        type=_ratio,
        default=None,
        help="share of edit turns that end with no text (0..1)",
    )
    add(
        "--rate-limit-next",
        type=_number(int, 0),
        default=None,
        help="the next N calls answer HTTP 429",
    )
    add(
        "--expire-tokens",
        action="store_true",
        default=None,
        help="every token issued so far answers 1001",
    )
    add(
        "--drop-sessions",
        action="store_true",
        default=None,
        help="every session so far answers 1002",
    )
    add(
        "--drop-stream-after",
        type=_number(int, 0),
        default=None,
        help="cut each SSE stream after N events (0: never)",
    )
    add("--render-seconds", type=_number(float, 0), default=None, help="how long a render takes")
    add("--render-fail", action="store_true", default=None, help="renders end failed")
    add(
        "--render-long-side",
        type=_number(int, 16),
        default=None,
        help="pixels on a rendered MP4's long side (default 640)",
    )
    add("--credits", type=_number(int, 0), default=None, help="the balance of every token")
    add(
        "--question-ratio",
        type=_ratio,
        default=None,
        help="share of first prompts without a style word answered with a style question (0..1)",
    )
    add(
        "--trailing-issue-ratio",
        type=_ratio,
        default=None,
        help='share of turns that end with a stray "I encountered a temporary issue" (0..1)',
    )
    add(
        "--lose-stream-after",
        type=_number(int, 0),
        default=None,
        help="lose the connection after N events while the turn goes on (0: never)",
    )
    add(
        "--anonymous-render",
        action="store_true",
        default=None,
        help="anonymous tokens may render too (the real service answers 402)",
    )
    add(
        "--address-token-limit",
        type=_number(int, 0),
        default=None,
        help="anonymous tokens per client address per 7 days (0: no limit)",
    )


def faults_from_args(ns: argparse.Namespace) -> Faults:
    """The knobs given on the command line over the defaults (ValidationError is a ValueError)."""
    given = {
        name: getattr(ns, name)
        for name in Faults.model_fields
        if getattr(ns, name, None) is not None
    }
    return Faults.model_validate(given)
