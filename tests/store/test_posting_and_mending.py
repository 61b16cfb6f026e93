"""The `posting` state on both databases, what PostgreSQL cannot keep (NUL) mended on both,
and the health probe's write."""

from __future__ import annotations

from core.port import Incoming
from core.store import Store, TurnStatus
from core.store.base import RenderState
from tests.store.test_store import KEY, LEASE, add_render


async def test_ready_posting_posted_under_the_lease(store: Store) -> None:
    job_id = await add_render(store, "render-1")
    assert not await store.begin_posting(job_id, "a", LEASE)  # still rendering
    assert await store.mark_ready(job_id, "a", LEASE, output_url="https://v/1.mp4", size=None)
    assert not await store.begin_posting(job_id, "b", LEASE)  # not b's lease
    assert await store.begin_posting(job_id, "a", LEASE)
    assert not await store.begin_posting(job_id, "a", LEASE)  # once
    job = await store.get_render(job_id)
    assert job is not None and job.status is RenderState.POSTING
    assert [j.id for j in await store.active_renders(KEY)] == [job_id]
    assert await store.claim_renders("b", LEASE) == []  # a's lease holds while it posts
    assert await store.renew_render(job_id, "a", -1)  # a dies mid-post
    (claimed,) = await store.claim_renders("b", LEASE)
    assert (claimed.status, claimed.lease_owner) == (RenderState.POSTING, "b")
    assert not await store.mark_posted(job_id, "a")
    assert await store.mark_posted(job_id, "b")
    assert not await store.mark_posted(job_id, "b")
    assert await store.claim_renders("c", -1) == []


async def test_nul_is_mended_in_turns_and_renders(store: Store) -> None:
    turn_id = await store.enqueue_turn(KEY, Incoming("a\x00kite", user="u1"))
    assert turn_id is not None
    turn = await store.next_turn(KEY)
    assert turn is not None and turn.text == "a\ufffdkite"
    await store.finish_turn(turn_id, TurnStatus.FAILED, "backend said \x00")
    job_id = await add_render(store, "render-1")
    assert await store.finish_render(job_id, "a", RenderState.FAILED, error="bad\x00render")
    job = await store.get_render(job_id)
    assert job is not None and job.error == "bad\ufffdrender"


async def test_the_health_probe_writes(store: Store) -> None:
    assert await store.writable(max_age=0)
    assert await store.writable(max_age=0)  # an UPSERT: the second write finds the row
