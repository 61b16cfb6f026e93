"""The conversation engine: given "a message arrived in thread T", do the right thing, say it
well, and survive restarts. A thin facade over parts with one job each:

    intake.py     mend, deduplicate, route: answer at once or store a turn and queue it
    queue.py      one turn at a time per thread under a store lease (also across replicas)
    agent.py      an agent turn: stream, relay, heartbeat; reply.py says what happened
    answers.py    the agent's questions answered (typed or clicked), "Try again"
    lost.py       a lost stream watched through the state, never re-sent
    commands.py   help, credits, status, stop, uploads, exports (renders: core/renders.py)
    identity.py   credentials per tenant, a backend session per thread
    recovery.py   interrupted turns reported, queued turns and renders resumed
    voice.py      failures into friendly replies; context.py the frozen per-turn context

What must hold:
- Later messages are persisted as queued turns and run in order: never sent twice, never
  dropped. Status, credits and help answer at once, even while a turn runs; stop cancels.
- A turn that was running when the process died is reported as interrupted, not re-sent (the
  backend charges per turn). A queued turn that never started runs after the restart.
- A render's link is posted exactly once (see core/renders.py).
- Every failure becomes a friendly reply in the thread; the thread stays usable.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass

from core.client import Credentials, NemoClient
from core.engine.agent import GUI_USER, AgentTurn
from core.engine.answers import Answers
from core.engine.commands import Commands
from core.engine.context import Contexts
from core.engine.directory import ThreadDirectory
from core.engine.identity import Identities
from core.engine.intake import Intake
from core.engine.limits import Spending, UserSlots
from core.engine.queue import TurnQueue
from core.engine.recovery import Recovery
from core.engine.reply import BUTTONS
from core.engine.tasks import TaskSet
from core.engine.voice import Voice
from core.engine.workflow import Workflow
from core.metrics import Metrics
from core.models import Balance
from core.pacing import Lane, Pacer
from core.port import ChatThread, Incoming, ThreadKey, ThreadResolver
from core.renders import Renders
from core.store import Store
from core.store.base import Defaults

TASK_LINK_SECONDS = 3.0


@dataclass(frozen=True)
class EngineConfig:
    heartbeat_seconds: float = 120.0
    render_poll_seconds: float = 30.0
    render_timeout_seconds: float = 300.0
    lease_seconds: float = 60.0
    language: str = "en"
    nemo_token: str | None = None
    max_queued_per_thread: int = 5
    max_turns_per_user: int = 3
    user_daily_credits: int | None = None
    web_url: str = "https://nemovideo.com"  # NEMO_WEB_URL: task detail links
    recovery_seconds: float = 30.0  # JUPITER_RECOVERY_SECONDS: first wait after a lost stream


class Engine:
    def __init__(
        self,
        client: NemoClient,
        store: Store,
        config: EngineConfig | None = None,
        metrics: Metrics | None = None,
        owner: str | None = None,
    ) -> None:
        self.config = config = config or EngineConfig()
        self.store = store
        self.metrics = metrics = metrics or Metrics()
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._supervisor: asyncio.Task[None] | None = None
        self._wire_state(client, store, config, metrics)
        self._wire_turns(client, store, config, metrics)

    def _wire_state(
        self, client: NemoClient, store: Store, config: EngineConfig, metrics: Metrics
    ) -> None:
        """The parts that hold state: tasks, threads, identities, renders, recovery."""
        self.tasks = TaskSet()
        self.pacer = pacer = Pacer()  # oldest first through the busy phases when the loop lags
        metrics.paced.set_function(lambda: pacer.waiting)
        metrics.pace_limit.set_function(lambda: pacer.limit)
        self.directory = ThreadDirectory()
        self.identities = Identities(
            client,
            store,
            nemo_token=config.nemo_token,
            language=config.language,
            web_url=config.web_url,
        )
        self.voice = Voice(self.identities)
        self.contexts = Contexts(store)
        self.renders = Renders(
            client=client,
            store=store,
            metrics=metrics,
            directory=self.directory,
            identities=self.identities,
            tasks=self.tasks,
            owner=self.owner,
            poll_seconds=config.render_poll_seconds,
            timeout_seconds=config.render_timeout_seconds,
            lease_seconds=config.lease_seconds,
        )
        self.recovery = Recovery(
            store, self.directory, self.renders, metrics, lease_seconds=config.lease_seconds
        )

    def _wire_turns(
        self, client: NemoClient, store: Store, config: EngineConfig, metrics: Metrics
    ) -> None:
        """The parts that run messages: the queue, commands, the agent turn, intake."""
        voice = self.voice
        answers = Answers(store)
        workflow = Workflow(store, self.contexts)
        spending = Spending(client, store, self.identities, daily_budget=config.user_daily_credits)
        self.queue = TurnQueue(
            store,
            self.directory,
            voice,
            metrics,
            owner=self.owner,
            lease_seconds=config.lease_seconds,
            execute=lambda ctx, turn: self.intake.execute(ctx, turn),
            interrupted=self.recovery.tell_interrupted,
            contexts=self.contexts,
            pacer=self.pacer,
        )
        self.recovery.queue = self.queue
        commands = Commands(
            client,
            store,
            self.identities,
            self.renders,
            voice,
            self.queue.cancel_running,
            workflow,
            spending,
        )
        agent = AgentTurn(
            client,
            store,
            self.identities,
            heartbeat_seconds=config.heartbeat_seconds,
            export=commands.export,
            workflow=workflow,
            spending=spending,
            slots=UserSlots(config.max_turns_per_user),
            answers=answers,
            recovery_seconds=config.recovery_seconds,
            pacer=self.pacer,
        )
        self.intake = Intake(
            store,
            self.directory,
            self.queue,
            commands,
            workflow,
            agent,
            voice,
            self.tasks,
            metrics,
            self.contexts,
            answers,
            max_queued=config.max_queued_per_thread,
        )

    def register(self, platform: str, resolver: ThreadResolver) -> None:
        """How to reach a thread of `platform` without an incoming message (resumed work)."""
        self.directory.register(platform, resolver)
        if self._supervisor is not None:
            self.tasks.spawn(self.recovery.recover(platform), f"recover {platform}")

    async def start(self) -> None:
        """Resume what a previous process left: interrupted turns, queued turns, renders."""
        for platform in self.directory.platforms:
            await self.recovery.recover(platform)
        self._supervisor = asyncio.create_task(self.recovery.supervise(), name="jupiter-supervisor")

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        await asyncio.gather(
            *(t for t in (self._supervisor,) if t is not None),
            self.queue.stop(),
            self.tasks.stop(),
            return_exceptions=True,
        )
        await self.pacer.close()

    async def handle(self, thread: ChatThread, incoming: Incoming) -> None:
        """Take one message. Returns quickly: the work runs on the engine's own tasks. Paced
        as urgent (`core.pacing`): a burst is stored in batches the loop can breathe between."""
        async with self.pacer.hold(lane=Lane.URGENT):
            await self.intake.handle(thread, incoming)

    async def idle(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until no turn, render or reply is pending (for tests and piped consoles)."""
        async with asyncio.timeout(timeout):
            while pending := [*self.queue.workers.pending(), *self.tasks.pending()]:
                await asyncio.wait(pending)

    async def is_bot_thread(self, key: ThreadKey) -> bool:
        row = await self.store.get_thread(key)
        return row is not None and (row.session_id is not None or self.queue.busy(key))

    async def credentials(self, key: ThreadKey) -> Credentials:
        return await self.identities.credentials(key)

    async def defaults(self, platform: str, tenant: str, user: str) -> Defaults:
        """One user's own defaults for new videos as stored (user `""`: the workspace's)."""
        return await self.store.get_defaults(platform, tenant, user)

    async def save_defaults(self, platform: str, tenant: str, user: str, value: Defaults) -> None:
        """Store defaults set outside a conversation (a settings form) and drop the cached
        copies, so the sender's next message uses them (a workspace's: every member's)."""
        await self.store.put_defaults(platform, tenant, user, value)
        self.contexts.forget(ThreadKey(platform, tenant, "", ""), user or None)

    async def balance(self, key: ThreadKey) -> Balance:
        """The tenant's credits, for surfaces that show them outside a thread (a home page)."""
        return await self.identities.client.balance(await self.credentials(key))

    async def task_link(self, key: ThreadKey) -> str | None:
        """The conversation's task detail link (renewed when expired), or None; bounded in time
        for surfaces that list many conversations (a home page)."""
        try:
            async with asyncio.timeout(TASK_LINK_SECONDS):
                return await self.identities.task_link(key)
        except TimeoutError:
            return None

    async def set_tenant_token(self, platform: str, tenant: str, token: str | None) -> None:
        """A tenant's own backend token (encrypted at rest, never shown back); None clears it."""
        await self.identities.set_fixed_token(platform, tenant, token)


__all__ = ["BUTTONS", "GUI_USER", "Engine", "EngineConfig"]
