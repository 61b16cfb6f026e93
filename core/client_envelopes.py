"""The backend's answers, read: every documented envelope becomes its `data` or a typed error.

What must hold: `{"code": ...}` and `{"success": ...}` envelopes are both accepted; HTTP 429 and
5xx become `RateLimited` and `BackendUnavailable` whatever the body says (the retry loop decides
what to do with them); an error message is built from codes and backend text only, never from a
request, so it cannot carry a token.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from core.errors import (
    BackendUnavailable,
    DuplicateRenderId,
    ProtocolError,
    RateLimited,
    RenderFailed,
    SessionNotFound,
    TokenRejected,
    error_for_code,
)

_M = TypeVar("_M", bound=BaseModel)


def unwrap(response: httpx.Response, path: str) -> Any:
    """The `data` of a successful answer; raises the error a refusal stands for."""
    status = response.status_code
    if status == 429:
        raise RateLimited("the video service is busy (rate limited)")
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = None
    if status >= 500:
        raise BackendUnavailable(f"the video service answered HTTP {status}", code=status)
    if isinstance(body, dict):
        _raise_for_envelope(body, status)
    _raise_for_status(body, status, path)
    if not isinstance(body, dict):
        raise ProtocolError(f"unexpected answer from the video service (HTTP {status})")
    data = body.get("data", body) if ("code" in body or "success" in body) else body
    return data if data is not None else {}


def _raise_for_envelope(body: dict[str, Any], status: int) -> None:
    code = body.get("code")
    if isinstance(code, int) and code not in (0, 200):
        raise error_for_code(code, text(body.get("message") or body.get("msg")))
    if body.get("success") is False and status != 402:
        error = text(body.get("error") or body.get("message")) or "the render service refused"
        if status == 409 or "duplicate" in error.lower():
            raise DuplicateRenderId(error, code=409)
        raise RenderFailed(error, code=status if status >= 400 else None)


def _raise_for_status(body: Any, status: int, path: str) -> None:
    if status == 401:
        raise TokenRejected("token expired or invalid", code=1001)
    if status == 402:
        raise error_for_code(402, "exporting needs a paid NemoVideo plan")
    if status == 404:
        detail = text(body.get("detail")) if isinstance(body, dict) else ""
        if "/render/" in path:
            raise RenderFailed(detail or "render not found", code=404)
        raise SessionNotFound(detail or "session not found")
    if status == 409 and "/render/" in path:
        raise DuplicateRenderId("duplicate render id", code=409)
    if status >= 400:
        raise error_for_code(status, text(body.get("message")) if isinstance(body, dict) else "")


def parse(model: type[_M], data: Any) -> _M:
    """A typed answer, or `ProtocolError` when the backend's JSON has the wrong shape."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "answer"
        raise ProtocolError(
            f"unexpected answer from the video service ({model.__name__}.{where})"
        ) from None


def text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))
