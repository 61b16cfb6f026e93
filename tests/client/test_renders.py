"""Renders: unique ids, one retry on a duplicate, polling to an end or a bound, cancel."""

from __future__ import annotations

import json
import re
import time

import pytest

from core.client import Credentials, DuplicateRenderId, NemoClient
from core.errors import RenderFailed, RenderTimedOut
from core.models import Draft, RenderStatus
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
async def test_a_duplicate_id_is_retried_once_with_a_new_id(
    backend: Backend, nemo: NemoClient, creds: Credentials, duplicate: Reply
) -> None:
    backend.on("POST", RENDER_PATH, duplicate, Reply(body=payload("render_started")))
    status = await nemo.start_render(creds, "sid", DRAFT, render_id="render_1")
    first, second = (json.loads(r.content)["id"] for r in backend.requests)
    assert first == "render_1"
    assert second != first and re.fullmatch(r"render_\d{13}", second)
    assert status.status == "pending"


async def test_a_second_duplicate_gives_up(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RENDER_PATH, Reply(409, {"success": False, "error": "duplicate"}))
    with pytest.raises(DuplicateRenderId) as caught:
        await nemo.start_render(creds, "sid", DRAFT)
    assert isinstance(caught.value, RenderFailed)
    assert len(backend.requests) == 2


async def test_a_refused_render_is_render_failed_and_not_retried(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RENDER_PATH, Reply(400, {"success": False, "error": "draft is empty"}))
    with pytest.raises(RenderFailed, match="draft is empty"):
        await nemo.start_render(creds, "sid", DRAFT)
    assert len(backend.requests) == 1


def _statuses(*bodies: dict) -> list[Reply]:
    return [Reply(body=body) for body in bodies]


async def test_wait_polls_until_completed(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on(
        "GET",
        f"{RENDER_PATH}/render_9",
        *_statuses(
            {"success": True, "data": {"status": "pending", "progress": 5}},
            {"status": "processing", "progress": 50},
            {"success": True, "data": {"status": "PROCESSING", "progress": 80}},
            payload("render_done_flat"),
        ),
    )
    seen: list[RenderStatus] = []

    async def progress(status: RenderStatus) -> None:
        seen.append(status)

    done = await nemo.wait_render(creds, "render_9", on_progress=progress)

    assert done.output_url == "https://cdn.example/flat.mp4"
    assert done.id == "render_9"
    assert [s.progress for s in seen] == [5, 50, 80]
    assert [s.status for s in seen] == ["pending", "processing", "processing"]
    assert len(backend.requests) == 4


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"success": True, "data": {"status": "failed", "error": "encoder crashed"}}, "encoder"),
        ({"status": "failed", "progress": 40}, "failed"),
        ({"status": "cancelled"}, "cancelled"),
        ({"status": "completed", "progress": 100}, "completed"),  # no output URL
    ],
    ids=["failed-with-error", "failed", "cancelled", "completed-without-url"],
)
async def test_wait_raises_when_the_render_does_not_succeed(
    backend: Backend, nemo: NemoClient, creds: Credentials, body: dict, message: str
) -> None:
    backend.on(
        "GET", f"{RENDER_PATH}/render_9", Reply(body={"status": "processing"}), Reply(body=body)
    )
    with pytest.raises(RenderFailed, match=message) as caught:
        await nemo.wait_render(creds, "render_9")
    assert not isinstance(caught.value, RenderTimedOut)
    assert len(backend.requests) == 2


async def test_wait_gives_up_after_the_bound(backend: Backend, creds: Credentials) -> None:
    nemo = backend.client(render_timeout_seconds=0.1, render_poll_seconds=0.01)
    backend.on("GET", f"{RENDER_PATH}/render_9", Reply(body={"status": "processing"}))
    started = time.monotonic()
    with pytest.raises(RenderTimedOut):
        await nemo.wait_render(creds, "render_9")
    elapsed = time.monotonic() - started
    assert 0.1 <= elapsed < 2.0
    assert 2 <= len(backend.requests) <= 12  # polled at the interval, not in a hot loop


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
