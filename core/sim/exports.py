"""The render endpoints (`/api/render/proxy/lambda`): exports that end in a real MP4.

A render job's status is derived from the clock (pending, then processing with rising
progress) until its encode has finished and `render_seconds` have passed; the encode runs in a
worker thread so the server keeps answering while it works.
"""

from __future__ import annotations

import asyncio
import copy
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from core.sim import draft as drafts
from core.sim import render, strict
from core.sim.accounts import User
from core.sim.draft import Json
from core.sim.state import STATE, TOKEN_ERROR, SimState, fail, read_json

OUTPUT_FORMATS = frozenset({"mp4", "mov", "webm"})
OUTPUT_QUALITIES = frozenset({"low", "medium", "high", "standard", "1080p", "720p", "4k"})
RENDER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")

routes = web.RouteTableDef()


@dataclass(eq=False)
class RenderJob:
    id: str
    user: User
    draft: Json
    seconds: float
    fail: bool
    long_side: int = render.LONG_SIDE
    started: float = field(default_factory=time.monotonic)
    outcome: str | None = None  # "completed" or "failed" once finished
    error: str | None = None
    path: Path | None = None
    duration: float = 0.0
    polls: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None

    def progress(self) -> tuple[str, int]:
        if self.outcome == "completed":
            return self.outcome, 100
        elapsed = time.monotonic() - self.started
        share = min(1.0, elapsed / self.seconds) if self.seconds else 1.0
        if self.outcome is not None:
            return self.outcome, 5 + int(90 * share)
        if elapsed < min(0.5, self.seconds / 10):
            return "pending", 5
        return "processing", min(95, 5 + int(90 * share))

    async def run(self, target: Path) -> None:
        """Encodes (or fails, when the fault says so) and waits out `render_seconds`."""
        try:
            if self.fail:
                await asyncio.sleep(self.seconds)
                raise RuntimeError("simulated render failure (render_fail is on)")
            partial = target.with_name(f"{target.name}.part")
            encoding = asyncio.to_thread(
                render.encode, self.draft, partial, self.cancelled, long_side=self.long_side
            )
            self.duration, _ = await asyncio.gather(encoding, asyncio.sleep(self.seconds))
            partial.replace(target)
            self.path, self.outcome = target, "completed"
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        except Exception as exc:  # any encoder failure is the render's failure
            self.outcome, self.error = "failed", f"render failed: {exc}"

    def stop(self, reason: str) -> None:
        self.cancelled.set()
        if self.task is not None:
            self.task.cancel()
        self.outcome, self.error = "failed", reason


JOBS = web.AppKey("render_jobs", dict[str, RenderJob])


def _owned(request: web.Request) -> RenderJob | web.Response:
    """The caller's render job named in the path, or the refusal (1001, or 404 for a job that
    is unknown or someone else's)."""
    token = request.app[STATE].token_for(request)
    if token is None:
        return _token_error()
    job = request.app[JOBS].get(request.match_info["render_id"])
    return job if job is not None and job.user is token.user else _not_found()


def _not_found() -> web.Response:
    return fail({"detail": "Render not found"}, status=404)


def _token_error() -> web.Response:
    return fail({"success": False, "error": TOKEN_ERROR["message"], **TOKEN_ERROR})


def _status(state: SimState, request: web.Request, job: RenderJob) -> dict[str, Any]:
    """One of the two documented layouts, alternating poll by poll (start fixed by the seed)."""
    status, progress = job.progress()
    url = state.media_url(request, f"{job.id}.mp4") if status == "completed" else None
    job.polls += 1
    if (state.seed + job.polls) % 2:
        data: dict[str, Any] = {"id": job.id, "status": status, "progress": progress}
        if url:
            data["outputUrl"] = url
        if job.error:
            data["error"] = job.error
        return {"success": True, "data": data}
    flat: dict[str, Any] = {"id": job.id, "status": status, "progress": progress}
    if url and job.path is not None:
        flat["output"] = {
            "url": url,
            "duration": round(job.duration, 3),
            "size": job.path.stat().st_size,
        }
    if job.error:
        flat["error"] = job.error
    return flat


@routes.post("/api/render/proxy/lambda")
async def start_render(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = state.token_for(request)
    if token is None:
        return _token_error()
    if not strict.may_render(state, token):
        return strict.render_blocked()
    body, problem = await read_json(request)
    if problem is not None:
        return fail({"success": False, "error": "the body must be JSON"}, status=400)
    if not isinstance(body, dict):
        return fail({"success": False, "error": "the body must be a JSON object"}, status=400)
    render_id, draft = body.get("id"), body.get("draft")
    error = _render_problem(state, token.user, body)
    if error is not None:
        return fail({"success": False, "error": error}, status=400)
    assert isinstance(render_id, str) and isinstance(draft, dict)
    jobs = request.app[JOBS]
    if render_id in jobs:
        return fail({"success": False, "error": "duplicate render id"}, status=409)
    faults = state.faults
    job = RenderJob(
        id=render_id,
        user=token.user,
        draft=copy.deepcopy(draft),
        seconds=faults.render_seconds,
        fail=faults.render_fail,
        long_side=faults.render_long_side,
    )
    jobs[render_id] = job
    job.task = asyncio.create_task(job.run(state.media_dir / f"{render_id}.mp4"))
    return web.json_response(
        {"success": True, "data": {"id": render_id, "status": "pending", "progress": 5}}
    )


def _render_problem(state: SimState, user: User, body: dict[str, Any]) -> str | None:
    """Why a render request is refused (400), or None: the id, the caller's own session, the
    output settings and a draft with something in it must all be there."""
    render_id, draft, output = body.get("id"), body.get("draft"), body.get("output")
    if not isinstance(render_id, str) or not RENDER_ID.match(render_id):
        return "id must be a string like render_<ts>"
    session_id = body.get("sessionId")
    if not isinstance(session_id, str) or not session_id.strip():
        return "sessionId is required: the session whose draft is rendered"
    if state.accounts.session(session_id, user) is None:
        return "sessionId does not name one of your sessions"
    if not isinstance(output, dict):
        return 'output is required, e.g. {"format": "mp4", "quality": "high"}'
    if output.get("format") not in OUTPUT_FORMATS:
        return f"output.format must be one of {', '.join(sorted(OUTPUT_FORMATS))}"
    if "quality" in output and output["quality"] not in OUTPUT_QUALITIES:
        return f"output.quality must be one of {', '.join(sorted(OUTPUT_QUALITIES))}"
    if not isinstance(draft, dict) or not drafts.is_exportable(draft):
        return "the draft is empty: generate or upload a video before exporting"
    return None


@routes.get("/api/render/proxy/{render_id}/download")
async def download(request: web.Request) -> web.StreamResponse:
    """The fallback download when `output.url` cannot be fetched: the same MP4, behind the token."""
    job = _owned(request)
    if isinstance(job, web.Response):
        return job
    if job.outcome != "completed" or job.path is None:
        status, _ = job.progress()
        return fail({"success": False, "error": f"the render is {status}, not completed"}, 409)
    return web.FileResponse(job.path, headers={"Content-Type": "video/mp4"})


@routes.get("/api/render/proxy/lambda/{render_id}")
async def render_status(request: web.Request) -> web.Response:
    job = _owned(request)
    if isinstance(job, web.Response):
        return job
    return web.json_response(_status(request.app[STATE], request, job))


@routes.post("/api/render/proxy/lambda/{render_id}/cancel")
async def cancel_render(request: web.Request) -> web.Response:
    job = _owned(request)
    if isinstance(job, web.Response):
        return job
    if job.outcome is not None:
        return fail({"success": False, "error": f"render already {job.outcome}"})
    job.stop("render cancelled")
    status, progress = job.progress()
    return web.json_response(
        {
            "success": True,
            "data": {"id": job.id, "status": status, "progress": progress, "error": job.error},
        }
    )


async def stop_all(app: web.Application) -> None:
    """On shutdown: stop every running render and wait for its task to end."""
    running = [job for job in app[JOBS].values() if job.task is not None and not job.task.done()]
    for job in running:
        job.stop("the backend stopped")
    await asyncio.gather(*(job.task for job in running if job.task), return_exceptions=True)
