"""The sim's own surface: fault knobs over HTTP and flags, the request log, `serve_forever`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re

import httpx
import pytest
from aiohttp.test_utils import make_mocked_request

from core.sim import Faults, LocalBackend, add_fault_arguments, faults_from_args, serve_forever
from core.sim.admin import is_loopback_client
from tests.sim.conftest import ATTRIBUTION, FAST


async def test_faults_get_and_partial_update(http):
    current = (await http.get("/_sim/faults")).json()
    assert current == Faults(**FAST).model_dump()
    updated = (await http.post("/_sim/faults", json={"latency_ms": 5, "credits": 3})).json()
    assert updated["latency_ms"] == 5 and updated["credits"] == 3
    assert updated["turn_seconds"] == 0.2  # untouched


@pytest.mark.parametrize(
    "body",
    [{"no_such_knob": 1}, {"latency_ms": "fast"}, {"no_text_ratio": 2}, {"expire_tokens": 1}, [1]],
)
async def test_bad_fault_updates_are_400(http, body):
    before = (await http.get("/_sim/faults")).json()
    reply = await http.post("/_sim/faults", json=body)
    assert reply.status_code == 400 and reply.json()["error"]
    assert (await http.get("/_sim/faults")).json() == before


async def test_set_faults_in_process_validates(backend):
    with pytest.raises(ValueError):
        backend.set_faults({"rate_limit_next": -1})
    assert backend.set_faults({"render_fail": True}).render_fail is True
    assert backend.faults.render_fail is True


async def test_rate_limit_next(http, nemo):
    await nemo.faults(rate_limit_next=2)
    for _ in range(2):
        reply = await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "r"})
        assert reply.status_code == 429 and reply.headers["Retry-After"] == "1"
        assert reply.json() == {"code": 429, "message": "rate limited"}
    assert (await http.get("/_sim/faults")).json()["rate_limit_next"] == 0
    served = await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "r"})
    assert served.status_code == 200


async def test_unknown_routes_answer_like_fastapi(http):
    missing = await http.get("/api/nothing/here")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    wrong = await http.delete("/api/credits/balance/simple")
    assert (wrong.status_code, wrong.json()) == (405, {"detail": "Method Not Allowed"})


async def test_latency(http, nemo):
    await nemo.faults(latency_ms=150)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "slow"})
    assert loop.time() - started >= 0.15


async def test_log_masks_secrets(http, nemo):
    await http.post("/_sim/reset")
    token, session = await nemo.start()
    await http.post(
        f"/api/upload-video/nemo_agent/me/{session}",
        headers=nemo.auth(token),
        json={"urls": ["https://x.test/a.mp4"], "source_type": "url", "api_token": "nmv_usr_x"},
    )
    log = (await http.get("/_sim/log")).json()
    assert [entry["path"] for entry in log] == [
        "/api/auth/anonymous-token",
        "/api/tasks/me/with-session/nemo_agent",
        f"/api/upload-video/nemo_agent/me/{session}",
    ]
    assert log[0]["headers"]["X-Client-Id"] == "test-client"
    assert log[0]["headers"]["X-Skill-Platform"] == "console"
    assert log[1]["headers"]["Authorization"] == "Bearer nmv_***"
    assert log[1]["json"] == {"task_name": "project", "language": "en"}
    assert log[2]["json"]["api_token"] == "nmv_***"
    assert all(entry["status"] == 200 for entry in log)
    assert token not in str(log) and token[8:] not in str(log)
    await http.post("/_sim/reset")
    assert (await http.get("/_sim/log")).json() == []


def test_admin_answers_loopback_only():
    assert is_loopback_client(make_mocked_request("GET", "/", transport=_Peer("127.0.0.1")))
    assert not is_loopback_client(make_mocked_request("GET", "/", transport=_Peer("10.1.2.3")))
    assert is_loopback_client(make_mocked_request("GET", "/", transport=_Peer("::1")))
    assert is_loopback_client(make_mocked_request("GET", "/", transport=_Peer("::ffff:127.0.0.1")))


class _Peer:
    def __init__(self, address):
        self.address = address

    def get_extra_info(self, name, default=None):
        return (self.address, 5000) if name == "peername" else default

    def is_closing(self):
        return False


def test_fault_flags():
    parser = argparse.ArgumentParser()
    add_fault_arguments(parser)
    defaults = faults_from_args(parser.parse_args([]))
    assert defaults == Faults()
    given = parser.parse_args(
        ["--turn-seconds", "2", "--expire-tokens", "--credits", "0", "--no-text-ratio", "1"]
    )
    faults = faults_from_args(given)
    assert (faults.turn_seconds, faults.expire_tokens, faults.credits) == (2.0, True, 0)
    assert faults.no_text_ratio == 1.0 and faults.render_fail is False
    assert defaults.render_long_side >= 640  # CONTRACT.md: the default MP4 is at least 640 px
    small = faults_from_args(parser.parse_args(["--render-long-side", "160"]))
    assert small.render_long_side == 160
    for bad in (
        ["--latency-ms", "-1"],
        ["--no-text-ratio", "1.5"],
        ["--heartbeat-seconds", "0"],
        ["--render-long-side", "4"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(bad)
        assert exit_info.value.code == 2


async def test_serve_forever_prints_its_address(capsys):
    task = asyncio.create_task(serve_forever("127.0.0.1", 0, 5, Faults(turn_seconds=0)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    printed = ""
    while not printed and loop.time() < deadline:
        await asyncio.sleep(0.02)
        printed = capsys.readouterr().out
    found = re.fullmatch(r"jupiter sim listening on (http://127\.0\.0\.1:\d+)\n", printed)
    assert found, printed
    async with httpx.AsyncClient(base_url=found.group(1), headers=ATTRIBUTION) as http:
        assert (await http.get("/_sim/faults")).json()["turn_seconds"] == 0
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_restart_keeps_faults():
    backend = LocalBackend(faults=Faults(latency_ms=1))
    backend.set_faults({"credits": 9})
    async with backend:
        assert backend.faults.credits == 9 and backend.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        _ = backend.base_url


async def test_stop_does_not_wait_for_a_long_turn(nemo_class):
    backend = LocalBackend(seed=1, faults=Faults(turn_seconds=60, heartbeat_seconds=0.05))
    await backend.start()
    async with httpx.AsyncClient(base_url=backend.base_url, headers=ATTRIBUTION) as http:
        nemo = nemo_class(http)
        token, session = await nemo.start()
        turn = asyncio.create_task(nemo.turn(token, session, "a sunset"))
        await nemo.poll(lambda: nemo.balance(token), lambda seen: seen["frozen"] > 0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await backend.stop()
        assert loop.time() - started < 5
        assert (await turn).cut
