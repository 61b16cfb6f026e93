"""The plain request/response endpoints: tokens, sessions, session state and credits.

Strict as the real service (see `core.sim.strict`): a second anonymous token for a client id
that still holds a valid one, or past the address's weekly cap, answers HTTP 429; a session
language that is no ISO-like code answers 400.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from core.sim import strict
from core.sim.state import SESSION_ERROR, STATE, TOKEN_ERROR, fail, ok, read_model

routes = web.RouteTableDef()


class NewSession(BaseModel):
    task_name: str = "project"
    language: str = Field(default="en", min_length=2, max_length=16)


@routes.post("/api/auth/anonymous-token")
async def anonymous_token(request: web.Request) -> web.Response:
    client_id = request.headers.get("X-Client-Id", "").strip()
    if not client_id:
        return fail({"code": 400, "message": "missing X-Client-Id"}, status=400)
    state = request.app[STATE]
    token = state.accounts.anonymous_token(
        client_id, request.remote or "", state.faults.address_token_limit
    )
    if isinstance(token, str):
        return fail({"code": 429, "message": token}, status=429)
    return ok(
        {
            "token": token.value,
            "user_id": token.user.id,
            "expires_at": token.expires_text(),
            "credits": token.user.available,
        }
    )


@routes.post("/api/tasks/me/with-session/nemo_agent")
async def create_session(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = state.token_for(request)
    if token is None:
        return fail(TOKEN_ERROR)
    if not await request.read():
        wish = NewSession()
    else:
        parsed, problem = await read_model(request, NewSession)
        if parsed is None:
            assert problem is not None
            return problem
        wish = parsed
    refusal = strict.language_problem(wish.language)
    if refusal is not None:
        return refusal
    session = state.accounts.new_session(token.user, wish.language)
    return ok({"task_id": session.task_id, "session_id": session.id, "user_id": token.user.id})


@routes.get("/api/state/nemo_agent/me/{session_id}/latest")
async def session_state(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = state.token_for(request)
    if token is None:
        return fail(TOKEN_ERROR)
    session = state.accounts.session(request.match_info["session_id"], token.user)
    if session is None:
        return fail(SESSION_ERROR)
    meta = session.draft.get("m") or {}
    body: dict[str, Any] = {
        "draft": session.draft,
        "video_infos": session.video_infos,
        "generated_media": session.generated_media,
        "canvas_config": {"width": meta.get("width", 1920), "height": meta.get("height", 1080)},
    }
    # Both documented layouts, the flat one about every fourth call (fixed by the seed).
    flat = state.rng("state", session.id, state.count(f"state:{session.id}")).random() < 0.25
    return ok(
        {"session_id": session.id, **body} if flat else {"session_id": session.id, "state": body}
    )


@routes.get("/api/credits/balance/simple")
async def credits(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = state.token_for(request)
    if token is None:
        return fail(TOKEN_ERROR)
    return ok(token.user.balance())
