"""The client against the strict local backend on loopback, when it misbehaves the way the real
agent does: a stream lost before the server closes it, and the anonymous-token limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from core import SKILL_SOURCE
from core.client import ClientTiming, Credentials, NemoClient, task_link
from core.errors import ExportBlocked, RateLimited, StreamInterrupted
from core.models import QuestionEvent, TurnEvent
from core.sim import Faults, LocalBackend

TIMING = ClientTiming(
    retry_after_seconds=0.01,
    backoff_seconds=0.01,
    turn_timeout_seconds=20,
    stream_idle_seconds=5,
)


@pytest.fixture
async def strict() -> AsyncIterator[tuple[LocalBackend, NemoClient]]:
    faults = Faults(turn_seconds=0.3, heartbeat_seconds=0.05, render_seconds=0.2, no_text_ratio=0)
    async with (
        LocalBackend(seed=11, faults=faults) as backend,
        httpx.AsyncClient() as http,
    ):
        yield backend, NemoClient(http, backend.base_url, TIMING)


async def _turn(nemo: NemoClient, creds: Credentials, sid: str, text: str) -> list[TurnEvent]:
    return [event async for event in nemo.run_turn(creds, sid, text)]


async def test_a_lost_stream_is_interrupted_not_resent_and_the_work_lands(strict) -> None:
    backend, nemo = strict
    creds = Credentials(client_id="lost-1")
    session = await nemo.create_session(creds)
    backend.set_faults({"lose_stream_after": 2})
    seen: list[TurnEvent] = []
    with pytest.raises(StreamInterrupted):
        async for event in nemo.run_turn(creds, session.session_id, "a sunset over mountains"):
            seen.append(event)
    assert seen  # the first events arrived before the loss
    backend.set_faults({"lose_stream_after": 0})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (await nemo.state(creds, session.session_id)).draft.ready:
        assert loop.time() < deadline, "the lost turn's work never landed"
        await asyncio.sleep(0.05)
    async with httpx.AsyncClient() as http:
        log = (await http.get(f"{backend.base_url}/_sim/log")).json()
    runs = [entry for entry in log if entry["path"] == "/run_sse"]
    assert len(runs) == 1  # never re-sent


async def test_token_limits_and_plan_gated_exports(strict) -> None:
    backend, nemo = strict
    creds = Credentials(client_id="tenant-a")
    session = await nemo.create_session(creds)
    assert creds.expires_at is not None and not creds.expired
    assert session.task_id

    # the same client id elsewhere (a lost token row): the backend refuses a second token
    with pytest.raises(RateLimited) as caught:
        await nemo.balance(Credentials(client_id="tenant-a"))
    assert "NEMO_TOKEN" in caught.value.message

    # the token we hold lapsed by our clock: renewal is refused (429), the token is kept
    kept = creds.token
    creds.expires_at = 0.0
    assert (await nemo.balance(creds)).available == 100
    assert creds.token == kept

    claim = await nemo.claim_token(creds, session.task_id, session.session_id)
    assert task_link("https://nemovideo.com", claim).startswith(
        "https://nemovideo.com/workspace/claim?ct=clm_"
    )

    events = await _turn(nemo, creds, session.session_id, "a sunset over mountains")
    assert not any(isinstance(event, QuestionEvent) for event in events)
    draft = (await nemo.state(creds, session.session_id)).draft
    with pytest.raises(ExportBlocked):  # anonymous tokens have no render scope
        await nemo.start_render(creds, session.session_id, draft)


async def test_the_agent_asks_through_the_client(strict) -> None:
    backend, nemo = strict
    backend.set_faults({"question_ratio": 1.0})
    creds = Credentials(client_id="asker")
    session = await nemo.create_session(creds)
    events = await _turn(nemo, creds, session.session_id, "a sunset over mountains")
    (question,) = [event for event in events if isinstance(event, QuestionEvent)]
    assert question.question == "Which style?" and question.allow_freeform
    assert [choice.label for choice in question.options] == ["Cinematic", "Anime", "Watercolor"]
    assert SKILL_SOURCE == "jupiter-text-to-video"
