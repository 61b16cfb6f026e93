"""Listeners for Slack's agent surfaces: the native stop button, the App Home's two tabs, new
agent threads and the Settings modal.

What must hold:
- `agent_session_stopped` is "stop" for that thread (the engine cancels the turn, its queue and
  renders, and confirms in the thread) and moves the session away from `processing` at once;
  it is stored before it is acked, like every message (`process_before_response`);
- a Settings submission from anyone but a workspace admin is refused, whatever the modal says;
- the Home is published on its own task (`SlackThreads.refresh_home`), never inside Slack's
  3-second acknowledgement: uploading posters first (`posters.py`) may take longer.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bots.base.adapter import Engine
from core.language import reply_language
from core.messages import say
from core.port import Incoming

from .home import (
    SETTINGS_ACTION,
    SETTINGS_VIEW,
    HomeEngine,
    HomeStore,
    home_view,
    is_admin,
    save_settings,
    settings_view,
    suggested_prompts,
)
from .incoming import org_wide, thread_key
from .posters import HomePosters, PosterStore
from .thread import SlackThreads
from .words import SlackWords

log = logging.getLogger("jupiter.slack")


def _tenant(body: dict[str, Any]) -> str:
    return org_wide(body) or str(body.get("team_id") or (body.get("team") or {}).get("id") or "")


class SurfaceListeners:
    def __init__(self, engine: Engine, threads: SlackThreads) -> None:
        self._engine = engine
        self._threads = threads
        store = getattr(engine, "store", None)
        self._home: tuple[HomeEngine, HomeStore] | None = (
            (cast(HomeEngine, engine), cast(HomeStore, store)) if store is not None else None
        )
        self._posters = HomePosters(cast(PosterStore, store)) if store is not None else None

    async def on_session_stopped(self, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        channel, root = str(event.get("channel") or ""), str(event.get("thread_ts") or "")
        if not channel or not root:
            return
        key = thread_key(_tenant(body), channel, root)
        thread = self._threads(key, user=str(event.get("user") or ""))
        event_id = body.get("event_id")
        stop = Incoming(
            "stop",
            user=str(event.get("user") or ""),
            event_id=f"slack:{event_id}" if event_id else None,
        )
        await self._engine.handle(thread, stop)
        await thread.end_session()

    async def on_home_opened(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        event = body.get("event") or {}
        user, tenant = str(event.get("user") or ""), _tenant(body)
        client = self._threads.client_for(tenant)
        if event.get("tab") == "messages":
            channel = str(event.get("channel") or "")
            if channel:
                await _suggest(client, channel, None)
            return
        if event.get("tab") == "home" and user:
            self._threads.refresh_home(tenant, user)

    async def publish_home(self, tenant: str, user: str, language: str = "en") -> None:
        """Best effort: the Home view for `user`, refreshed after deliveries too."""
        if self._home is None:
            return
        client = self._threads.client_for(tenant)
        posters = self._posters
        try:
            admin = await is_admin(client, user)
            key = thread_key(tenant, "home", user)
            ids = (lambda videos: posters.file_ids(client, tenant, videos)) if posters else None
            view = await home_view(*self._home, key, user, admin, language, ids)
            if posters is not None:
                await posters.publish(client, tenant, user, view)
            else:
                await client.views_publish(user_id=user, view=view)
        except Exception as exc:
            log.info("home not published: %s", exc.__class__.__name__)

    async def on_thread_started(self, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        started = event.get("assistant_thread") or {}
        channel, root = started.get("channel_id"), started.get("thread_ts")
        if channel and root:
            await _suggest(self._threads.client_for(_tenant(body)), str(channel), str(root))

    async def on_settings(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id") or "")
        tenant = _tenant(body)
        client = self._threads.client_for(tenant)
        if self._home is None or not await is_admin(client, user):
            return
        defaults = await self._home[1].get_defaults("slack", tenant, "")
        await client.views_open(trigger_id=body["trigger_id"], view=settings_view(defaults, "en"))

    async def on_settings_submitted(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        user = str((body.get("user") or {}).get("id") or "")
        tenant = _tenant(body)
        client = self._threads.client_for(tenant)
        if self._home is None or not await is_admin(client, user):
            language = reply_language("", None)
            errors = {"token": say(SlackWords.ADMINS_ONLY, language)}
            await ack(response_action="errors", errors=errors)
            return
        await save_settings(*self._home, tenant, body.get("view") or {})
        await ack()
        await self.publish_home(tenant, user)


async def _suggest(client: Any, channel: str, thread_ts: str | None) -> None:
    try:
        await client.assistant_threads_setSuggestedPrompts(
            channel_id=channel, thread_ts=thread_ts, prompts=suggested_prompts()
        )
    except Exception as exc:  # a nicety: never fail an event over it
        log.info("suggested prompts not set: %s", exc.__class__.__name__)


def add_surfaces(app: AsyncApp, engine: Engine, threads: SlackThreads) -> SurfaceListeners:
    listeners = SurfaceListeners(engine, threads)
    threads.on_delivered = listeners.publish_home
    app.event("agent_session_stopped")(listeners.on_session_stopped)
    app.event("app_home_opened")(listeners.on_home_opened)
    app.event("assistant_thread_started")(listeners.on_thread_started)
    app.action(SETTINGS_ACTION)(listeners.on_settings)
    app.view(SETTINGS_VIEW)(listeners.on_settings_submitted)
    return listeners
