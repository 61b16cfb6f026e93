"""Slack Web API calls per simple turn: the real Slack thread adapter (`SlackThread`, slack_sdk)
against the fake Slack Web API, the engine against the local backend (its own process).

A simple turn is a prompt answered without an export (turns where the agent's words set off an
export are left out). Its budget is 4 calls plus one per heartbeat interval the turn lasted.
The workspace has Slack's agent platform (agent sessions, streaming).
"""

from __future__ import annotations

import collections
import tempfile
import time
from pathlib import Path

import httpx

from bots.slack.client import build_client
from bots.slack.thread import SlackThreads
from core.metrics import Metrics
from core.port import Incoming, ThreadKey
from core.runtime import Runtime
from tests.bench.common import Row, SimProcess, main, median
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import SlackTestSettings as Settings

TURNS = 12
TURN_SECONDS = 1.0
HEARTBEAT = 0.25
TOKEN = "xoxb-bench-token"


async def run() -> list[Row]:
    flags = ("--turn-seconds", str(TURN_SECONDS), "--heartbeat-seconds", "0.1")
    flags += ("--no-text-ratio", "0", "--credits", "1000000000", "--render-seconds", "0")
    results: list[tuple[int, int, collections.Counter[str]]] = []
    skipped = 0
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeSlack(bot_token=TOKEN) as slack, SimProcess(*flags) as sim:
            slack.agent_platform = True
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                database_url=f"sqlite:///{Path(tmp) / 'jupiter.db'}",
                slack_bot_token=TOKEN,
                slack_signing_secret="bench",
                slack_api_url=slack.api_url,
                heartbeat_seconds=HEARTBEAT,
                render_poll_seconds=0.1,
            )
            async with Runtime.open(settings, base_url=sim.url) as rt, httpx.AsyncClient() as http:
                threads = SlackThreads(
                    client=build_client(settings, Metrics(), settings.retry_backoff_seconds),
                    http=http,
                    settings=settings,
                )
                rt.engine.register("slack", threads)
                for i in range(TURNS):
                    key = ThreadKey("slack", "T0TEAM", "C0BENCH", f"17000000{i:02d}.000100")
                    before = len(slack.calls())
                    started = time.monotonic()
                    said = Incoming(f"a 1-second clip of kite {i}", user="U0BENCH")
                    thread = threads(key, user=said.user, prompt=said.text)
                    await rt.engine.handle(thread, said)
                    await rt.engine.idle(60)
                    elapsed = time.monotonic() - started
                    calls = slack.calls()[before:]
                    methods = collections.Counter(c.method for c in calls)
                    if methods["files.completeUploadExternal"] or any(
                        "Rendering" in str(c.args.get("text", "")) for c in calls
                    ):
                        skipped += 1  # the agent's words set off an export: not a simple turn
                        continue
                    results.append((len(calls), int(elapsed // HEARTBEAT), methods))
    ratios = [calls / (4 + intervals) for calls, intervals, _ in results]
    worst = max(range(len(results)), key=lambda i: ratios[i]) if results else 0
    calls, intervals, methods = results[worst] if results else (0, 0, collections.Counter())
    mix = ", ".join(f"{name} {count}" for name, count in sorted(methods.items()))
    return [
        Row(
            "slack",
            "Web API calls / (4 + heartbeat intervals), worst turn",
            max(ratios, default=0),
            1.0,
            "x",
            note=f"({calls} calls in {intervals} intervals: {mix})",
        ),
        Row(
            "slack",
            "Web API calls per simple turn, median",
            median([c for c, _, _ in results]),
            None,
            "",
            "",
            f"({len(results)} turns of ~{TURN_SECONDS:g} s, heartbeat {HEARTBEAT:g} s;"
            f" {skipped} turns with an export left out)",
        ),
    ]


if __name__ == "__main__":
    main(run)
