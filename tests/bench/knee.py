"""The knee: the largest N of concurrent Slack conversations whose median answer stays within
1.5x the turn, for SQLite with 1 replica and PostgreSQL with 1 and 2 replicas, and the limit
that sets it; plus the plots of answer time, CPU per conversation and RSS against N.

    python -m tests.bench.knee [--steps 10,100,300,1000,3000] [--budget 1500] [--json PATH]

Each point is one `tests.bench.slack_load` run (fresh fakes, fresh bot processes, fresh
database; 5 s turns). Per configuration the steps run in ascending order until one misses; then
up to two geometric bisections between the last N that passed and the first that missed narrow
the knee, time budget allowing. SQLite with 1 replica runs every step even past the knee, for
the plots. With 2 replicas two bot processes share one PostgreSQL database and the slash
commands alternate between them (as a load balancer in front of them would).

Which limit sets it is read from the first run that missed (`LoadResult.limit`): the bot's CPU
(share of a core per replica, from /proc), the fakes' CPU, the machine's two cores, the bot's
event loop (/livez response time), the store (/healthz, a store probe), or queueing before a
turn starts.

Plots (PNG, next to this file) need matplotlib, a bench-only extra (`pip install -e '.[bench]'`;
`make bench` installs it); without it the figures are still printed and written to
tests/bench/sweep.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.bench.common import Row
from tests.bench.pgserver import postgres_server
from tests.bench.slack_load import LoadResult, load, load_average

HERE = Path(__file__).resolve().parent
STEPS = (10, 100, 300, 1000, 3000)
TURN = 5.0
GOAL = 1.5
CONFIGS = (("SQLite", 1), ("PostgreSQL", 1), ("PostgreSQL", 2))


def _label(store: str, replicas: int) -> str:
    return f"{store}, {replicas} replica{'s' if replicas > 1 else ''}"


def _show(r: LoadResult) -> str:
    return (
        f"N={r.n} {_label(r.store, r.replicas)}: median {r.answer_p50:.2f} s"
        f" ({r.ratio_p50:.2f}x), p99 {r.answer_p99:.2f} s, answered {r.answered},"
        f" CPU {r.bot_cpu_ms_per_conversation:.1f} ms/conv ({r.bot_cpu_share:.0%} of a core),"
        f" fakes {r.fakes_cpu_share:.0%}, machine {r.machine_busy:.0%} busy, RSS {r.peak_rss_mb:.0f} MB,"
        f" /livez p99 {r.livez_p99_ms:.0f} ms, /healthz p99 {r.healthz_p99_ms:.0f} ms;"
        f" load {r.load}"
    )


def passes(r: LoadResult) -> bool:
    return r.answered == r.n and r.ratio_p50 <= GOAL


async def _one(n: int, store: str, replicas: int, server: Any) -> LoadResult:
    url = None if store == "SQLite" else await server.create_database()
    result = await load(n, turn_seconds=TURN, replicas=replicas, database_url=url)
    print(_show(result), flush=True)
    return result


async def sweep(
    store: str, replicas: int, server: Any, steps: tuple[int, ...], deadline: float, full: bool
) -> tuple[list[LoadResult], int, str]:
    """Results, the knee (largest N that passed, 0 if none) and the limit that set it."""
    results: list[LoadResult] = []
    best, missed = 0, None
    pace = [0.15]  # seconds of wall time per conversation, from the last run (starts a guess)

    def fits(n: int) -> bool:
        if time.monotonic() + 20 + n * pace[0] <= deadline:
            return True
        print(f"{_label(store, replicas)}: N={n} skipped, out of time", flush=True)
        return False

    async def one(n: int) -> LoadResult:
        began = time.monotonic()
        result = await _one(n, store, replicas, server)
        pace[0] = max(pace[0], (time.monotonic() - began - 20) / n)
        return result

    for n in steps:
        if not fits(n):
            break
        result = await one(n)
        results.append(result)
        if passes(result):
            if missed is None:
                best = n
        elif missed is None:
            missed = result
            if not full:
                break
    if missed is not None and best:
        low, high = best, missed.n
        for _ in range(2):
            middle = round(math.sqrt(low * high))
            if middle in (low, high) or not fits(middle):
                break
            result = await one(middle)
            results.append(result)
            if passes(result):
                low = best = middle
            else:
                high, missed = middle, result
    if missed is None:
        why = f"not reached: every step up to N={results[-1].n if results else 0} passed"
    else:
        why = f"at N={missed.n} ({missed.ratio_p50:.2f}x): {missed.limit()}"
    return results, best, why


def plot(points: dict[str, list[LoadResult]]) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plots")
        return []
    written = []
    figures: list[tuple[str, str, list[tuple[str, str]]]] = [
        (
            "answer_time.png",
            "answer time (s), from the /video POST",
            [("answer_p50", "p50"), ("answer_p99", "p99")],
        ),
        ("cpu_per_conversation.png", "bot CPU per conversation (ms)", [
            ("bot_cpu_ms_per_conversation", "")]),
        ("rss.png", "bot peak RSS (MB, VmHWM)", [("peak_rss_mb", "")]),
    ]  # fmt: skip
    for name, ylabel, series in figures:
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
        for label, results in points.items():
            ordered = sorted(results, key=lambda r: r.n)
            if not ordered:
                continue
            for attr, suffix in series:
                ax.plot(
                    [r.n for r in ordered],
                    [getattr(r, attr) for r in ordered],
                    marker="o",
                    label=f"{label} {suffix}".strip(),
                    linestyle="-" if suffix != "p99" else "--",
                )
        if name == "answer_time.png":
            ax.axhline(TURN * GOAL, color="grey", linewidth=0.8, label="goal: median ≤ 1.5x turn")
            ax.axhline(TURN, color="grey", linewidth=0.8, linestyle=":", label="the turn (5 s)")
            ax.set_yscale("log")
        if name == "cpu_per_conversation.png":
            ax.axhline(7, color="grey", linewidth=0.8, label="goal ≤ 7 ms")
        if name == "rss.png":
            ax.axhline(250, color="grey", linewidth=0.8, label="goal ≤ 250 MB (at 1,000)")
        ax.set_xscale("log")
        ax.set_xlabel("concurrent Slack conversations (N)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"{ylabel.split(' (')[0]} vs N (5 s turns, 2 shared cores)", fontsize=10)
        fig.tight_layout()
        path = HERE / name
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


async def run(steps: tuple[int, ...], budget: float) -> list[Row]:
    started = time.monotonic()
    rows: list[Row] = []
    points: dict[str, list[LoadResult]] = {}
    async with postgres_server() as server:
        for i, (store, replicas) in enumerate(CONFIGS):
            label = _label(store, replicas)
            if store == "PostgreSQL" and server is None:
                rows.append(Row("knee", label, 0, None, "", "", "(skipped: no PostgreSQL here)"))
                continue
            # the budget is shared: what is left, split over the configurations still to run
            left = budget - (time.monotonic() - started)
            deadline = time.monotonic() + left / (len(CONFIGS) - i)
            results, best, why = await sweep(
                store, replicas, server, steps, deadline, full=(i == 0)
            )
            points[label] = results
            note = f"(limit {why}; {len(results)} runs; load avg {load_average()})"
            rows.append(
                Row("knee", f"{label}: largest N with median ≤ 1.5x", best, None, "", "", note)
            )
    (HERE / "sweep.json").write_text(
        json.dumps({k: [asdict(r) for r in v] for k, v in points.items()}, indent=1) + "\n"
    )
    for path in plot(points):
        print(f"wrote {path.relative_to(HERE.parents[1])}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.knee")
    parser.add_argument("--steps", default=",".join(map(str, STEPS)))
    parser.add_argument("--budget", type=float, default=1500, help="seconds for every sweep")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--add",
        type=Path,
        default=None,
        help="no runs: add a `slack_load --raw` result to sweep.json (SQLite, 1 replica) and replot",
    )
    args = parser.parse_args()
    if args.add is not None:
        saved = json.loads((HERE / "sweep.json").read_text())
        saved.setdefault(_label("SQLite", 1), []).append(json.loads(args.add.read_text()))
        (HERE / "sweep.json").write_text(json.dumps(saved, indent=1) + "\n")
        plot({k: [LoadResult(**r) for r in v] for k, v in saved.items()})
        return
    steps = tuple(sorted(int(s) for s in args.steps.split(",") if s))
    started = time.monotonic()
    rows = asyncio.run(run(steps, args.budget))
    for row in rows:
        print(f"{row.bench}: {row.metric} = {row.value:g} {row.note}")
    elapsed = time.monotonic() - started
    print(f"({elapsed:.1f} s)")
    if args.json is not None:
        args.json.write_text(json.dumps({"seconds": elapsed, "rows": [asdict(r) for r in rows]}))


if __name__ == "__main__":
    main()
