"""The backend misbehaves (on the wire, through the fault proxy, or by the local backend's own
knobs): every message still gets its answer or a clear error, nothing is sent twice, and the
thread stays usable afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.runtime import Runtime
from core.sim import LocalBackend
from tests.fakes.fault_proxy import FaultProxy
from tests.fakes.thread import FakeThread
from tests.faults.conftest import (
    answers,
    errors,
    finished_turns,
    key,
    open_runtime,
    said,
    sent_turns,
    sim_log,
    wait_for_request,
)

WAIT = 20.0


async def _turn(rt: Runtime, thread: FakeThread, text: str) -> None:
    await rt.engine.handle(thread, said(text))
    await rt.engine.idle(WAIT)


# -- the stream breaks or goes quiet ------------------------------------------------------------


async def test_stream_reset_by_the_network_mid_turn(
    tmp_path: Path, sim: LocalBackend, proxy: FaultProxy
) -> None:
    sim.set_faults({"turn_seconds": 1.0, "credits": 1000})
    async with open_runtime(tmp_path, proxy.url) as rt:
        thread = FakeThread(key())
        proxy.reset_after(120, after=b"text/event-stream")
        await _turn(rt, thread, "a koi pond at noon")
        assert proxy.resets == 1
        (error,) = errors(thread)
        assert "connection to the video service dropped" in error
        assert "didn't re-send" in error
        assert await sent_turns(sim.base_url) == ["a koi pond at noon"]

        proxy.reset_after(None)
        await _turn(rt, thread, "status")
        await _turn(rt, thread, "a koi pond at dusk")
        assert len(finished_turns(thread)) == 1
        assert len(answers(thread)) == 3  # error, status, finished turn
        assert await sent_turns(sim.base_url) == ["a koi pond at noon", "a koi pond at dusk"]


async def test_streams_cut_in_many_threads_with_queued_messages(
    tmp_path: Path, sim: LocalBackend
) -> None:
    sim.set_faults({"drop_stream_after": 3, "turn_seconds": 0.3, "credits": 10_000})
    async with open_runtime(tmp_path, sim.base_url) as rt:
        threads = [FakeThread(key(f"t{i}")) for i in range(4)]
        for thread in threads:
            await rt.engine.handle(thread, said(f"a lighthouse number {thread.key.thread}"))
            await rt.engine.handle(thread, said("make it 6 seconds"))  # queued behind the first
        await rt.engine.idle(WAIT)
        for thread in threads:
            assert len(answers(thread)) == 2, thread.transcript()
            assert all("connection to the video service dropped" in e for e in errors(thread))
        sent = await sent_turns(sim.base_url)
        assert len(sent) == 8 and sent.count("make it 6 seconds") == 4  # each sent exactly once


async def test_backend_that_stalls_without_heartbeats(tmp_path: Path, sim: LocalBackend) -> None:
    sim.set_faults({"turn_seconds": 60, "heartbeat_seconds": 60})
    async with open_runtime(tmp_path, sim.base_url, stream_idle_seconds=0.3) as rt:
        thread = FakeThread(key())
        await _turn(rt, thread, "a slow glacier")
        (error,) = errors(thread)
        assert "took too long to answer" in error and "no word from the video service" in error
        assert "Nothing was re-sent" in error
        sim.set_faults({"turn_seconds": 0.1, "heartbeat_seconds": 0.05})
        await _turn(rt, thread, "a fast glacier")
        assert len(finished_turns(thread)) == 1
        assert await sent_turns(sim.base_url) == ["a slow glacier", "a fast glacier"]


async def test_network_goes_silent_mid_stream(
    tmp_path: Path, sim: LocalBackend, proxy: FaultProxy
) -> None:
    sim.set_faults({"turn_seconds": 2.0})
    async with open_runtime(tmp_path, proxy.url, stream_idle_seconds=0.3) as rt:
        thread = FakeThread(key())
        await rt.engine.handle(thread, said("a starry night"))
        await proxy.wait_for(lambda: any(r.path == "/run_sse" for r in proxy.requests))
        proxy.blackhole = True
        await rt.engine.idle(WAIT)
        proxy.blackhole = False
        (error,) = errors(thread)
        assert "took too long to answer" in error
        await _turn(rt, thread, "status")
        assert len(answers(thread)) == 2


async def test_turn_longer_than_the_turn_limit(tmp_path: Path, sim: LocalBackend) -> None:
    sim.set_faults({"turn_seconds": 5.0, "heartbeat_seconds": 0.05})
    async with open_runtime(tmp_path, sim.base_url, turn_timeout_seconds=0.4) as rt:
        thread = FakeThread(key())
        await _turn(rt, thread, "an endless road")
        (error,) = errors(thread)
        assert "ran past its time limit" in error


# -- HTTP errors and timeouts -------------------------------------------------------------------


async def test_5xx_on_reads_is_retried_and_on_a_turn_is_explained_not_resent(
    tmp_path: Path, sim: LocalBackend, proxy: FaultProxy
) -> None:
    async with open_runtime(tmp_path, proxy.url) as rt:
        thread = FakeThread(key())
        proxy.fail_next(2, status=503, path="/api/credits")
        await _turn(rt, thread, "credits")
        assert "Credits: 100 available" in thread.log[-1].text  # retried through two 503s

        proxy.fail_next(1, status=502, path="/run_sse")
        await _turn(rt, thread, "a windmill")
        (error,) = errors(thread)
        assert "can't reach the video service" in error and "HTTP 502" in error
        assert await sent_turns(sim.base_url) == []  # the proxy answered; nothing reached it

        proxy.fail_next(4, status=500, path="/api/state")  # every attempt of one read
        await _turn(rt, thread, "status")
        assert "can't reach the video service" in errors(thread)[-1]

        await _turn(rt, thread, "a windmill")
        assert len(finished_turns(thread)) == 1
        assert len(answers(thread)) == 4
        assert await sent_turns(sim.base_url) == ["a windmill"]


async def test_timeline_unreadable_after_the_turn_keeps_the_answer(
    tmp_path: Path, sim: LocalBackend, proxy: FaultProxy
) -> None:
    async with open_runtime(tmp_path, proxy.url) as rt:
        thread = FakeThread(key())
        proxy.fail_next(4, status=503, path="/api/state")  # every attempt of the read after it
        await _turn(rt, thread, "a windmill at dawn")
        (answer,) = finished_turns(thread)
        assert answer.text.startswith("Done!") and not errors(thread)
        await _turn(rt, thread, "status")
        assert "Timeline (3 tracks)" in thread.log[-1].text


async def test_5xx_when_opening_a_session(
    tmp_path: Path, sim: LocalBackend, proxy: FaultProxy
) -> None:
    async with open_runtime(tmp_path, proxy.url) as rt:
        thread = FakeThread(key())
        proxy.fail_next(1, status=500, path="/api/tasks/")
        await _turn(rt, thread, "a paper plane")
        assert "can't reach the video service" in errors(thread)[0]
        await _turn(rt, thread, "a paper plane")
        assert len(finished_turns(thread)) == 1


async def test_requests_that_are_never_answered(
    tmp_path: Path, sim: LocalBackend, proxy: FaultProxy
) -> None:
    async with open_runtime(
        tmp_path, proxy.url, request_timeout=0.3, stream_idle_seconds=0.3
    ) as rt:
        thread = FakeThread(key())
        proxy.hold_next(1, path="/api/credits")
        await _turn(rt, thread, "credits")
        assert "Credits: 100 available" in thread.log[-1].text  # the read was retried

        proxy.hold_next(10, path="/api/credits")
        await _turn(rt, thread, "credits")
        assert "did not answer in time" in errors(thread)[-1]

        proxy.hold_next(1, path="/run_sse")
        await _turn(rt, thread, "a red kite")
        assert "took too long to answer" in errors(thread)[-1]
        assert len(answers(thread)) == 3


# -- rate limits and expired credentials -----------------------------------------------------------


async def test_429_storm_across_threads(tmp_path: Path, sim: LocalBackend) -> None:
    sim.set_faults({"credits": 10_000, "turn_seconds": 0.05})
    async with open_runtime(tmp_path, sim.base_url) as rt:
        threads = [FakeThread(key(f"t{i}")) for i in range(6)]
        sim.set_faults({"rate_limit_next": 25})
        for thread in threads:
            await rt.engine.handle(thread, said(f"a hot air balloon {thread.key.thread}"))
            await rt.engine.handle(thread, said("credits"))
        await rt.engine.idle(WAIT)
        for thread in threads:
            assert len(answers(thread)) == 2, thread.transcript()
            for error in errors(thread):
                assert "rate-limiting" in error or "can't reach" in error, error
        sim.set_faults({"rate_limit_next": 0})
        for thread in threads:
            await rt.engine.handle(thread, said("status"))
        await rt.engine.idle(WAIT)
        assert all(len(answers(t)) == 3 and not t.log[-1].text.startswith("⚠") for t in threads)


async def test_429_storm_while_a_render_is_polled(tmp_path: Path, sim: LocalBackend) -> None:
    sim.set_faults({"credits": 10_000, "render_seconds": 0.6})
    async with open_runtime(tmp_path, sim.base_url) as rt:
        thread = FakeThread(key())
        await _turn(rt, thread, "a tiny clip of rain")
        await rt.engine.handle(thread, said("export"))
        await wait_for_request(sim.base_url, "POST", "/api/render/proxy/lambda")
        sim.set_faults({"rate_limit_next": 12})  # the polls meet a wall of 429s
        await thread.wait_text("Your video is ready", timeout=WAIT)
        await rt.engine.idle(WAIT)
        assert (
            len([s for s in thread.log if s.op == "post" and "Your video is ready" in s.text]) == 1
        )
        starts = [
            e
            for e in await sim_log(sim.base_url)
            if e["method"] == "POST" and e["path"] == "/api/render/proxy/lambda"
        ]
        assert len(starts) == 1


async def test_expired_tokens_mid_conversation_in_many_threads(
    tmp_path: Path, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000, "turn_seconds": 0.3, "render_seconds": 0.5})
    async with open_runtime(tmp_path, sim.base_url) as rt:
        threads = [FakeThread(key(f"t{i}")) for i in range(3)]
        for thread in threads:
            await rt.engine.handle(thread, said(f"a fox in the snow {thread.key.thread}"))
        await rt.engine.idle(WAIT)
        await rt.engine.handle(threads[0], said("export"))
        await threads[0].wait_text("Rendering your video")
        for thread in threads[1:]:
            await rt.engine.handle(thread, said("make it 4 seconds"))
            await rt.engine.handle(thread, said("make it vertical"))
        sim.set_faults({"expire_tokens": True})  # every token so far now answers 1001
        await rt.engine.idle(WAIT)
        assert len(videos_in(threads[0])) == 1
        for thread in threads[1:]:
            assert len(finished_turns(thread)) == 3, thread.transcript()
        assert not any(errors(t) for t in threads)
        tokens = [
            e for e in await sim_log(sim.base_url) if e["path"] == "/api/auth/anonymous-token"
        ]
        assert len(tokens) == 2  # one tenant: the first token and exactly one renewal


async def test_sessions_lost_mid_render_and_mid_queue(tmp_path: Path, sim: LocalBackend) -> None:
    sim.set_faults({"credits": 10_000, "turn_seconds": 0.3, "render_seconds": 0.5})
    async with open_runtime(tmp_path, sim.base_url) as rt:
        rendering, chatting = FakeThread(key("r")), FakeThread(key("c"))
        await rt.engine.handle(rendering, said("a quiet harbour"))
        await rt.engine.handle(chatting, said("a busy market"))
        await rt.engine.idle(WAIT)
        await rt.engine.handle(rendering, said("export"))
        await rendering.wait_text("Rendering your video")
        await wait_for_request(sim.base_url, "POST", "/api/render/proxy/lambda")  # under way
        await rt.engine.handle(chatting, said("add a title: Market Day"))
        await rt.engine.handle(chatting, said("make it 5 seconds"))
        sim.set_faults({"drop_sessions": True})  # every session so far answers 1002
        await rt.engine.idle(WAIT)
        assert len(videos_in(rendering)) == 1  # a render outlives its session
        assert len(finished_turns(chatting)) == 3, chatting.transcript()
        assert not errors(chatting)
        await _turn(rt, rendering, "status")
        assert "started a fresh timeline" in rendering.transcript()
        assert len(answers(rendering)) == 3  # turn, link, status


def videos_in(thread: FakeThread) -> list[str]:
    return [s.text for s in thread.log if s.op == "post" and "Your video is ready" in s.text]


async def test_backend_restarts_between_turns(tmp_path: Path, sim: LocalBackend) -> None:
    """The backend goes away and comes back on the same port with no memory of anyone."""
    async with open_runtime(tmp_path, sim.base_url) as rt:
        thread = FakeThread(key())
        await _turn(rt, thread, "a tram in lisbon")
        port = int(sim.base_url.rsplit(":", 1)[1])
        await sim.stop()
        await _turn(rt, thread, "status")
        assert "can't reach the video service" in errors(thread)[-1]
        await asyncio.wait_for(sim.start(port=port), WAIT)
        await _turn(rt, thread, "a tram in porto")
        assert len(finished_turns(thread)) == 2, thread.transcript()
        assert "started a fresh timeline" in thread.transcript()
