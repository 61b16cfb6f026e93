"""The `jupiter` command line. Exit codes: 0 ok, 2 bad usage or settings, 1 other failure.

User errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from bots.base.adapter import Adapter, AdapterSettings
from core import __version__
from core.settings import Settings, SettingsError, load, load_settings

log = logging.getLogger("jupiter")
OFFLINE_CREDITS = 1000
OFFLINE_PACE = {"render_poll_seconds": 0.5, "heartbeat_seconds": 1.0}
"""--offline: the local backend renders in about 2 s, so it is polled at its own pace (the real
service's 30 s poll would make every demo export wait half a minute); a value the user set wins."""
LOG_FILE = "jupiter.log"
INTERRUPT_GRACE_SECONDS = 1.5  # Ctrl-C: clean-up that takes longer is cut short (like a kill)

ADAPTERS: dict[str, str] = {
    "slack": "bots.slack",
    "discord": "bots.discord",
}
"""The registration table: subcommand -> the package whose `ADAPTER` plugs it in. Adding a
platform is a folder under `bots/` and one line here."""


def adapters() -> list[Adapter]:
    """Every registered adapter, in table order (importing one loads no platform SDK)."""
    found = []
    for name, module in ADAPTERS.items():
        adapter: Adapter = importlib.import_module(module).ADAPTER
        assert adapter.name == name, f"{module} registers {adapter.name!r}, not {name!r}"
        found.append(adapter)
    return found


def register_secrets() -> None:
    """Every adapter's token shapes are masked in logs and chat before anything runs."""
    from core.redact import register_secret_patterns

    for adapter in adapters():
        register_secret_patterns(*adapter.settings.secret_patterns)


def _parser() -> argparse.ArgumentParser:
    from core.sim import add_fault_arguments

    parser = argparse.ArgumentParser(
        prog="jupiter", description="NemoVideo text-to-video in chat and the terminal."
    )
    parser.add_argument("--version", action="version", version=f"jupiter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start every configured adapter (console when none)")
    run.add_argument("--offline", action="store_true", help="use the built-in local backend")
    run.add_argument("--out", default="videos", help="where the console saves videos")
    console = commands.add_parser("console", help="chat in the terminal")
    console.add_argument("--offline", action="store_true", help="use the built-in local backend")
    console.add_argument("--out", default="videos", help="where finished videos are saved")
    for chat in (run, console):
        chat.add_argument(
            "--verbose", action="store_true", help=f"console: logs on stderr, not in ./{LOG_FILE}"
        )
    for adapter in adapters():
        sub = commands.add_parser(adapter.name, help=adapter.summary)
        if adapter.arguments is not None:
            adapter.arguments(sub)
        sub.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)
    sim = commands.add_parser("sim", help="the local NemoVideo-compatible backend")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8790)
    sim.add_argument("--seed", type=int, default=None)
    add_fault_arguments(sim)
    return parser


@contextlib.asynccontextmanager
async def _backend(offline: bool) -> AsyncIterator[tuple[str, str] | None]:
    """With --offline, the local backend runs in-process on a free loopback port; yields its
    URL and a render-scoped API token minted from it."""
    if not offline:
        yield None
        return
    import httpx

    from core.sim import Faults, LocalBackend

    # A demo should survive a few edits: the offline backend starts with 1,000 credits instead
    # of the real service's 100. It talks as a deployment with its own NEMO_TOKEN does (an API
    # token with the `render` scope), so exports work as they would there: anonymous tokens
    # answer 402 on export, on the real service as on `jupiter sim`.
    faults = Faults(credits=OFFLINE_CREDITS)
    async with LocalBackend(faults=faults) as sim:
        async with httpx.AsyncClient() as http:
            minted = await http.post(f"{sim.base_url}/_sim/api-token")
        token = str(minted.raise_for_status().json()["data"]["token"])
        log.info("offline: local backend started", extra={"url": sim.base_url})
        yield sim.base_url, token


async def _with_runtime(
    settings: Settings, offline: bool, work: Callable[[Any], Awaitable[int]]
) -> int:
    from pydantic import SecretStr

    from core.runtime import Runtime

    async with _backend(offline) as local:
        base_url = None
        if local is not None:
            base_url = local[0]  # the local backend knows only the token it minted
            settings = settings.model_copy(update={"nemo_token": SecretStr(local[1])})
        async with Runtime.open(settings, base_url=base_url) as rt:
            return await work(rt)


async def _console(settings: Settings, args: argparse.Namespace) -> int:
    from bots.console import chat

    out = Path(args.out)
    log_file: Path | None = getattr(args, "log_file", None)
    return await _with_runtime(settings, args.offline, lambda rt: chat(rt, out, log_file=log_file))


Configured = list[tuple[Adapter, AdapterSettings]]


async def _serve(settings: Settings, args: argparse.Namespace, chosen: Configured) -> int:
    """Run the chosen adapters side by side; `/healthz` is served once, by an adapter that
    answers it itself or else beside them."""

    async def work(rt: Any) -> int:
        from bots.health import alongside

        services = [adapter.serve(rt, config, args) for adapter, config in chosen]
        together: Awaitable[Any] = asyncio.gather(*services)
        if not any(adapter.serves_health for adapter, _ in chosen):
            together = alongside(together, rt, settings.http_port, settings.http_host)
        await together
        return 0

    return await _with_runtime(settings, args.offline, work)


async def _run(settings: Settings, args: argparse.Namespace, every: Configured) -> int:
    chosen = [(adapter, config) for adapter, config in every if config.configured]
    if not chosen:
        return await _console(settings, args)
    return await _serve(settings, args, chosen)


async def _sim(args: argparse.Namespace) -> int:
    from core.sim import faults_from_args, serve_forever

    await serve_forever(args.host, args.port, args.seed, faults_from_args(args))
    return 0


def _exit_now(status: int) -> None:
    """Cut clean-up short, as a kill would: what a restart resumes is already in the store."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


async def _until_terminated(work: Coroutine[Any, Any, int]) -> int:
    """SIGTERM (containers, systemd) and Ctrl-C shut down the same way: work is cancelled,
    resources close in order, leases are released for the next process. Ctrl-C exits 130 and
    within `INTERRUPT_GRACE_SECONDS` (a second Ctrl-C at once): a person is waiting."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def stop(signum: int) -> None:
        if received:
            _exit_now(128 + signum)
        received.append(signum)
        task.cancel()
        if signum == signal.SIGINT:
            loop.call_later(INTERRUPT_GRACE_SECONDS, _exit_now, 130)

    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop, signum)
    try:
        return await task
    except asyncio.CancelledError:
        if task.cancelled():
            log.info("terminated")
            return 130 if received == [signal.SIGINT] else 0
        raise


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop (libuv; a third less CPU per turn than asyncio's at a thousand
    concurrent turns, see tests/bench/RESULTS.md) where it is installed, else asyncio's."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:  # not built for this platform: asyncio's loop does the same work
            return None
        return uvloop.new_event_loop
    return None


def offline_pace(settings: Settings) -> Settings:
    """`OFFLINE_PACE` for what the user left at its default."""
    pace = {k: v for k, v in OFFLINE_PACE.items() if k not in settings.model_fields_set}
    return settings.model_copy(update=pace)


def _log_file(args: argparse.Namespace, every: Configured) -> Path | None:
    """A console on a terminal logs to a file, so no log line lands among the chat lines;
    piped, or with --verbose, logs stay on stderr."""
    chatting = args.command == "console" or (
        args.command == "run" and not any(config.configured for _, config in every)
    )
    if not chatting or args.verbose or not sys.stdin.isatty():
        return None
    return Path(LOG_FILE).resolve()


def _start_checks(settings: Settings, args: argparse.Namespace, every: Configured) -> None:
    """Unknown setting names and a surprising database path, said once; logged, and on the
    screen too when the logs go to a file."""
    from bots.startup import check_database, known_names, unknown_settings

    said = check_database(settings.database_url)
    said += unknown_settings(known_names([Settings, *(type(config) for _, config in every)]))
    for line in said:
        log.warning(line)
        if args.log_file is not None:
            print(f"jupiter: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    register_secrets()
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        every: Configured = [(adapter, load(adapter.settings)) for adapter in adapters()]
    except SettingsError as exc:
        print(f"jupiter: {exc}", file=sys.stderr)
        return 2
    from core.logs import setup_logging

    args.log_file = _log_file(args, every)
    quiet = [name for a in adapters() for name in a.settings.loggers]
    try:
        setup_logging(settings.log_level, quiet, path=args.log_file)
    except OSError:  # a read-only working directory: the logs go to the temp folder instead
        args.log_file = Path(tempfile.gettempdir()) / LOG_FILE
        setup_logging(settings.log_level, quiet, path=args.log_file)
    try:
        _start_checks(settings, args, every)
    except SettingsError as exc:
        print(f"jupiter: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "offline", False):
        settings = offline_pace(settings)
    commands: dict[str, Callable[[], Coroutine[Any, Any, int]]] = {
        "console": lambda: _console(settings, args),
        "run": lambda: _run(settings, args, every),
        "sim": lambda: _sim(args),
    }
    for adapter, config in every:
        commands[adapter.name] = functools.partial(_serve, settings, args, [(adapter, config)])
    try:
        from core.runtime import tune_gc

        tune_gc()
        with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
            return runner.run(_until_terminated(commands[args.command]()))
    except KeyboardInterrupt:
        return 130
    except SettingsError as exc:
        print(f"jupiter: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"jupiter: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a last line of defence: one line, no traceback
        log.debug("fatal", exc_info=True)
        print(f"jupiter: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
