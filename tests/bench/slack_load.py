"""Slack load: N concurrent `/video` conversations through ONE `jupiter slack --http` process.

    python -m tests.bench.slack_load [--n 1000] [--turn-seconds 5] [--json PATH]

The fakes (fake Slack Web API + local backend, `tests/bench/slack_fakes.py`) run in a process of
their own, the bot in another (`python -m bots slack --http`, SQLite in a temp dir, or PostgreSQL
for the knee), and this process only sends the signed slash-command POSTs and reads what the
fake Slack saw. Each conversation is its own channel and user (`C0000042`, `U0000042`), so
per-user turn limits do not queue them behind each other.

Before anything is measured, one instant conversation per replica warms it up (see `_warm_up`).
Per conversation: the time from its POST to the first Web API call carrying the turn's answer
(the `chat.update`/`chat.postMessage` with the reply buttons), and its Web API calls by method.
For the bot: CPU from /proc/<pid>/stat (utime+stime) from before the first POST until every
answer is in (plus a short settle for the trailing calls), divided by N; peak RSS (VmHWM); the
response time of its `/healthz` polled every 100 ms (a proxy for its event loop's lag, since the
bot cannot be probed from inside without changing it). The fakes' CPU is reported separately.

A turn's Web API calls are those in its channel except the thread's root message (the `/video`
command's, posted before the turn exists); its budget is 4 + one per heartbeat interval the turn
lasted (from its first in-thread call to its answer).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx

from tests.bench.common import ROOT, Row, median, percentile, raise_open_files

SECRET = "bench-signing-secret-0123456789ab"
TOKEN = "xoxb-bench-load-token"  # as tests/bench/slack_fakes.py
TEAM = "T0BENCH"
TICK = os.sysconf("SC_CLK_TCK")
HEARTBEAT = 1.0  # JUPITER_HEARTBEAT_SECONDS
SIM_HEARTBEAT = 0.5  # the backend's stream heartbeats


# -- /proc ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_mb(pid: int, name: str) -> float:
    """A memory line of /proc/<pid>/status (VmHWM, VmRSS), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# -- processes --------------------------------------------------------------------------------


class Child:
    """A child process in its own process group, stopped by its own pid only."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path | None = None) -> None:
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self, seconds: float = 15) -> None:
        if self.process.returncode is not None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(seconds):
                await self.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()

    def tail(self, lines: int = 20) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPITER_", "NEMO_", "SLACK_", "DISCORD_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    return env


async def start_fakes(turn_seconds: float, max_seconds: float) -> tuple[Child, dict[str, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench.slack_fakes",
        *("--turn-seconds", str(turn_seconds), "--heartbeat-seconds", str(SIM_HEARTBEAT)),
        *("--max-seconds", str(max_seconds)),
        cwd=str(ROOT),
        env={**_clean_env(), "JUPITER_LOG_LEVEL": "ERROR"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    async with asyncio.timeout(60):
        line = (await process.stdout.readline()).decode()
    if not line.startswith("{"):
        raise RuntimeError(f"the fakes did not start: {line!r}")
    urls: dict[str, str] = json.loads(line)
    return Child(process), urls


async def start_bot(
    workdir: Path, urls: dict[str, str], database_url: str, extra_env: dict[str, str] | None = None
) -> tuple[Child, str]:
    """`python -m bots slack --http` on a free loopback port; returns it once /healthz answers."""
    os.makedirs(workdir, exist_ok=True)
    port = free_port()
    env = {
        **_clean_env(),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": urls["slack"],
        "NEMO_BASE_URL": urls["backend"],
        "JUPITER_DATABASE_URL": database_url,
        "JUPITER_HTTP_PORT": str(port),
        "JUPITER_HTTP_HOST": "127.0.0.1",
        "JUPITER_HEARTBEAT_SECONDS": str(HEARTBEAT),
        "JUPITER_LOG_LEVEL": "WARNING",
        "JUPITER_RENDER_POLL_SECONDS": "0.5",
        **(extra_env or {}),
    }
    log = workdir / "bot.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots",
            "slack",
            "--http",
            cwd=str(workdir),  # no developer's .env is read
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
        )
    bot = Child(process, log)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the bot exited {process.returncode}:\n{bot.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/healthz", timeout=2)).status_code == 200:
                    return bot, url
            await asyncio.sleep(0.2)
    await bot.stop()
    raise RuntimeError(f"the bot did not answer /healthz:\n{bot.tail()}")


# -- Slack's requests -------------------------------------------------------------------------


def command_body(i: int, response_url: str) -> str:
    return urlencode(
        {
            "token": "verification-token-unused",
            "team_id": TEAM,
            "team_domain": "jupiter-bench",
            "channel_id": f"C{i:07d}",
            "channel_name": f"bench-{i}",
            "user_id": f"U{i:07d}",
            "user_name": f"user{i}",
            "command": "/video",
            "text": f"a 5-second clip of a red kite over the sea, number {i}",
            "api_app_id": "A0JUPITER",
            "response_url": response_url,
            "trigger_id": f"trigger.{i}.{time.time_ns()}",
        }
    )


def signed(body: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


# -- one run ------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    n: int
    replicas: int
    store: str
    turn_seconds: float
    answered: int = 0
    answer_p50: float = 0.0
    answer_p99: float = 0.0
    answer_last: float = 0.0
    first_reply_p50: float = 0.0
    ack_p99: float = 0.0
    acks_failed: int = 0
    bot_cpu_seconds: float = 0.0
    bot_cpu_ms_per_conversation: float = 0.0
    bot_cpu_share: float = 0.0  # CPU seconds / wall seconds, per bot process (1.0 = one core)
    fakes_cpu_seconds: float = 0.0
    fakes_cpu_share: float = 0.0
    machine_busy: float = 0.0  # share of all the machine's CPUs busy during the run (anyone's)
    driver_cpu_seconds: float = 0.0  # this process: the POSTs and the polling
    peak_rss_mb: float = 0.0
    rss_at_start_mb: float = 0.0
    livez_p99_ms: float = 0.0  # GET /livez: the loop's lag, no other work
    livez_max_ms: float = 0.0
    healthz_p99_ms: float = 0.0  # GET /healthz: a store ping and write probe, so the store queue
    calls_per_turn_p50: float = 0.0
    calls_budget_worst: float = 0.0  # turn calls / (4 + heartbeat intervals), worst turn
    calls_worst_note: str = ""
    methods_per_conversation: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    load: str = ""
    note: str = ""

    @property
    def ratio_p50(self) -> float:
        return self.answer_p50 / self.turn_seconds if self.turn_seconds else 0.0

    def limit(self) -> str:
        """What most likely sets the answer time, from the run's own diagnostics."""
        if self.answered < self.n:
            return f"{self.n - self.answered} unanswered within the time limit"
        if self.bot_cpu_share >= 0.85:
            return f"bot CPU saturated ({self.bot_cpu_share:.0%} of a core per replica)"
        if self.fakes_cpu_share >= 0.85:
            return f"the fakes' CPU (harness) saturated ({self.fakes_cpu_share:.0%})"
        if self.healthz_p99_ms > max(1000, 3 * self.livez_p99_ms):
            return (
                f"the store's queue (/healthz, a store probe, p99 {self.healthz_p99_ms:.0f} ms"
                f" while /livez p99 {self.livez_p99_ms:.0f} ms)"
            )
        if self.machine_busy >= 0.9:
            return (
                f"the machine's CPUs ({self.machine_busy:.0%} busy, other users' load included;"
                f" bot {self.bot_cpu_share:.0%} of a core, fakes {self.fakes_cpu_share:.0%})"
            )
        if self.livez_p99_ms > 250:
            return f"the bot's event loop (/livez p99 {self.livez_p99_ms:.0f} ms)"
        return f"queueing before the turn starts (first reply p50 {self.first_reply_p50:.1f} s)"


async def _probe(url: str, times: list[float], stop: asyncio.Event, period: float = 0.1) -> None:
    """GETs `url` every `period` seconds and records how long each took to answer."""
    async with httpx.AsyncClient() as http:
        while not stop.is_set():
            started = time.monotonic()
            with contextlib.suppress(httpx.HTTPError):
                await http.get(url, timeout=30)
                times.append(time.monotonic() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), period)


async def _rss_sampler(pids: list[int], peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for i, pid in enumerate(pids):
            peak[i] = max(peak[i], status_mb(pid, "VmRSS"))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def load(
    n: int,
    *,
    turn_seconds: float = 5.0,
    replicas: int = 1,
    database_url: str | None = None,
    time_limit: float | None = None,
    profile: str | None = None,
) -> LoadResult:
    """One run of N conversations; `database_url` None means SQLite in a temp dir.
    `profile`: a shell command run with `{pid}` of the first bot once the POSTs start
    (e.g. py-spy record), stopped (SIGINT) when the answers are in."""
    raise_open_files()
    store = "SQLite" if database_url is None else "PostgreSQL"
    result = LoadResult(n, replicas, store, turn_seconds, load=load_average())
    limit = time_limit if time_limit is not None else 60 + turn_seconds * 4 + n * 0.1
    with tempfile.TemporaryDirectory(prefix="jupiter-load-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'jupiter.db'}"
        fakes, urls = await start_fakes(turn_seconds, limit + 300)
        bots: list[tuple[Child, str]] = []
        try:
            for r in range(replicas):
                bots.append(await start_bot(Path(tmp) / f"bot{r}", urls, url))
            await _drive(n, result, fakes, urls, bots, limit, profile)
        finally:
            for bot, _ in bots:
                await bot.stop()
            await fakes.stop()
    return result


WARM_UP = 9_000_000  # conversation numbers of the warm-up ones, left out of every figure


async def _warm_up(
    http: httpx.AsyncClient, urls: dict[str, str], bots: list[tuple[Child, str]], turn: float
) -> None:
    """One instant conversation per replica, one replica after the other, before anything is
    measured: the workspace's backend token is fetched once and stored (replicas started
    together would race for it: the loser's 429 waits JUPITER_RETRY_AFTER_SECONDS, 30 s, a
    cold-start stall this benchmark reports but does not measure), connections are opened,
    code paths warmed. The backend's turns are instant meanwhile (`/_sim/faults`)."""
    faults = f"{urls['backend']}/_sim/faults"
    (await http.post(faults, json={"turn_seconds": 0})).raise_for_status()
    response_url = urls["slack"].replace("/api/", "/respond/") + "warm-up"
    for r, (_, url) in enumerate(bots):
        body = command_body(WARM_UP + r, response_url)
        await http.post(f"{url}/slack/events", content=body.encode(), headers=signed(body))
        for _ in range(900):  # 90 s at most
            if (await http.get(f"{urls['control']}/summary")).json()["answered"] > r:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"the warm-up conversation of replica {r} was not answered")
    await asyncio.sleep(HEARTBEAT)  # its trailing calls (status off)
    (await http.post(faults, json={"turn_seconds": turn})).raise_for_status()


async def _drive(
    n: int,
    result: LoadResult,
    fakes: Child,
    urls: dict[str, str],
    bots: list[tuple[Child, str]],
    limit: float,
    profile: str | None,
) -> None:
    pids = [bot.pid for bot, _ in bots]
    result.rss_at_start_mb = max(status_mb(pid, "VmRSS") for pid in pids)
    peak = [0.0] * len(pids)
    probe_times: list[float] = []
    health_times: list[float] = []
    stop = asyncio.Event()
    response_url = urls["slack"].replace("/api/", "/respond/") + "bench"
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        await _warm_up(http, urls, bots, result.turn_seconds)
        summary = (await http.get(f"{urls['control']}/summary")).json()
        fakes_cpu0, answered0 = summary["cpu"], summary["answered"]
        cpu0 = [cpu_seconds(pid) for pid in pids]
        driver0 = time.process_time()
        ticks0 = machine_ticks()
        sampler = asyncio.create_task(_rss_sampler(pids, peak, stop))
        probe = asyncio.create_task(_probe(f"{bots[0][1]}/livez", probe_times, stop))
        health = asyncio.create_task(_probe(f"{bots[0][1]}/healthz", health_times, stop, 0.5))
        profiler = None
        if profile:
            profiler = await asyncio.create_subprocess_shell(
                profile.format(pid=pids[0]),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        posted: dict[str, float] = {}
        acks: list[float] = []
        failed = 0
        # The POSTs go through aiohttp's pool: httpcore's walks its connections and waiting
        # requests on every request and release, which for 1,000 POSTs cost this driver as
        # much CPU as the bot and starved the bot of the machine's second core.
        sender = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100), timeout=aiohttp.ClientTimeout(total=60)
        )

        async def post(i: int) -> None:
            nonlocal failed
            body = command_body(i, response_url)
            target = bots[i % len(bots)][1]
            started = time.time()
            posted[f"C{i:07d}"] = started
            try:
                async with sender.post(
                    f"{target}/slack/events", data=body.encode(), headers=signed(body)
                ) as answer:
                    await answer.read()
                    if answer.status != 200:
                        failed += 1
            except (aiohttp.ClientError, TimeoutError):
                failed += 1
            acks.append(time.time() - started)

        started = time.time()
        async with sender:
            await asyncio.gather(*(post(i) for i in range(n)))
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            summary = (await http.get(f"{urls['control']}/summary")).json()
            if summary["answered"] - answered0 >= n:
                break
            await asyncio.sleep(0.25)
        done_at = time.time()
        await asyncio.sleep(min(2.0, HEARTBEAT * 1.5))  # the trailing calls (status off)
        if profiler is not None:
            with contextlib.suppress(ProcessLookupError):
                profiler.send_signal(signal.SIGINT)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(60):
                    await profiler.wait()
        cpu1 = [cpu_seconds(pid) for pid in pids]
        result.driver_cpu_seconds = time.process_time() - driver0
        ticks1 = machine_ticks()
        summary = (await http.get(f"{urls['control']}/summary")).json()
        rows = (await http.get(f"{urls['control']}/calls", timeout=120)).json()
        stop.set()
        await sampler
        await probe
        await health
    wall = done_at - started
    result.wall_seconds = wall
    result.acks_failed = failed
    result.ack_p99 = percentile(acks, 0.99)
    result.bot_cpu_seconds = sum(cpu1) - sum(cpu0)
    result.bot_cpu_ms_per_conversation = result.bot_cpu_seconds / n * 1000
    result.bot_cpu_share = max(b - a for a, b in zip(cpu0, cpu1, strict=True)) / max(wall, 1e-9)
    result.fakes_cpu_seconds = summary["cpu"] - fakes_cpu0
    result.fakes_cpu_share = result.fakes_cpu_seconds / max(wall, 1e-9)
    busy, total = ticks1[0] - ticks0[0], ticks1[1] - ticks0[1]
    result.machine_busy = busy / total if total else 0.0
    result.peak_rss_mb = max(
        max(status_mb(pid, "VmHWM") for pid in pids),
        max(peak),
    )
    result.livez_p99_ms = percentile(probe_times, 0.99) * 1000
    result.livez_max_ms = max(probe_times, default=0) * 1000
    result.healthz_p99_ms = percentile(health_times, 0.99) * 1000
    _per_conversation(result, rows, posted)


def _per_conversation(result: LoadResult, rows: list[list[Any]], posted: dict[str, float]) -> None:
    user_of = {f"U{key[1:]}": key for key in posted}
    by_key: dict[str, list[tuple[float, str, bool]]] = collections.defaultdict(list)
    for at, method, key, answer in rows:
        key = user_of.get(key, key)
        if key in posted:
            by_key[key].append((at, method, answer))
    answers: list[float] = []
    firsts: list[float] = []
    turn_calls: list[int] = []
    worst = (0.0, "")
    methods: collections.Counter[str] = collections.Counter()
    for key, sent in posted.items():
        calls = sorted(by_key.get(key, []))
        methods.update(m for _, m, _ in calls)
        done = next((at for at, _, answer in calls if answer), None)
        if done is None:
            continue
        answers.append(done - sent)
        # the turn's calls: all but users.info and the /video root (the first postMessage)
        in_turn = [c for c in calls if c[1] != "users.info"]
        root = next((c for c in in_turn if c[1] == "chat.postMessage"), None)
        if root is not None:
            in_turn.remove(root)
        if in_turn:
            firsts.append(in_turn[0][0] - sent)
            intervals = int((done - in_turn[0][0]) // HEARTBEAT)
            turn_calls.append(len(in_turn))
            ratio = len(in_turn) / (4 + intervals)
            if ratio > worst[0]:
                mix = collections.Counter(m for _, m, _ in in_turn)
                shown = ", ".join(f"{m} {c}" for m, c in sorted(mix.items()))
                order = " ".join(
                    f"{m.split('.')[-1]}{'*' if a else ''}@{at - in_turn[0][0]:.1f}"
                    for at, m, a in in_turn
                )
                worst = (
                    ratio,
                    f"{len(in_turn)} calls in {intervals} intervals: {shown}; {order}",
                )
    n = result.n
    result.answered = len(answers)
    result.answer_p50 = median(answers)
    result.answer_p99 = percentile(answers, 0.99)
    result.answer_last = max(answers, default=0.0)
    result.first_reply_p50 = median(firsts)
    result.calls_per_turn_p50 = median(turn_calls)
    result.calls_budget_worst, result.calls_worst_note = worst
    result.methods_per_conversation = {m: round(c / n, 2) for m, c in sorted(methods.items())}


# -- rows -----------------------------------------------------------------------------------


def rows(r: LoadResult) -> list[Row]:
    turn = r.turn_seconds
    bench = "slack_load"
    mix = ", ".join(f"{m} {c:g}" for m, c in r.methods_per_conversation.items())
    context = f"(N={r.n}, {r.store}, turn {turn:g} s, heartbeat {HEARTBEAT:g} s; load avg {r.load})"
    return [
        Row(bench, f"conversations answered (of {r.n})", r.answered, r.n, "", "min", context),
        Row(
            bench,
            f"median answer / the turn ({turn:g} s)",
            r.answer_p50 / turn,
            1.5,
            "x",
            note=f"(median {r.answer_p50:.2f} s, p99 {r.answer_p99:.2f} s;"
            f" first reply p50 {r.first_reply_p50:.2f} s)",
        ),
        Row(
            bench,
            f"last answer / the turn ({turn:g} s)",
            r.answer_last / turn,
            2.0,
            "x",
            note=f"(last {r.answer_last:.2f} s; POST acks p99 {r.ack_p99 * 1000:.0f} ms,"
            f" {r.acks_failed} failed)",
        ),
        Row(
            bench,
            "bot CPU per conversation",
            r.bot_cpu_ms_per_conversation,
            7,
            "ms",
            note=f"({r.bot_cpu_seconds:.1f} s in {r.wall_seconds:.1f} s = {r.bot_cpu_share:.0%}"
            f" of a core; the fakes' process used {r.fakes_cpu_seconds:.1f} s, this driver"
            f" {r.driver_cpu_seconds:.1f} s; the machine's"
            f" CPUs {r.machine_busy:.0%} busy)",
        ),
        Row(
            bench,
            f"bot peak RSS at {r.n}",
            r.peak_rss_mb,
            250,
            "MB",
            note=f"(VmHWM; at start {r.rss_at_start_mb:.0f} MB)",
        ),
        Row(
            bench,
            "Web API calls / (4 + heartbeat intervals), worst turn",
            r.calls_budget_worst,
            1.0,
            "x",
            note=f"({r.calls_worst_note}; median {r.calls_per_turn_p50:g} calls per turn)",
        ),
        Row(
            bench,
            "Web API calls per conversation",
            sum(r.methods_per_conversation.values()),
            None,
            "",
            "",
            f"({mix})",
        ),
        Row(
            bench,
            "bot /livez response p99 (loop-lag proxy)",
            r.livez_p99_ms,
            None,
            "ms",
            "",
            f"(max {r.livez_max_ms:.0f} ms; /healthz, which pings the store, p99"
            f" {r.healthz_p99_ms:.0f} ms)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.slack_load")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--turn-seconds", type=float, default=5.0)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--profile", default=None, help="shell command run with {pid} of the bot")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--raw", type=Path, default=None, help="write the LoadResult as JSON")
    args = parser.parse_args()

    async def run() -> LoadResult:
        if not args.postgres:
            return await load(
                args.n, turn_seconds=args.turn_seconds, replicas=args.replicas,
                profile=args.profile,
            )  # fmt: skip
        from tests.bench.pgserver import postgres

        async with postgres() as url:
            if url is None:
                raise SystemExit("PostgreSQL unavailable here")
            return await load(
                args.n, turn_seconds=args.turn_seconds, replicas=args.replicas,
                database_url=url, profile=args.profile,
            )  # fmt: skip

    started = time.monotonic()
    result = asyncio.run(run())
    out = rows(result)
    for row in out:
        limit = "" if row.limit is None else f" (limit {row.limit:g})"
        print(f"{row.bench}: {row.metric} = {row.value:.4g} {row.unit}{limit} {row.note}")
    print(f"limit that sets it: {result.limit()}")
    print(f"({time.monotonic() - started:.1f} s)")
    if args.raw is not None:
        args.raw.write_text(json.dumps(asdict(result), indent=1))
    if args.json is not None:
        body = {"seconds": time.monotonic() - started, "rows": [asdict(r) for r in out]}
        args.json.write_text(json.dumps(body))


if __name__ == "__main__":
    main()
