"""Render jobs driven the way a user drives them (an "export" message through the engine),
against the scripted backend: the one retry of a duplicate id (each id persisted before it is
started), polling to an end, a failure, or the deadline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from core.client import NemoClient
from core.engine import Engine, EngineConfig
from core.models import Draft
from core.port import Incoming, ReplyKind, ThreadKey
from core.store import Store
from tests.client.conftest import RENDER_PATH, Backend, Reply, payload, state_path
from tests.fakes.thread import FakeThread

DRAFT = Draft.model_validate(payload("state_nested")["data"]["state"]["draft"])
KEY = ThreadKey("console", "me", "c", "t1")
DUPLICATE = Reply(409, {"success": False, "error": "duplicate render id"})


@asynccontextmanager
async def _exported(
    nemo: NemoClient, store: Store, backend: Backend, render_bound: float = 5.0
) -> AsyncIterator[FakeThread]:
    """Say "export" in a thread whose session has a ready timeline; wait for all the work."""
    backend.on("GET", state_path("sid"), Reply(body=payload("state_nested")))
    await store.put_session(KEY, "sid", "en")
    config = EngineConfig(
        heartbeat_seconds=60,
        render_poll_seconds=0.01,
        render_timeout_seconds=render_bound,
        lease_seconds=5,
        nemo_token="nmv_usr_configured",
    )
    engine = Engine(nemo, store, config, owner="test")
    thread = FakeThread(KEY, upload_limit=0)  # the link only: no download in these tests
    await engine.start()
    try:
        await engine.handle(thread, Incoming("export", user="u1"))
        await engine.idle(10)
        yield thread
    finally:
        await engine.stop()


def _started_ids(backend: Backend) -> list[str]:
    return [json.loads(r.content)["id"] for r in backend.calls(RENDER_PATH)]


async def test_a_duplicate_id_is_retried_once_with_a_new_persisted_id(
    backend: Backend, nemo: NemoClient, store: Store
) -> None:
    _polls(backend, payload("render_done_flat"), duplicates=1)
    async with _exported(nemo, store, backend) as thread:
        first, second = _started_ids(backend)
        assert second != first
        assert thread.texts(ReplyKind.ERROR) == []
        (video,) = [s.reply for s in thread.log if s.reply and s.reply.kind is ReplyKind.VIDEO]
        assert video.video_url == "https://cdn.example/flat.mp4"
        counts = await store.count_renders()
        assert counts.get("failed") == 1 and counts.get("posted") == 1  # a row for each id


async def test_a_second_duplicate_gives_up(
    backend: Backend, nemo: NemoClient, store: Store
) -> None:
    backend.on("POST", RENDER_PATH, DUPLICATE)
    async with _exported(nemo, store, backend) as thread:
        assert len(set(_started_ids(backend))) == 2
        assert len(thread.texts(ReplyKind.ERROR)) == 1
        assert (await store.count_renders()).get("failed") == 2


def _polls(backend: Backend, *bodies: dict, duplicates: int = 0) -> None:
    """Render starts answer "duplicate id" `duplicates` times, then start; the started render
    answers its polls with `bodies` in turn."""
    refusals = [DUPLICATE] * duplicates

    def started(request: httpx.Request) -> Reply:
        if refusals:
            return refusals.pop()
        render_id = json.loads(request.content)["id"]
        backend.on("GET", f"{RENDER_PATH}/{render_id}", *(Reply(body=b) for b in bodies))
        return Reply(body={"success": True, "data": {"id": render_id, "status": "pending"}})

    backend.on("POST", RENDER_PATH, started)


def _poll_count(backend: Backend) -> int:
    return sum(1 for path in backend.paths() if path.startswith(f"{RENDER_PATH}/"))


async def test_polls_until_completed_showing_progress(
    backend: Backend, nemo: NemoClient, store: Store
) -> None:
    _polls(
        backend,
        {"success": True, "data": {"status": "pending", "progress": 5}},
        {"status": "processing", "progress": 50},
        {"success": True, "data": {"status": "PROCESSING", "progress": 80}},
        payload("render_done_flat"),
    )
    async with _exported(nemo, store, backend) as thread:
        progress = [s.reply.progress for s in thread.log if s.op == "update" and s.reply]
        assert progress[:3] == [5, 50, 80]
        (video,) = [s.reply for s in thread.log if s.reply and s.reply.kind is ReplyKind.VIDEO]
        assert video.video_url == "https://cdn.example/flat.mp4"
        assert _poll_count(backend) == 4  # one poll per status


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
    backend: Backend, nemo: NemoClient, store: Store, body: dict, message: str
) -> None:
    _polls(backend, {"status": "processing"}, body)
    async with _exported(nemo, store, backend) as thread:
        (error,) = thread.texts(ReplyKind.ERROR)
        assert "render failed" in error and message in error
        assert "did not finish in time" not in error
        assert _poll_count(backend) == 2
        assert (await store.count_renders()).get("failed") == 1


async def test_a_render_gives_up_after_the_bound(
    backend: Backend, nemo: NemoClient, store: Store
) -> None:
    _polls(backend, {"status": "processing"})
    async with _exported(nemo, store, backend, render_bound=0.1) as thread:
        (error,) = thread.texts(ReplyKind.ERROR)
        assert "did not finish in time" in error
        assert 2 <= _poll_count(backend) <= 12  # polled at the interval, not in a hot loop
