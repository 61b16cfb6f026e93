"""Backend failures in words a chat user can act on: one ordered table, most specific first."""

from __future__ import annotations

from core.errors import (
    BackendUnavailable,
    ExportBlocked,
    FileRejected,
    FileTooLarge,
    NemoError,
    OutOfCredits,
    RateLimited,
    RenderFailed,
    StreamInterrupted,
    TokenRejected,
    TurnBusy,
    TurnFailed,
    TurnTimedOut,
    UnsupportedFileType,
)
from core.messages import say
from core.redact import chat_safe

_TABLE: tuple[tuple[type[NemoError], str], ...] = (
    (UnsupportedFileType, "err_type"),
    (FileTooLarge, "err_size"),
    (FileRejected, "err_file"),
    (ExportBlocked, "err_export_plan"),
    (RateLimited, "err_rate"),
    (TurnBusy, "err_busy"),
    (TurnTimedOut, "err_timeout"),
    (StreamInterrupted, "err_interrupted"),
    (BackendUnavailable, "err_down"),
    (TurnFailed, "err_agent"),
    (RenderFailed, "err_render"),
)


def explain(
    exc: NemoError, chinese: bool, *, fixed_token: bool = False, anonymous_user: str | None = None
) -> str:
    """The reply for `exc`. `anonymous_user` (an `anon_...` id) turns out-of-credits into a
    register link that keeps the user's work; a configured token gets "ask your admin"."""
    if isinstance(exc, TokenRejected):
        return say("err_token_fixed" if fixed_token else "err_token", chinese)
    if isinstance(exc, OutOfCredits):
        if anonymous_user and not fixed_token:
            return say("err_credits_anon", chinese, user_id=anonymous_user)
        return say("err_credits", chinese)
    detail = chat_safe(exc.message)
    for cls, key in _TABLE:
        if isinstance(exc, cls):
            return say(key, chinese, detail=detail)
    return say("err_backend", chinese, detail=detail)
