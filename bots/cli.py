"""The `jupiter` command line. Exit codes: 0 ok, 2 bad usage or settings, 1 other failure.

User errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from core import __version__
from core.settings import Settings, SettingsError, load_settings

log = logging.getLogger("jupiter")
OFFLINE_CREDITS = 1000


def _parser() -> argparse.ArgumentParser:
    from core.sim import add_fault_arguments

    parser = argparse.ArgumentParser(
        prog="jupiter", description="NemoVideo text-to-video in Slack, Discord and the terminal."
    )
    parser.add_argument("--version", action="version", version=f"jupiter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start every configured adapter (console when none)")
    run.add_argument("--offline", action="store_true", help="use the built-in local backend")
    run.add_argument("--out", default="videos", help="where the console saves videos")
    console = commands.add_parser("console", help="chat in the terminal")
    console.add_argument("--offline", action="store_true", help="use the built-in local backend")
    console.add_argument("--out", default="videos", help="where finished videos are saved")
    slack = commands.add_parser("slack", help="the Slack app")
    mode = slack.add_mutually_exclusive_group()
    mode.add_argument("--socket", action="store_true", help="Socket Mode (needs SLACK_APP_TOKEN)")
    mode.add_argument("--http", action="store_true", help="HTTP on JUPITER_HTTP_PORT")
    slack.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)
    discord = commands.add_parser("discord", help="the Discord bot")
    discord.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)
    sim = commands.add_parser("sim", help="the local NemoVideo-compatible backend")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8790)
    sim.add_argument("--seed", type=int, default=None)
    add_fault_arguments(sim)
    return parser


@contextlib.asynccontextmanager
async def _backend(offline: bool) -> AsyncIterator[str | None]:
    """With --offline, the local backend runs in-process on a free loopback port."""
    if not offline:
        yield None
        return
    from core.sim import Faults, LocalBackend

    # A demo should survive a few edits: the offline backend starts with 1,000 credits
    # instead of the real service's 100 per anonymous token, and its anonymous tokens may render
    # (the real service's need a paid plan: 402). `jupiter sim` stays faithful.
    faults = Faults(credits=OFFLINE_CREDITS, anonymous_render=True)
    async with LocalBackend(faults=faults) as sim:
        log.info("offline: local backend started", extra={"url": sim.base_url})
        yield sim.base_url


async def _with_runtime(
    settings: Settings, offline: bool, work: Callable[[Any], Awaitable[int]]
) -> int:
    from core.runtime import Runtime

    async with _backend(offline) as base_url, Runtime.open(settings, base_url=base_url) as rt:
        return await work(rt)


async def _console(settings: Settings, args: argparse.Namespace) -> int:
    from bots.console import chat

    out = Path(args.out)
    return await _with_runtime(settings, args.offline, lambda rt: chat(rt, out))


async def _slack(settings: Settings, args: argparse.Namespace) -> int:
    from bots.slack.server import serve

    socket = True if args.socket else (False if args.http else None)

    async def work(rt: Any) -> int:
        await serve(rt, socket=socket)
        return 0

    return await _with_runtime(settings, args.offline, work)


async def _discord(settings: Settings, args: argparse.Namespace) -> int:
    from bots.discord.bot import serve

    async def work(rt: Any) -> int:
        from bots.health import alongside

        await alongside(serve(rt), rt, settings.http_port)
        return 0

    return await _with_runtime(settings, args.offline, work)


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.slack_configured and not settings.discord_configured:
        return await _console(settings, args)

    async def work(rt: Any) -> int:
        services: list[Awaitable[None]] = []
        if settings.slack_configured:
            from bots.slack.server import serve as serve_slack

            services.append(serve_slack(rt))
        if settings.discord_configured:
            from bots.discord.bot import serve as serve_discord
            from bots.health import alongside

            discord = serve_discord(rt)
            # the Slack server already answers /healthz and /metrics on the port
            services.append(discord if services else alongside(discord, rt, settings.http_port))
        await asyncio.gather(*services)
        return 0

    return await _with_runtime(settings, args.offline, work)


async def _sim(args: argparse.Namespace) -> int:
    from core.sim import faults_from_args, serve_forever

    await serve_forever(args.host, args.port, args.seed, faults_from_args(args))
    return 0


async def _until_terminated(work: Coroutine[Any, Any, int]) -> int:
    """SIGTERM (containers, systemd) shuts down like Ctrl-C: work is cancelled, resources close
    in order, leases are released for the next process."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        if task.cancelled():
            log.info("terminated")
            return 0
        raise


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"jupiter: {exc}", file=sys.stderr)
        return 2
    from core.logs import setup_logging

    setup_logging(settings.log_level)
    commands: dict[str, Callable[[], Coroutine[Any, Any, int]]] = {
        "console": lambda: _console(settings, args),
        "run": lambda: _run(settings, args),
        "slack": lambda: _slack(settings, args),
        "discord": lambda: _discord(settings, args),
        "sim": lambda: _sim(args),
    }
    try:
        return asyncio.run(_until_terminated(commands[args.command]()))
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
