"""Two commits' figures side by side, run alternately (A B B A per round): this machine's speed
wanders by ±15% from one run to the next, so a figure of one commit is only comparable with one
of another taken at the same time.

    python -m tests.bench.abba A B [--bench concurrency] [--rounds 2] [-- ARGS...]

A and B are revisions (`HEAD~3`, a hash; `.` is the working tree as it stands). Each one is
checked out in a temporary worktree sharing this checkout's `.venv`; every run is a fresh
`python -m tests.bench.<bench> --json ...` in it, ARGS passed on (`-- --n 300` for the Slack
load). Prints every run's figures and each figure's median per revision; the worktrees are
removed at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def checked_out(revision: str, where: Path) -> Iterator[Path]:
    """`revision` in a worktree under `where` (the checkout itself for `.`)."""
    if revision == ".":
        yield ROOT
        return
    tree = where / revision.replace("/", "_").replace("~", "-")
    subprocess.run(
        ["git", "worktree", "add", "-q", "--detach", str(tree), revision], cwd=ROOT, check=True
    )
    try:
        (tree / ".venv").symlink_to(ROOT / ".venv")
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def run_once(tree: Path, bench: str, args: list[str], out: Path) -> dict[str, float]:
    """One run of the benchmark in `tree`: its figures by metric."""
    command = [sys.executable, "-m", f"tests.bench.{bench}", "--json", str(out), *args]
    subprocess.run(command, cwd=tree, check=True, stdout=subprocess.DEVNULL)
    rows = json.loads(out.read_text())["rows"]
    return {f"{row['bench']}: {row['metric']}": float(row["value"]) for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.abba")
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--bench", default="concurrency")
    parser.add_argument("--rounds", type=int, default=2)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args, passed = parser.parse_args(argv[:cut]), argv[cut + 1 :]  # after --: the benchmark's
    seen: dict[str, dict[str, list[float]]] = {args.a: {}, args.b: {}}
    with tempfile.TemporaryDirectory() as tmp, checked_out(args.a, Path(tmp)) as tree_a:
        with checked_out(args.b, Path(tmp)) as tree_b:
            trees = {args.a: tree_a, args.b: tree_b}
            for _ in range(args.rounds):
                for revision in (args.a, args.b, args.b, args.a):
                    figures = run_once(trees[revision], args.bench, passed, Path(tmp) / "out.json")
                    for metric, value in figures.items():
                        seen[revision].setdefault(metric, []).append(value)
                    shown = ", ".join(f"{m.split(': ', 1)[1]} {v:.4g}" for m, v in figures.items())
                    print(f"{revision}: {shown}", flush=True)
    print()
    for metric in seen[args.a]:
        a, b = seen[args.a][metric], seen[args.b].get(metric, [])
        print(f"{metric}: median {statistics.median(a):.4g} ({args.a}) -> ", end="")
        print(f"{statistics.median(b):.4g} ({args.b}) over {len(a)} and {len(b)} runs")


if __name__ == "__main__":
    main()
