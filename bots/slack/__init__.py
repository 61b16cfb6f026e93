"""The Slack adapter: Bolt in, the engine's port out.

settings  SlackSettings, token patterns, SDK loggers (no SDK import: the console loads this)
incoming  Slack payloads -> ThreadKey + Incoming (pure)
handlers  the Bolt app: events, `/video`, button clicks -> engine calls
thread    SlackThread, the ChatThread the engine posts through
render    Reply -> Block Kit messages
client    the Web API client with its retry handlers
files     shared files, fetched from Slack's hosts only
app       `serve`: Socket Mode or HTTP (`/slack/events`, `/healthz`, `/metrics`)
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from bots.base.adapter import Adapter

from .settings import SlackSettings

if TYPE_CHECKING:
    from core.runtime import Runtime


def _arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--socket", action="store_true", help="Socket Mode (needs SLACK_APP_TOKEN)")
    mode.add_argument("--http", action="store_true", help="HTTP on JUPITER_HTTP_PORT")


async def _serve(rt: Runtime, settings: Any, args: argparse.Namespace) -> None:
    from .app import serve

    socket = (
        True
        if getattr(args, "socket", False)
        else (False if getattr(args, "http", False) else None)
    )
    await serve(rt, settings, socket=socket)


ADAPTER = Adapter(
    name="slack",
    summary="the Slack app",
    settings=SlackSettings,
    serve=_serve,
    serves_health=True,
    arguments=_arguments,
)
