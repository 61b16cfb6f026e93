"""What every benchmark shares: result rows, the local backend in its own process, memory and
loop-lag probes, and the `python -m tests.bench.<name> [--json PATH]` entry point.

Each benchmark runs in a fresh process (the runner starts one per benchmark), so its peak RSS
is its own and no benchmark warms the next one's caches.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bots.cli import loop_factory
from core.runtime import tune_gc

ROOT = Path(__file__).resolve().parents[2]
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Row:
    """One figure against its limit. `better` says which way passes: "max" (value <= limit),
    "min" (value >= limit), or "" for a figure shown for context."""

    bench: str
    metric: str
    value: float
    limit: float | None = None
    unit: str = ""
    better: str = "max"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.limit in (None, 0) or not self.better:
            return None
        return self.value / self.limit  # type: ignore[operator]

    @property
    def ok(self) -> bool | None:
        if self.limit is None or not self.better:
            return None
        return self.value <= self.limit if self.better == "max" else self.value >= self.limit


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


# -- memory ---------------------------------------------------------------------------------


def rss_mb() -> float:
    """Resident memory now (from /proc), in MiB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE / 2**20


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (getrusage: KiB on Linux), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """Samples RSS every `period` seconds on the loop; `peak` is the highest seen."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.peak = rss_mb()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb())
            await asyncio.sleep(self.period)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        self.peak = max(self.peak, rss_mb())
        if self._task is not None:
            self._task.cancel()


class LoopLag:
    """A ticker that asks to sleep `period` and records how late it woke up (seconds)."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.period)
            self.lags.append(max(0.0, loop.time() - asked - self.period))

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()


def raise_open_files() -> int:
    """A thousand streams need more than the usual 1,024 descriptors: raise the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


# -- the local backend in its own process -----------------------------------------------------


class SimProcess:
    """`python -m bots sim --port 0 ...` in a child process; `url` once it listens."""

    def __init__(self, *flags: str, seed: int = 7) -> None:
        self._flags = flags
        self._seed = seed
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> SimProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPITER_", "NEMO_"))}
        env.update({"JUPITER_LOG_LEVEL": "ERROR", "PYTHONPATH": str(ROOT)})
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots",
            "sim",
            "--port",
            "0",
            "--seed",
            str(self._seed),
            *self._flags,
            cwd=str(ROOT),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self._process.stdout is not None
        async with asyncio.timeout(60):
            line = (await self._process.stdout.readline()).decode()
        if "listening on" not in line:
            raise RuntimeError(f"the local backend did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[-1].strip()
        return self

    async def faults(self, **changes: Any) -> None:
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{self.url}/_sim/faults", json=changes, timeout=10)
            response.raise_for_status()

    async def log(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{self.url}/_sim/log", timeout=30)
        data: list[dict[str, Any]] = response.json()
        return data

    async def __aexit__(self, *_: object) -> None:
        if self._process is None or self._process.returncode is not None:
            return
        self._process.terminate()
        try:
            async with asyncio.timeout(10):
                await self._process.wait()
        except TimeoutError:
            self._process.kill()
            await self._process.wait()


# -- entry point ----------------------------------------------------------------------------


def main(run: Callable[[], Awaitable[list[Row]]]) -> None:
    """Run one benchmark; print its rows, and write them as JSON where `--json` says."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started = time.monotonic()
    tune_gc()  # as `jupiter` does before it serves
    # the loop the product runs on (`jupiter` picks it from JUPITER_EVENT_LOOP the same way)
    with asyncio.Runner(
        loop_factory=loop_factory(os.environ.get("JUPITER_EVENT_LOOP", "uvloop"))
    ) as runner:
        rows = runner.run(run())
    elapsed = time.monotonic() - started
    for row in rows:
        limit = "" if row.limit is None else f" (limit {row.limit:g})"
        print(f"{row.bench}: {row.metric} = {row.value:.4g} {row.unit}{limit} {row.note}")
    print(f"({elapsed:.1f} s)")
    if args.json is not None:
        args.json.write_text(json.dumps({"seconds": elapsed, "rows": [asdict(r) for r in rows]}))
