"""`python -m tests.bench` (`make bench`): every benchmark, each in a fresh process, then one
table of the bot's figures against their limits.

    python -m tests.bench [--only overhead,relay] [--markdown] [--n 1000] [--no-write]

Exit status 0 whether or not a target is met: the table (and tests/bench/RESULTS.md) says which;
1 only when a benchmark could not run. A whole run (every benchmark) replaces the table between
the `<!-- table -->` markers of tests/bench/RESULTS.md, with the machine, the load average
before and after, and the date; `--only` runs print only.

`--n` is the Slack load's number of conversations (default 1,000); `--knee-budget` the seconds
the knee's sweeps may take (default 1,500).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.common import ROOT, Row

BENCHMARKS = (
    "overhead",
    "concurrency",
    "relay",
    "store",
    "recovery",
    "slack_calls",
    "slack_load",
    "long_conversation",
    "knee",
)
TIMEOUTS = {"slack_load": 1200, "knee": 3600}  # seconds; 600 for the others
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
MARKERS = ("<!-- table -->", "<!-- /table -->")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def write_results(text: str) -> bool:
    """Replace the table between the markers of RESULTS.md; False where there are none."""
    try:
        current = RESULTS.read_text()
    except OSError:
        return False
    start, end = current.find(MARKERS[0]), current.find(MARKERS[1])
    if start < 0 or end < start:
        return False
    RESULTS.write_text(current[: start + len(MARKERS[0])] + "\n" + text + "\n" + current[end:])
    return True


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "unknown memory"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = "unknown"
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory}, Python {platform.python_version()},"
        f" commit {commit or 'unknown'}, {now}"
    )


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def table(rows: list[Row], markdown: bool) -> str:
    header = ("benchmark", "metric", "bot", "limit", "ratio", "ok", "note")
    lines = []
    for row in rows:
        unit = f" {row.unit}" if row.unit else ""
        bound = "" if row.limit is None else ("≤ " if row.better == "max" else "≥ ")
        ok = "" if row.ok is None else ("yes" if row.ok else "MISSED")
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        limit = "" if row.limit is None else f"{bound}{row.limit:g}{unit}"
        cells = (row.bench, row.metric, f"{_fmt(row.value)}{unit}", limit, ratio, ok, row.note)
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(c.replace("|", "/") for c in cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines, strict=False)]
    widths[-1] = 0
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*cells).rstrip() for cells in [header, *lines])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(BENCHMARKS))
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--n", type=int, default=1000, help="Slack load: conversations")
    parser.add_argument("--knee-budget", type=float, default=1500, help="knee: seconds")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md alone")
    args = parser.parse_args()
    extra = {
        "slack_load": ["--n", str(args.n)],
        "knee": ["--budget", str(args.knee_budget)],
    }
    chosen = [b for b in BENCHMARKS if not args.only or b in args.only.split(",")]
    rows: list[Row] = []
    failed: list[str] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(machine(), flush=True)
    load_before = load_average()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            out = Path(tmp) / f"{name}.json"
            print(f"\n== {name}", flush=True)
            done = subprocess.run(
                [sys.executable, "-m", f"tests.bench.{name}", "--json", str(out)]
                + extra.get(name, []),
                cwd=ROOT,
                env=env,
                timeout=TIMEOUTS.get(name, 600),
            )
            if done.returncode != 0 or not out.exists():
                failed.append(name)
                continue
            rows += [Row(**row) for row in json.loads(out.read_text())["rows"]]
    elapsed = time.monotonic() - started
    load_after = load_average()
    print(f"\n{machine()}; {elapsed:.0f} s in all; load average {load_before} -> {load_after}\n")
    print(table(rows, args.markdown))
    if not args.only and not args.no_write:
        head = (
            f"`make bench` on {machine()}; {elapsed:.0f} s in all; load average (1, 5, 15 min)"
            f" {load_before} before, {load_after} after"
            + (f"; could not run: {', '.join(failed)}" if failed else "")
        )
        if write_results(f"{head}\n\n{table(rows, markdown=True)}"):
            print(f"\nwrote the table into {RESULTS.relative_to(ROOT)}")
    if failed:
        print(f"\ncould not run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
