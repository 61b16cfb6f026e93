"""Everything one running local backend knows, and the reply helpers its routes share.

Routes reach it as `request.app[STATE]`. All of it lives on one event loop, so plain attributes
are enough: there is no locking, only the "one turn at a time" flag on a session.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import deque
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from core.sim.accounts import Accounts, Token
from core.sim.events import Shape
from core.sim.faults import Faults

ModelT = TypeVar("ModelT", bound=BaseModel)

TOKEN_ERROR = {"code": 1001, "message": "token expired or invalid"}
SESSION_ERROR = {"code": 1002, "message": "session not found"}
LOG_LIMIT = 10_000  # the request log keeps the latest calls of a long-running sim


class SimState:
    def __init__(
        self, *, seed: int, faults: Faults, media_dir: Path, max_upload_bytes: int
    ) -> None:
        self.seed = seed
        self.faults = faults
        self.media_dir = media_dir
        self.max_upload_bytes = max_upload_bytes
        self.accounts = Accounts(random.Random(f"{seed}:accounts"))
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._counters: dict[str, int] = {}
        self.background: set[asyncio.Task[None]] = set()  # lost turns still working

    def count(self, what: str) -> int:
        """0, 1, 2... per name: drives the deterministic rotations (shapes, state layouts)."""
        value = self._counters.get(what, 0)
        self._counters[what] = value + 1
        return value

    def rng(self, *parts: object) -> random.Random:
        """A random source fixed by the seed and `parts`, independent of call interleaving."""
        return random.Random(":".join(str(part) for part in (self.seed, *parts)))

    def next_shape(self) -> Shape:
        shapes = list(Shape)
        offset = self.seed % len(shapes)
        return shapes[(offset + self.count("turn")) % len(shapes)]

    def token_for(self, request: web.Request) -> Token | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return self.accounts.token(value.strip())

    def media_url(self, request: web.Request, path: str) -> str:
        """Absolute URL of a file under /_sim/media, on the host the client used."""
        return f"{request.url.origin()}/_sim/media/{path}"


STATE = web.AppKey("state", SimState)


def ok(data: dict[str, Any]) -> web.Response:
    return web.json_response({"code": 0, "message": "ok", "data": data})


def fail(body: dict[str, Any], status: int = 200) -> web.Response:
    """Business errors answer HTTP 200 with a non-zero code, as the real service mostly does."""
    return web.json_response(body, status=status)


def unprocessable(errors: list[dict[str, Any]]) -> web.Response:
    """FastAPI's 422 body: `{"detail": [{"type", "loc", "msg", "input"}, ...]}`."""
    return web.json_response({"detail": errors}, status=422)


async def read_json(request: web.Request) -> tuple[Any, web.Response | None]:
    try:
        return json.loads(await request.read() or b"null"), None
    except (ValueError, UnicodeDecodeError) as exc:
        problem = {"type": "json_invalid", "loc": ["body"], "msg": f"JSON decode error: {exc}"}
        return None, unprocessable([problem])


async def read_model(
    request: web.Request, model: type[ModelT]
) -> tuple[ModelT | None, web.Response | None]:
    """The body validated as `model`, or the 422 reply FastAPI would give."""
    body, problem = await read_json(request)
    if problem is not None:
        return None, problem
    try:
        return model.model_validate(body), None
    except ValidationError as exc:
        errors = json.loads(exc.json(include_url=False, include_context=False))
        for error in errors:
            error["loc"] = ["body", *error["loc"]]
        return None, unprocessable(errors)
