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
from core.messages import Msg, say
from core.redact import backend_text

DETAIL_LIMIT = 500  # characters of the backend's own words in an error reply

_TABLE: tuple[tuple[type[NemoError], Msg], ...] = (
    (UnsupportedFileType, Msg.ERR_TYPE),
    (FileTooLarge, Msg.ERR_SIZE),
    (FileRejected, Msg.ERR_FILE),
    (ExportBlocked, Msg.ERR_EXPORT_PLAN),
    (RateLimited, Msg.ERR_RATE),
    (TurnBusy, Msg.ERR_BUSY),
    (TurnTimedOut, Msg.ERR_TIMEOUT),
    (StreamInterrupted, Msg.ERR_INTERRUPTED),
    (BackendUnavailable, Msg.ERR_DOWN),
    (TurnFailed, Msg.ERR_AGENT),
    (RenderFailed, Msg.ERR_RENDER),
)


def explain(
    exc: NemoError, language: str, *, fixed_token: bool = False, anonymous_user: str | None = None
) -> str:
    """The reply for `exc`. `anonymous_user` (an `anon_...` id) turns out-of-credits into a
    register link that keeps the user's work; a configured token gets "ask your admin"."""
    if isinstance(exc, TokenRejected):
        return say(Msg.ERR_TOKEN_FIXED if fixed_token else Msg.ERR_TOKEN, language)
    if isinstance(exc, OutOfCredits):
        if anonymous_user and not fixed_token:
            return say(Msg.ERR_CREDITS_ANON, language, user_id=anonymous_user)
        return say(Msg.ERR_CREDITS, language)
    detail = backend_text(exc.message, DETAIL_LIMIT)
    for cls, key in _TABLE:
        if isinstance(exc, cls):
            return say(key, language, detail=detail)
    return say(Msg.ERR_BACKEND, language, detail=detail)
