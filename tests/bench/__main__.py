"""`python -m tests.bench` (`make bench`): every benchmark, each in a fresh process, then one
table of the bot's figures against their limits.

    python -m tests.bench [--only overhead,relay] [--markdown]

Exit status 0 whether or not a target is met: the table (and tests/bench/RESULTS.md) says which;
1 only when a benchmark could not run.
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

BENCHMARKS = ("overhead", "concurrency", "relay", "store", "recovery", "slack_calls")


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
    args = parser.parse_args()
    chosen = [b for b in BENCHMARKS if not args.only or b in args.only.split(",")]
    rows: list[Row] = []
    failed: list[str] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(machine(), flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            out = Path(tmp) / f"{name}.json"
            print(f"\n== {name}", flush=True)
            done = subprocess.run(
                [sys.executable, "-m", f"tests.bench.{name}", "--json", str(out)],
                cwd=ROOT,
                env=env,
                timeout=600,
            )
            if done.returncode != 0 or not out.exists():
                failed.append(name)
                continue
            rows += [Row(**row) for row in json.loads(out.read_text())["rows"]]
    print(f"\n{machine()}; {time.monotonic() - started:.0f} s in all\n")
    print(table(rows, args.markdown))
    if failed:
        print(f"\ncould not run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
