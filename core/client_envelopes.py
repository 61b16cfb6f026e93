"""The backend's answers, read: every documented envelope becomes its `data` or a typed error.

What must hold: `{"code": ...}` and `{"success": ...}` envelopes are both accepted; HTTP 429 and
5xx become `RateLimited` and `BackendUnavailable` whatever the body says (the retry loop decides
what to do with them); an error message is built from codes and backend text only, never from a
request, so it cannot carry a token.

Bounds: a body is read at most `MAX_BODY_BYTES` (4 MiB; the transport stops reading past it)
and parsed by `loads`, which turns NaN, Infinity and numbers too large for a float into `null`:
a bad number is a missing value to the models (a progress of NaN keeps the last progress),
never a crash further in.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol, TypeVar

import orjson
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
from core.wire import Streamed

_M = TypeVar("_M", bound=BaseModel)
MAX_BODY_BYTES = 4 * 1024 * 1024


def _finite(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _no_constant(_: str) -> None:
    return None


_STRICT = json.JSONDecoder(parse_float=_finite, parse_constant=_no_constant)


def loads(text: str | bytes) -> Any:
    """JSON from the backend with every non-finite number read as `null` (see the docstring).

    orjson reads what it can (nearly everything, several times faster; integers past 64 bits
    become floats); what it refuses (a non-finite number, a lone surrogate, a byte-order mark)
    is read again by the standard library's decoder, so nothing it accepted is refused."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        if isinstance(text, bytes):  # as `json.loads` reads bytes
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        return _STRICT.decode(text)


class Answer(Protocol):
    """What is read of a streamed answer: httpx's response, or the direct road's
    (`core.wire.Streamed`)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


async def read_capped(response: Answer, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body of a streamed response, refused (`ProtocolError`) as soon as it outgrows
    `limit`: an endless or huge answer is never held whole. A direct road's answer is read in
    its own loop (`Streamed.read`), without a generator per chunk."""
    if isinstance(response, Streamed):
        return await response.read(limit, lambda _: too_large(limit))
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    parts: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def too_large(limit: int = MAX_BODY_BYTES) -> ProtocolError:
    return ProtocolError(f"the video service's answer is too large (over {limit} bytes)")


def unwrap(status: int, path: str, content: bytes) -> Any:
    """The `data` of a successful answer (its HTTP status and its body, read whole within the
    cap by `read_capped`); raises the error a refusal stands for."""
    if status == 429:
        raise RateLimited("the video service is busy (rate limited)")
    try:
        body = loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, RecursionError):
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
