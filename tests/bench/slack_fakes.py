"""The Slack load benchmark's fakes, in a process of their own (so their CPU is not the bot's):
the fake Slack Web API (tests/fakes/slack_api.py) and the local backend (core/sim), plus a small
control endpoint the benchmark reads its observations from.

    python -m tests.bench.slack_fakes --turn-seconds 5 --heartbeat-seconds 0.5

Prints one JSON line `{"slack": api_url, "backend": base_url, "control": url}` once everything
listens; stops when its stdin closes (the benchmark ended or died) or after `--max-seconds`.

Every Web API call is stamped (wall clock, `time.time()`, the same clock the benchmark stamps its
POSTs with) as it arrives. A call "carries the turn's answer" when it is a `chat.postMessage` or
`chat.update` whose blocks hold the reply buttons (`block_id` "jupiter_actions"): only a turn's
answer gets those.

Control (loopback only):
- `GET /summary`: `{"calls": n, "answered": channels with an answer, "cpu": seconds}`;
- `GET /calls`: every call as `[at, method, conversation key, is_answer]`, where the key is the
  channel (`users.info`: the user).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Any

from aiohttp import web

from core.sim import Faults, LocalBackend, agent
from tests.bench.common import raise_open_files
from tests.fakes.slack_api import Call, FakeSlack

TOKEN = "xoxb-bench-load-token"
TEAM = "T0BENCH"
ANSWER_BLOCK = "jupiter_actions"


def _is_answer(call: Call) -> bool:
    if call.method not in ("chat.postMessage", "chat.update"):
        return False
    blocks: Any = call.args.get("blocks")
    if isinstance(blocks, str):
        if ANSWER_BLOCK not in blocks:
            return False
        with contextlib.suppress(ValueError):
            blocks = json.loads(blocks)
    if not isinstance(blocks, list):
        return False
    return any(isinstance(b, dict) and b.get("block_id") == ANSWER_BLOCK for b in blocks)


def _key(call: Call) -> str:
    args = call.args
    if call.method == "users.info":
        return str(args.get("user") or "")
    return str(args.get("channel") or args.get("channel_id") or "")


class Recorded(list[Call]):
    """FakeSlack's call list, stamping each call as it is appended (when it arrives)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[float, str, str, bool]] = []
        self.answered: set[str] = set()

    def append(self, call: Call) -> None:
        answer = _is_answer(call)
        key = _key(call)
        self.rows.append((time.time(), call.method, key, answer))
        if answer:
            self.answered.add(key)
        call.args.pop("blocks", None)  # the fake has parsed what it checks; keep memory flat
        super().append(call)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


async def serve(args: argparse.Namespace) -> None:
    raise_open_files()
    slack = FakeSlack(bot_token=TOKEN, team_id=TEAM)
    recorded = Recorded()
    slack._state.calls = recorded
    faults = Faults(
        turn_seconds=args.turn_seconds,
        heartbeat_seconds=args.heartbeat_seconds,
        no_text_ratio=0,
        credits=10**12,
        render_seconds=0,
        anonymous_render=True,
        address_token_limit=100000,
    )
    # The agent's talk of its web GUI ("click Export") makes the bot export on its own: a render,
    # a poster and an upload in ~1 conversation of 6. Off by default, so every conversation is
    # the same plain turn; `--gui-talk-share 0.35` (the backend's own share) puts it back.
    agent.GUI_TALK_SHARE = args.gui_talk_share
    backend = LocalBackend(seed=7, faults=faults)

    async def summary(_: web.Request) -> web.Response:
        body = {"calls": len(recorded.rows), "answered": len(recorded.answered)}
        return web.json_response({**body, "cpu": _cpu_seconds()})

    async def calls(_: web.Request) -> web.Response:
        return web.json_response(recorded.rows)

    control = web.Application()
    control.router.add_get("/summary", summary)
    control.router.add_get("/calls", calls)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    await slack.start()
    try:
        await backend.start()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        urls = {"slack": slack.api_url, "backend": backend.base_url}
        print(json.dumps({**urls, "control": f"http://127.0.0.1:{port}"}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.max_seconds):
                await reader.read()  # until stdin closes
    finally:
        await backend.stop()
        await slack.stop()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.slack_fakes")
    parser.add_argument("--turn-seconds", type=float, default=5.0)
    parser.add_argument("--heartbeat-seconds", type=float, default=0.5)
    parser.add_argument("--gui-talk-share", type=float, default=0.0)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
