"""The rules the real service enforces and a lenient fake would let slide.

- Attribution: every API call carries `X-Skill-Source`, `X-Skill-Version` and `X-Skill-Platform`.
  Missing ones answer HTTP 400 `{"code": 400, "message": "missing attribution headers: ..."}`,
  except a render started by an anonymous user, which answers 402 (what the protocol says an
  unattributed export gets). A call without a valid token is left to its handler, so a bad token
  still answers 1001 and a token call without `X-Client-Id` still answers "missing X-Client-Id".
- Render scope: anonymous tokens cannot render (402, a plan matter); API tokens can. The
  `anonymous_render` knob lifts that for chats that must export anonymously (engine tests).
- Session languages are ISO-like codes (en, zh-CN, ja, es, pt-BR...); others answer 400.
- `POST /api/auth/claim-token` makes the task detail link's `clm_...` token for one of the
  caller's own sessions (`POST /_sim/api-token`, loopback only, mints a render-scoped API token).
"""

from __future__ import annotations

import re

from aiohttp import web
from pydantic import BaseModel, Field

from core.sim.accounts import TOKEN_LIFETIME, Token
from core.sim.state import SESSION_ERROR, STATE, TOKEN_ERROR, SimState, fail, ok, read_model

ATTRIBUTION = ("X-Skill-Source", "X-Skill-Version", "X-Skill-Platform")
TOKEN_PATH = "/api/auth/anonymous-token"
RENDER_PATH = "/api/render/proxy/lambda"
LANGUAGE = re.compile(r"^[a-z]{2,3}(-([A-Z]{2}|[A-Z][a-z]{3}|[0-9]{3}))?$")

routes = web.RouteTableDef()


def missing_attribution(request: web.Request, state: SimState) -> web.Response | None:
    """The refusal for a call without attribution headers, or None to go on."""
    missing = [name for name in ATTRIBUTION if not request.headers.get(name, "").strip()]
    if not missing:
        return None
    if request.path == TOKEN_PATH:
        if not request.headers.get("X-Client-Id", "").strip():
            return None
        token = None
    else:
        token = state.token_for(request)
        if token is None:
            return None
    if token is not None and token.user.anonymous and _starts_render(request):
        message = "export blocked on the free plan: send " + ", ".join(missing)
        return fail({"code": 402, "message": message}, status=402)
    message = "missing attribution headers: " + ", ".join(missing)
    return fail({"code": 400, "message": message}, status=400)


def _starts_render(request: web.Request) -> bool:
    return request.method == "POST" and request.path.rstrip("/") == RENDER_PATH


def may_render(state: SimState, token: Token) -> bool:
    return "render" in token.scopes or (token.user.anonymous and state.faults.anonymous_render)


def render_blocked() -> web.Response:
    message = "free plan export blocked: this token has no render scope (register or upgrade)"
    return fail({"success": False, "code": 402, "error": message, "message": message}, status=402)


def language_problem(language: str) -> web.Response | None:
    if LANGUAGE.match(language):
        return None
    message = f"language must be an ISO code such as en, zh-CN, ja or es (got {language[:20]!r})"
    return fail({"code": 400, "message": message}, status=400)


class ClaimRequest(BaseModel):
    task_id: str = Field(min_length=1, max_length=128)
    session_id: str = Field(min_length=1, max_length=64)


@routes.post("/api/auth/claim-token")
async def claim_token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = state.token_for(request)
    if token is None:
        return fail(TOKEN_ERROR)
    body, problem = await read_model(request, ClaimRequest)
    if body is None:
        assert problem is not None
        return problem
    session = state.accounts.session(body.session_id, token.user)
    if session is None:
        return fail(SESSION_ERROR)
    if session.task_id != body.task_id:
        return fail({"code": 400, "message": "task_id does not belong to that session"}, 400)
    value = f"clm_{state.rng('claim', session.id, state.count('claim')).getrandbits(128):032x}"
    return ok({"claim_token": value, "expires_in": int(TOKEN_LIFETIME.total_seconds())})
