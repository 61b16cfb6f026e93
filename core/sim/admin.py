"""The local backend's own surface: fault knobs, the request log, and the media it serves.

Also the middleware every API call passes through, in order: record the request (secrets
masked), then the `latency_ms` and `rate_limit_next` faults, then the attribution rule of
`core.sim.strict`. `/_sim/*` is exempt from all three;
its knobs and log answer loopback clients only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from core.sim import strict
from core.sim.exports import JOBS
from core.sim.state import STATE, SimState

SECRET_KEYS = re.compile(r"token|secret|password|authorization|api[-_]?key|cookie", re.IGNORECASE)
TOKEN_TEXT = re.compile(r"\bnmv_[A-Za-z0-9_\-]+")
ADMIN_PREFIX = "/_sim/"

routes = web.RouteTableDef()


def mask_text(text: str) -> str:
    return TOKEN_TEXT.sub("nmv_***", text)


def _mask_credential(value: str) -> str:
    scheme, _, secret = value.partition(" ")
    if not secret:
        return "nmv_***" if value.startswith("nmv_") else "***"
    return f"{scheme} {'nmv_***' if secret.strip().startswith('nmv_') else '***'}"


def mask(value: Any) -> Any:
    """A JSON value with every token-looking string and secret-named field hidden."""
    if isinstance(value, dict):
        return {
            key: _mask_credential(str(item)) if SECRET_KEYS.search(key) and item else mask(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask(item) for item in value]
    return mask_text(value) if isinstance(value, str) else value


def _headers(request: web.Request) -> dict[str, str]:
    return {
        name: _mask_credential(value) if SECRET_KEYS.search(name) else mask_text(value)
        for name, value in request.headers.items()
    }


async def _entry(request: web.Request) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "headers": _headers(request),
    }
    if request.query_string:
        entry["query"] = mask_text(request.query_string)
    if request.method == "POST" and request.content_type == "application/json":
        try:
            entry["json"] = mask(json.loads(await request.read() or b"null"))
        except ValueError:
            entry["json"] = None
    return entry


@web.middleware
async def faults_and_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    state = request.app[STATE]
    entry = await _entry(request)
    state.log.append(entry)
    faults = state.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    response: web.StreamResponse
    if state.faults.rate_limit_next > 0:
        state.faults = state.faults.updated({"rate_limit_next": state.faults.rate_limit_next - 1})
        response = web.json_response(
            {"code": 429, "message": "rate limited"}, status=429, headers={"Retry-After": "1"}
        )
    elif (refusal := strict.missing_attribution(request, state)) is not None:
        response = refusal
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            entry["status"] = exc.status
            if exc.status in (404, 405):  # FastAPI's shape for unknown routes and methods
                return web.json_response({"detail": exc.reason}, status=exc.status)
            raise
    entry["status"] = response.status
    return response


def is_loopback_client(request: web.Request) -> bool:
    try:
        address = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _admin(request: web.Request) -> SimState:
    if not is_loopback_client(request):
        raise web.HTTPForbidden(text="the local backend's knobs answer loopback clients only")
    return request.app[STATE]


@routes.get("/_sim/faults")
async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(_admin(request).faults.model_dump())


@routes.post("/_sim/faults")
async def set_faults(request: web.Request) -> web.Response:
    state = _admin(request)
    try:
        changes = json.loads(await request.read() or b"{}")
    except ValueError as exc:
        return web.json_response({"error": f"the body must be JSON: {exc}"}, status=400)
    if not isinstance(changes, dict):
        return web.json_response({"error": "the body must be a JSON object"}, status=400)
    try:
        apply_faults(state, changes)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return web.json_response({"error": problems}, status=400)
    return web.json_response(state.faults.model_dump())


def apply_faults(state: SimState, changes: dict[str, Any]) -> None:
    """Validates and applies a partial update; the "so far" faults take effect at this moment."""
    state.faults = state.faults.updated(changes)
    accounts = state.accounts
    if "expire_tokens" in changes:
        accounts.expire_tokens(state.faults.expire_tokens)
    if "drop_sessions" in changes:
        accounts.drop_sessions(state.faults.drop_sessions)
    if "credits" in changes:
        accounts.set_credits(state.faults.credits)


@routes.post("/_sim/api-token")
async def api_token(request: web.Request) -> web.Response:
    """A registered user's API token (`nmv_usr_...`, with the render scope), as made in
    NemoVideo's settings: what a deployment's NEMO_TOKEN is."""
    token = _admin(request).accounts.register()
    data = {"token": token.value, "user_id": token.user.id, "scopes": sorted(token.scopes)}
    return web.json_response({"code": 0, "message": "ok", "data": data})


@routes.get("/_sim/log")
async def get_log(request: web.Request) -> web.Response:
    return web.json_response(list(_admin(request).log))


@routes.post("/_sim/reset")
async def reset_log(request: web.Request) -> web.Response:
    _admin(request).log.clear()
    return web.json_response({"ok": True})


@routes.get("/_sim/media/{name}")
async def rendered(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    job = request.app[JOBS].get(name.removesuffix(".mp4"))
    if not name.endswith(".mp4") or job is None or job.path is None:
        raise web.HTTPNotFound(text="no such media")
    return web.FileResponse(job.path, headers={"Content-Type": "video/mp4"})


@routes.get("/_sim/media/uploads/{upload_id}/{name}")
async def uploaded(request: web.Request) -> web.FileResponse:
    state = request.app[STATE]
    upload_id, name = request.match_info["upload_id"], request.match_info["name"]
    path = state.media_dir / "uploads" / upload_id / name
    if ".." in (upload_id, name) or not path.is_file():
        raise web.HTTPNotFound(text="no such media")
    return web.FileResponse(path)
