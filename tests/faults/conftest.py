"""Fault fixtures: the local backend behind a fault proxy, runtimes on either, and the one
question every fault test asks of a transcript: did each message get its answer?"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.port import Incoming, ReplyKind, ThreadKey
from core.runtime import Runtime
from core.sim import LocalBackend
from tests.conftest import fast_settings
from tests.fakes.fault_proxy import FaultProxy
from tests.fakes.thread import FakeThread, Said


@pytest.fixture(autouse=True)
def every_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """Build every log record of the bot, debug included: a bad `extra` key (one that clashes
    with LogRecord's own attributes, like `thread`) raises inside the failure path it reports."""
    caplog.set_level(logging.DEBUG, logger="jupiter")


@pytest.fixture
async def proxy(sim: LocalBackend) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(sim.base_url) as fault_proxy:
        yield fault_proxy


def key(name: str = "t1") -> ThreadKey:
    return ThreadKey("console", "team", "chan", name)


def said(text: str, **kw: Any) -> Incoming:
    return Incoming(text, user="u1", **kw)


@asynccontextmanager
async def open_runtime(
    tmp_path: Path, base_url: str, *, request_timeout: float | None = None, **overrides: Any
) -> AsyncIterator[Runtime]:
    """A runtime on `base_url` (the sim, or the proxy in front of it). `request_timeout`
    shortens the client's per-request timeout, which is fixed at 30 s and not a setting."""
    async with Runtime.open(fast_settings(tmp_path, **overrides), base_url=base_url) as rt:
        if request_timeout is not None:
            rt.client.timing = dataclasses.replace(
                rt.client.timing, request_timeout_seconds=request_timeout
            )
        yield rt


def answers(thread: FakeThread) -> list[Said]:
    """Replies that close the handling of one message: a finished turn or an immediate answer
    (both carry buttons), a video link, or an error."""
    return [
        s
        for s in thread.log
        if s.reply is not None
        and s.op in ("post", "update")
        and (s.reply.buttons or s.reply.kind is ReplyKind.ERROR)
    ]


def errors(thread: FakeThread) -> list[str]:
    return [s.text for s in thread.log if s.reply is not None and s.reply.kind is ReplyKind.ERROR]


def videos(thread: FakeThread) -> list[Said]:
    return [
        s
        for s in thread.log
        if s.op == "post" and s.reply is not None and s.reply.kind is ReplyKind.VIDEO
    ]


def finished_turns(thread: FakeThread) -> list[Said]:
    return [
        s
        for s in thread.log
        if s.op == "update"
        and s.reply is not None
        and s.reply.kind in (ReplyKind.TEXT, ReplyKind.TIMELINE)
        and s.reply.buttons
    ]


async def sim_log(base_url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(base_url + "/_sim/log", timeout=5)
    data: list[dict[str, Any]] = response.json()
    return data


async def sent_turns(base_url: str) -> list[str]:
    """The texts of every turn the backend received, in order."""
    return [
        e["json"]["new_message"]["parts"][0]["text"]
        for e in await sim_log(base_url)
        if e["path"] == "/run_sse"
    ]


async def wait_for_request(base_url: str, method: str, path: str, count: int = 1) -> None:
    """Until the backend has logged `count` requests to `path` (nothing to signal it: polled)."""
    async with httpx.AsyncClient() as http, asyncio.timeout(20):
        while True:
            log = (await http.get(base_url + "/_sim/log", timeout=5)).json()
            if sum(1 for e in log if e["method"] == method and e["path"] == path) >= count:
                return
            await asyncio.sleep(0.01)
