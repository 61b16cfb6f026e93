"""Render calls: unique ids, a duplicate id raised (not retried), status shapes, cancel."""

from __future__ import annotations

import json
import re
import time

import pytest

from core.client import Credentials, DuplicateRenderId, NemoClient
from core.errors import RenderFailed
from core.models import Draft
from tests.client.conftest import RENDER_PATH, Backend, Reply, payload, success

DRAFT = Draft.model_validate(payload("state_nested")["data"]["state"]["draft"])


def test_render_ids_are_unique_across_rapid_calls(nemo: NemoClient) -> None:
    ids = [nemo.new_render_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"render_\d{13}", render_id) for render_id in ids)
    stamps = [int(render_id.removeprefix("render_")) for render_id in ids]
    assert stamps == sorted(stamps)
    assert abs(stamps[0] - time.time() * 1000) < 60_000


async def test_start_sends_the_draft_back_unchanged(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RENDER_PATH, Reply(body=payload("render_started")))
    await nemo.start_render(creds, "5529798706024415232", DRAFT)
    body = json.loads(backend.requests[0].content)
    assert re.fullmatch(r"render_\d{13}", body["id"])
    assert body == {
        "id": body["id"],
        "sessionId": "5529798706024415232",
        "draft": payload("state_nested")["data"]["state"]["draft"],
        "output": {"format": "mp4", "quality": "high"},
    }


async def test_start_fills_in_the_id_when_the_answer_omits_it(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RENDER_PATH, success({"status": "pending"}))
    status = await nemo.start_render(creds, "sid", DRAFT, render_id="render_123")
    assert status.id == "render_123"
    assert json.loads(backend.requests[0].content)["id"] == "render_123"


@pytest.mark.parametrize(
    "duplicate",
    [
        Reply(409, {"success": False, "error": "duplicate render id"}),
        Reply(200, {"success": False, "error": "Duplicate ID"}),
        Reply(409, {}),
    ],
    ids=["409", "200-success-false", "409-bare"],
)
async def test_a_duplicate_id_is_raised_for_the_caller_to_retry(
    backend: Backend, nemo: NemoClient, creds: Credentials, duplicate: Reply
) -> None:
    """The retry with a new id lives in `Renders.export` (tests/client/test_render_jobs.py),
    which persists a job row for every id before it starts it."""
    backend.on("POST", RENDER_PATH, duplicate, Reply(body=payload("render_started")))
    with pytest.raises(DuplicateRenderId) as caught:
        await nemo.start_render(creds, "sid", DRAFT, render_id="render_1")
    assert isinstance(caught.value, RenderFailed)
    assert [json.loads(r.content)["id"] for r in backend.requests] == ["render_1"]


async def test_a_refused_render_is_render_failed_and_not_retried(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RENDER_PATH, Reply(400, {"success": False, "error": "draft is empty"}))
    with pytest.raises(RenderFailed, match="draft is empty"):
        await nemo.start_render(creds, "sid", DRAFT)
    assert len(backend.requests) == 1


async def test_a_missing_render_is_render_failed(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", f"{RENDER_PATH}/render_9", Reply(404, {"detail": "Not Found"}))
    with pytest.raises(RenderFailed):
        await nemo.render_status(creds, "render_9")


async def test_cancel_posts_to_cancel(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", f"{RENDER_PATH}/render_9/cancel", success({"status": "cancelled"}))
    await nemo.cancel_render(creds, "render_9")
    (request,) = backend.requests
    assert (request.method, request.url.path) == ("POST", f"{RENDER_PATH}/render_9/cancel")
    assert request.headers["Authorization"] == "Bearer nmv_usr_old"
