"""Concurrency: 1,000 threads each start a turn at once; the local backend (its own process)
holds every stream open for a few seconds with heartbeats. All must be answered, heartbeats on
time, the event loop responsive, memory bounded.

- heartbeat lateness: for each thread, the gap between consecutive "Still working" edits with
  nothing else between them, minus `heartbeat_seconds`: the beats keep a fixed cadence, so a
  longer gap is a beat that fired late or an edit that waited its turn on a busy loop. A beat
  skipped because the thread moved in its interval (words, a stage) is the design and is not
  counted (until 2026-12-02 it was, and read as half a second late);
- loop lag: a ticker asks for 10 ms sleeps and records how late it wakes;
- answer time: from `handle()` to the thread's answer (the update carrying the reply buttons),
  against the backend's 4 s turn. Each thread has its own user: one user runs at most
  `JUPITER_MAX_TURNS_PER_USER` (3) turns at once, which would otherwise queue them all;
- peak RSS: `getrusage` of this process (the engine, its store, 1,000 FakeThreads), the backend
  being elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from core.port import Incoming, ReplyKind, ThreadKey
from core.runtime import Runtime
from core.settings import Settings
from tests.bench.common import (
    LoopLag,
    Row,
    SimProcess,
    main,
    peak_rss_mb,
    percentile,
    raise_open_files,
    rss_mb,
)
from tests.fakes.thread import FakeThread

THREADS = int(os.environ.get("JUPITER_BENCH_THREADS", "1000"))  # smaller while developing
TURN_SECONDS = 4.0
HEARTBEAT = 0.5


def _beat_gaps(thread: FakeThread) -> list[float]:
    """How late each heartbeat came after the one before it (gap minus the interval), for
    beats with nothing else between them: a beat skipped because the thread moved in its
    interval (the agent's words posted, a stage shown) is the design, not lateness."""
    gaps: list[float] = []
    last: float | None = None
    for said in thread.log:
        if said.op == "update" and "Still working" in said.text:
            if last is not None:
                gaps.append(said.at - last - HEARTBEAT)
            last = said.at
        elif said.op in ("post", "update"):
            last = None  # the thread moved: the next beat's cadence is not this one's
    return gaps


async def run() -> list[Row]:
    raise_open_files()
    before = rss_mb()
    flags = ("--turn-seconds", str(TURN_SECONDS), "--heartbeat-seconds", "0.5")
    flags += ("--no-text-ratio", "0", "--credits", "1000000000", "--render-seconds", "0")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{Path(tmp) / 'jupiter.db'}",
            heartbeat_seconds=HEARTBEAT,
            stream_idle_seconds=30,
            turn_timeout_seconds=120,
            render_poll_seconds=0.5,
        )
        async with SimProcess(*flags) as sim, Runtime.open(settings, base_url=sim.url) as rt:
            threads = [
                FakeThread(ThreadKey("slack", "T0BENCH", f"C{i % 50}", f"{i}.000"))
                for i in range(THREADS)
            ]
            with LoopLag(0.01) as lag:
                started = time.monotonic()
                await asyncio.gather(
                    *(
                        rt.engine.handle(t, Incoming(f"a 1-second clip number {i}", user=f"u{i}"))
                        for i, t in enumerate(threads)
                    )
                )
                accepted = time.monotonic() - started
                await rt.engine.idle(300)
                elapsed = time.monotonic() - started
            peak = peak_rss_mb()

    answers: list[float] = []
    lateness: list[float] = []
    first_word: list[float] = []
    for thread in threads:
        final = [
            s.at
            for s in thread.log
            if s.op == "update"
            and s.reply is not None
            and s.reply.buttons
            and s.reply.kind in (ReplyKind.TEXT, ReplyKind.TIMELINE)
        ]
        if final:
            answers.append(final[0] - started)
        lateness.extend(_beat_gaps(thread))
        if thread.log:
            first_word.append(thread.log[0].at - started)
    return [
        Row("concurrency", f"threads answered (of {THREADS})", len(answers), THREADS, "", "min"),
        Row(
            "concurrency",
            "heartbeat lateness p99",
            percentile(lateness, 0.99) * 1000,
            100,
            "ms",
            note=f"({len(lateness)} gaps; max {max(lateness, default=0) * 1000:.0f} ms)",
        ),
        Row(
            "concurrency",
            "event-loop lag p99",
            percentile(lag.lags, 0.99) * 1000,
            25,
            "ms",
            note=f"(max {max(lag.lags, default=0) * 1000:.0f} ms)",
        ),
        Row(
            "concurrency",
            "peak RSS",
            peak,
            300,
            "MB",
            note=f"(at start {before:.0f} MB)",
        ),
        Row(
            "concurrency",
            f"answer p50 / the turn ({TURN_SECONDS:g} s), SQLite",
            percentile(answers, 0.5) / TURN_SECONDS,
            1.25,
            "x",
            note=f"(p50 {percentile(answers, 0.5):.2f} s; first reply p99"
            f" {percentile(first_word, 0.99):.2f} s; all taken in {accepted:.2f} s;"
            f" idle, renders from GUI talk included, after {elapsed:.1f} s)",
        ),
        Row(
            "concurrency",
            f"answer p99 / the turn ({TURN_SECONDS:g} s), SQLite",
            percentile(answers, 0.99) / TURN_SECONDS,
            None,
            "x",
            "",
            f"(p99 {percentile(answers, 0.99):.2f} s, last {max(answers, default=0):.2f} s)",
        ),
    ]


if __name__ == "__main__":
    main(run)
