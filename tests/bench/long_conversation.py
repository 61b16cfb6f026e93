"""A long conversation: 500 turns in ONE thread (a generation, then edits), on SQLite and, where a
server can start here, PostgreSQL. Does turn 500 cost more than turn 10, and how much does the
store keep per turn?

    python -m tests.bench.long_conversation [--turns 500] [--json PATH]

The engine runs in this process with a FakeThread; the local backend runs in its own process
(`tests/bench/slack_fakes.py`, turns take no time, no GUI talk, so no turn sets off an export).
Per turn: wall time from `handle()` to `idle()`, and this process's CPU time over the same span
(the bot's own work: engine, store, client; the backend's is elsewhere). The overhead of turn 500
against turn 10 is the median CPU per turn of turns 470-500 over that of turns 5-35 (windows of
31 turns: with 11, a second-ly checkpoint or a collection landing in a few of them moved the ratio
by ±0.3 between runs); the wall-time ratio is shown beside it.

Store bytes per turn: SQLite, the pages in use (`page_count - freelist_count`, read through a
second connection, WAL included) at turn 10 and at the end; PostgreSQL, the total size of the
schema's tables (TOAST and indexes included) at the same points; growth / turns between.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from core.port import Incoming, ThreadKey
from core.runtime import Runtime
from core.settings import Settings
from tests.bench.common import Row, median
from tests.bench.pgserver import postgres
from tests.bench.slack_load import load_average, start_fakes
from tests.fakes.thread import FakeThread

TURNS = 500
EARLY = (5, 35)  # turn numbers (1-based), inclusive
EDITS = (
    "make it warmer",
    "make it 3 seconds",
    "add a title 'take {i}'",
    "make the music quieter",
    "make it 2 seconds",
    "make it brighter",
)


def _settings(url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        heartbeat_seconds=5,
        render_poll_seconds=0.05,
        retry_after_seconds=0.01,
        retry_backoff_seconds=0.01,
        job_lease_seconds=30,
        max_queued_per_thread=1000,
    )


def _sqlite_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * size)
    finally:
        conn.close()


async def _pg_bytes(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        value = await conn.fetchval(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        return int(value)
    finally:
        await conn.close()


async def _conversation(
    store: str, url: str, backend: str, turns: int, size_of: object
) -> dict[str, object]:
    measure = size_of  # async () -> int
    walls: list[float] = []
    cpus: list[float] = []
    sizes: dict[int, int] = {}
    async with Runtime.open(_settings(url), base_url=backend) as rt:
        thread = FakeThread(ThreadKey("console", "bench", "long", store))
        for i in range(1, turns + 1):
            text = "a 2-second sunset over mountains" if i == 1 else EDITS[i % len(EDITS)]
            wall0, cpu0 = time.perf_counter(), time.process_time()
            await rt.engine.handle(thread, Incoming(text.format(i=i), user="u1"))
            await rt.engine.idle(60)
            walls.append(time.perf_counter() - wall0)
            cpus.append(time.process_time() - cpu0)
            if i in (EARLY[1], turns):
                sizes[i] = await measure()  # type: ignore[operator]
    answered = sum(1 for s in thread.log if s.reply is not None and s.reply.buttons)
    late = (max(turns - (EARLY[1] - EARLY[0]), EARLY[1] + 1), turns)
    early_cpu = median(cpus[EARLY[0] - 1 : EARLY[1]])
    late_cpu = median(cpus[late[0] - 1 : late[1]])
    early_wall = median(walls[EARLY[0] - 1 : EARLY[1]])
    late_wall = median(walls[late[0] - 1 : late[1]])
    grown = sizes[turns] - sizes[EARLY[1]]
    return {
        "store": store,
        "turns": turns,
        "answered": answered,
        "early_cpu_ms": early_cpu * 1000,
        "late_cpu_ms": late_cpu * 1000,
        "early_wall_ms": early_wall * 1000,
        "late_wall_ms": late_wall * 1000,
        "cpu_ratio": late_cpu / early_cpu if early_cpu else 0.0,
        "wall_ratio": late_wall / early_wall if early_wall else 0.0,
        "bytes_per_turn": grown / (turns - EARLY[1]),
        "bytes_at_end": sizes[turns],
        "late_window": late,
    }


def _rows(found: dict[str, object], load: str) -> list[Row]:
    s = found["store"]
    lo, hi = found["late_window"]  # type: ignore[misc]
    return [
        Row(
            "long_conversation",
            f"{s}: CPU per turn, turn {found['turns']} vs turn 10",
            float(found["cpu_ratio"]),  # type: ignore[arg-type]
            1.1,
            "x",
            note=f"(median of turns {lo}-{hi} {found['late_cpu_ms']:.1f} ms vs turns"
            f" {EARLY[0]}-{EARLY[1]} {found['early_cpu_ms']:.1f} ms; wall"
            f" {found['late_wall_ms']:.1f} vs {found['early_wall_ms']:.1f} ms ="
            f" {found['wall_ratio']:.2f}x; {found['answered']} answers; load avg {load})",
        ),
        Row(
            "long_conversation",
            f"{s}: store bytes per turn",
            float(found["bytes_per_turn"]),  # type: ignore[arg-type]
            None,
            "B",
            "",
            f"({found['bytes_at_end']:,} B after {found['turns']} turns)",
        ),
    ]


async def run(turns: int) -> list[Row]:
    load = load_average()
    rows: list[Row] = []
    fakes, urls = await start_fakes(0.0, 3600)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "jupiter.db"

            async def sqlite_size() -> int:
                return await asyncio.to_thread(_sqlite_bytes, path)

            found = await _conversation(
                "SQLite", f"sqlite:///{path}", urls["backend"], turns, sqlite_size
            )
            print(json.dumps(found))
            rows += _rows(found, load)
        async with postgres() as url:
            if url is None:
                rows.append(
                    Row("long_conversation", "PostgreSQL", 0, None, "", "", "(skipped: no server)")
                )
            else:
                pg_url: str = url

                async def pg_size() -> int:
                    return await _pg_bytes(pg_url)

                found = await _conversation("PostgreSQL", pg_url, urls["backend"], turns, pg_size)
                print(json.dumps(found))
                rows += _rows(found, load)
    finally:
        await fakes.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.long_conversation")
    parser.add_argument("--turns", type=int, default=TURNS)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started = time.monotonic()
    rows = asyncio.run(run(max(args.turns, EARLY[1] * 2)))
    for row in rows:
        limit = "" if row.limit is None else f" (limit {row.limit:g})"
        print(f"{row.bench}: {row.metric} = {row.value:.4g} {row.unit}{limit} {row.note}")
    elapsed = time.monotonic() - started
    print(f"({elapsed:.1f} s)")
    if args.json is not None:
        args.json.write_text(json.dumps({"seconds": elapsed, "rows": [asdict(r) for r in rows]}))


if __name__ == "__main__":
    main()
