"""Render jobs driven the way the engine drives them (`Renders.export`), against the scripted
backend: the one retry of a duplicate id (each id persisted before it is started), polling to
an end, a failure, or the deadline."""

from __future__ import annotations

import asyncio
import json

import pytest

from core.client import Credentials, DuplicateRenderId, NemoClient
from core.metrics import Metrics
from core.models import Draft
from core.port import ReplyKind, ThreadKey
from core.renders import Renders
from core.store import Store
from tests.client.conftest import RENDER_PATH, Backend, Reply, payload
from tests.fakes.thread import FakeThread

DRAFT = Draft.model_validate(payload("state_nested")["data"]["state"]["draft"])
KEY = ThreadKey("console", "me", "c", "t1")
DUPLICATE = Reply(409, {"success": False, "error": "duplicate render id"})


@pytest.fixture
def thread() -> FakeThread:
    return FakeThread(KEY, upload_limit=0)  # the link only: no download in these tests


def _renders(
    nemo: NemoClient, store: Store, thread: FakeThread, creds: Credentials, timeout: float = 5.0
) -> Renders:
    async def credentials(key: ThreadKey) -> Credentials:
        return creds

    return Renders(
        nemo,
        store,
        Metrics(),
        owner="test",
        poll_seconds=0.01,
        timeout_seconds=timeout,
        lease_seconds=5.0,
        threads=lambda key: thread,
        credentials=credentials,
    )


async def _export(renders: Renders, thread: FakeThread, creds: Credentials) -> None:
    try:
        await renders.export(thread, DRAFT, "sid", creds, "en", chinese=False)
        async with asyncio.timeout(5):
            while pending := renders.pending():
                await asyncio.wait(pending)
    finally:
        await renders.stop()


def _started_ids(backend: Backend) -> list[str]:
    return [json.loads(r.content)["id"] for r in backend.calls(RENDER_PATH)]


async def test_a_duplicate_id_is_retried_once_with_a_new_persisted_id(
    backend: Backend, nemo: NemoClient, creds: Credentials, store: Store, thread: FakeThread
) -> None:
    backend.on("POST", RENDER_PATH, DUPLICATE, Reply(body=payload("render_started")))
    renders = _renders(nemo, store, thread, creds)
    await renders.export(thread, DRAFT, "sid", creds, "en", chinese=False)
    await renders.stop()  # the job is started and persisted; polling it is the next test's
    first, second = _started_ids(backend)
    assert second != first
    counts = await store.count_renders()
    assert counts.get("failed") == 1 and counts.get("rendering") == 1  # a row for each id


async def test_a_second_duplicate_gives_up(
    backend: Backend, nemo: NemoClient, creds: Credentials, store: Store, thread: FakeThread
) -> None:
    backend.on("POST", RENDER_PATH, DUPLICATE)
    renders = _renders(nemo, store, thread, creds)
    with pytest.raises(DuplicateRenderId):
        await _export(renders, thread, creds)
    assert len(set(_started_ids(backend))) == 2
    assert (await store.count_renders()).get("failed") == 2


def _polls(backend: Backend, *bodies: dict) -> None:
    """Every started render answers its polls with `bodies` in turn."""

    def started(request: object) -> Reply:
        render_id = json.loads(request.content)["id"]  # type: ignore[attr-defined]
        backend.on("GET", f"{RENDER_PATH}/{render_id}", *(Reply(body=b) for b in bodies))
        return Reply(body={"success": True, "data": {"id": render_id, "status": "pending"}})

    backend.on("POST", RENDER_PATH, started)


async def test_polls_until_completed_showing_progress(
    backend: Backend, nemo: NemoClient, creds: Credentials, store: Store, thread: FakeThread
) -> None:
    _polls(
        backend,
        {"success": True, "data": {"status": "pending", "progress": 5}},
        {"status": "processing", "progress": 50},
        {"success": True, "data": {"status": "PROCESSING", "progress": 80}},
        payload("render_done_flat"),
    )
    await _export(_renders(nemo, store, thread, creds), thread, creds)
    progress = [s.reply.progress for s in thread.log if s.op == "update" and s.reply]
    assert progress[:3] == [5, 50, 80]
    (video,) = [s.reply for s in thread.log if s.reply and s.reply.kind is ReplyKind.VIDEO]
    assert video.video_url == "https://cdn.example/flat.mp4"
    assert len(backend.calls()) == 1 + 4  # the start, then one poll per status


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
async def test_a_render_that_does_not_succeed_is_reported(
    backend: Backend,
    nemo: NemoClient,
    creds: Credentials,
    store: Store,
    thread: FakeThread,
    body: dict,
    message: str,
) -> None:
    _polls(backend, {"status": "processing"}, body)
    await _export(_renders(nemo, store, thread, creds), thread, creds)
    (error,) = thread.texts(ReplyKind.ERROR)
    assert "render failed" in error and message in error
    assert "did not finish in time" not in error
    assert len(backend.calls()) == 1 + 2
    assert (await store.count_renders()).get("failed") == 1


async def test_a_render_gives_up_after_the_bound(
    backend: Backend, nemo: NemoClient, creds: Credentials, store: Store, thread: FakeThread
) -> None:
    _polls(backend, {"status": "processing"})
    await _export(_renders(nemo, store, thread, creds, timeout=0.1), thread, creds)
    (error,) = thread.texts(ReplyKind.ERROR)
    assert "did not finish in time" in error
    assert 2 <= len(backend.calls()) - 1 <= 12  # polled at the interval, not in a hot loop
