"""The plug-in seam: what an adapter declares, and the slice of the engine it may call.

An adapter is a folder under `bots/` whose `__init__` exposes `ADAPTER`, an `Adapter` value
(importing it must not import the platform's SDK: the console never loads one), and one line
in `bots/cli.py`'s table. The command line reads its settings class, registers its token
patterns with `core.redact` and its SDK loggers with `core.logs` before anything runs, gives it
a subcommand, and starts it from `jupiter run` when its settings are present.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from core.pacing import Pacer
from core.port import ChatThread, Incoming, Reply, ReplyKind, ThreadKey, ThreadResolver
from core.settings import SettingsBase

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("jupiter.adapter")


class Engine(Protocol):
    """The part of `core.engine.Engine` adapters use: hand over a message, ask who owns a
    thread, register the resolver that rebuilds threads after a restart; its pacer paces an
    adapter's own busy work after an ack (see `core.pacing`)."""

    pacer: Pacer

    async def handle(self, thread: ChatThread, incoming: Incoming) -> None: ...

    async def is_bot_thread(self, key: ThreadKey) -> bool: ...

    def register(self, platform: str, resolver: ThreadResolver) -> None: ...


async def tell_not_stored(thread: ChatThread, incoming: Incoming) -> None:
    """The message was acknowledged already but the store refused it (`NotStored`): the one
    thing left is to say so in the thread, so the user sends it again. Never raises."""
    from core.language import reply_language
    from core.messages import Msg, say

    text = say(Msg.ERR_NOT_STORED, reply_language(incoming.text, incoming.locale))
    try:
        await thread.post(Reply(ReplyKind.ERROR, text))
    except Exception as exc:
        log.warning("could not say a message was not stored: %s", exc.__class__.__name__)


class AdapterSettings(SettingsBase):
    """An adapter's own settings; `configured` says whether `jupiter run` should start it.

    The class also names the platform's token shapes (`secret_patterns`, regexes masked in
    logs and chat) and its SDK's loggers (`loggers`, quieted to WARNING).
    """

    secret_patterns: ClassVar[tuple[str, ...]] = ()
    loggers: ClassVar[tuple[str, ...]] = ()

    @property
    def configured(self) -> bool:
        return False


Serve = Callable[["Runtime", Any, argparse.Namespace], Awaitable[None]]
"""Start the adapter on a runtime with its settings and the subcommand's options; run until
cancelled. A `SettingsError` it raises becomes exit status 2 with its one line."""


@dataclass(frozen=True, slots=True)
class Adapter:
    name: str  # the subcommand, and the `ThreadKey.platform` it registers
    summary: str  # the subcommand's help line
    settings: type[AdapterSettings]
    serve: Serve
    serves_health: bool = False  # answers /healthz and /metrics on JUPITER_HTTP_PORT itself
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
