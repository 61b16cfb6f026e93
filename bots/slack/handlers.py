"""The Bolt app's handlers: Slack's events, the `/video` command and button clicks, handed to the engine.

Why it is shaped this way:
- Slack gives an app 3 seconds to acknowledge, then retries and eventually shows the user an
  error. Never acknowledge what was not stored: Bolt answers after the listener returns
  (`process_before_response=True`), and events and clicks are handed to the engine, whose
  `handle` only stores the message (the turn runs on the engine's tasks), before that answer.
  A store that refuses (`NotStored`) makes the answer a 500, so Slack redelivers the event
  (in Socket Mode: no ack, the same). The users.info locale look-up on that path is bounded
  (`LOCALE_SECONDS`) to keep inside the 3 s.
- `/video` must be acked before its thread exists (the root message is posted first), so it is
  acked at once and the rest runs on its own task (Bolt's lazy listeners would deep-copy the
  request, client included); if the store refuses then, the thread says so.
- Slack redelivers an event that was not acknowledged in time; the engine deduplicates by the
  `event_id` this adapter puts on every `Incoming`.
- Files are handed to the engine as they are: it checks type and size (`core.files`) once,
  the same way for every platform, before anything is downloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.base.adapter import Engine, tell_not_stored
from core.files import ACCEPTED_TYPES
from core.language import reply_language, words_language
from core.messages import say
from core.port import NotStored

from .incoming import (
    OPEN_VIDEO_ACTION,
    Command,
    Routed,
    from_action,
    from_command,
    from_mention,
    from_message,
)
from .render import escape, root_message
from .settings import SlackSettings
from .surfaces import add_surfaces
from .thread import SlackThreads, slack_error
from .words import SlackWords

log = logging.getLogger("jupiter.slack")

LOCALE_WAIT_SECONDS = 1.0  # a `/video` is acked within Slack's 3 seconds, locale or not

_NOT_POSTABLE = {
    "not_in_channel": SlackWords.NOT_IN_CHANNEL,
    "channel_not_found": SlackWords.CHANNEL_NOT_FOUND,
    "is_archived": SlackWords.IS_ARCHIVED,
    "restricted_action": SlackWords.RESTRICTED_ACTION,
}


def usage(language: str = "en") -> str:
    """What `/video` alone answers, in `language`."""
    return say(SlackWords.USAGE, language, types=ACCEPTED_TYPES)


def not_postable(code: str, language: str = "en") -> str:
    """Why a `/video` thread could not be opened here, from Slack's error code."""
    key = _NOT_POSTABLE.get(code)
    if key is not None:
        return say(key, language)
    return say(SlackWords.NOT_POSTABLE, language, code=escape(code))


USAGE = usage()

_BUTTONS = re.compile(r"^jupiter_(export|status|credits|retry|answer_[0-9]{1,2})$")
LOCALE_SECONDS = 1.0


_NO_SUCH_USER = frozenset({"user_not_found", "user_not_visible"})  # known to have no locale


class UserLocales:
    """Users' Slack locales (`users.info`), cached; gives up for good if the app lacks users:read.

    One look-up per user at a time: callers asking while it is on its way wait for the same
    answer, and a caller that stops waiting (its time ran out) leaves the look-up running, so
    the answer is cached for the user's next message instead of being asked for again."""

    def __init__(self, client: AsyncWebClient, size: int = 2048) -> None:
        self._client = client
        self._size = size
        self._known: OrderedDict[str, str | None] = OrderedDict()
        self._asking: dict[str, asyncio.Task[str | None]] = {}  # at most one per user
        self._available = True

    def start(self, user: str, client: AsyncWebClient | None = None) -> None:
        """Begin looking `user` up, unless known or on its way (a `get` soon after waits less)."""
        if user and self._available and user not in self._known:
            self._asking_for(user, client)

    async def get(self, user: str, client: AsyncWebClient | None = None) -> str | None:
        """`client`: the user's team's (OAuth installs), else the app's one client."""
        if not user or not self._available:
            return None
        if user in self._known:
            self._known.move_to_end(user)
            return self._known[user]
        return await asyncio.shield(self._asking_for(user, client))

    def _asking_for(self, user: str, client: AsyncWebClient | None) -> asyncio.Task[str | None]:
        """The look-up of `user` on its way, begun now if none is."""
        task = self._asking.get(user)
        if task is None:
            task = asyncio.create_task(self._look_up(user, client), name="slack users.info")
            self._asking[user] = task
            task.add_done_callback(lambda _: self._asking.pop(user, None))
        return task

    async def _look_up(self, user: str, client: AsyncWebClient | None) -> str | None:
        locale: str | None = None
        try:
            answer = await (client or self._client).users_info(user=user, include_locale=True)
            found = (answer.get("user") or {}).get("locale")
            locale = str(found) if found else None
        except SlackApiError as exc:
            code = slack_error(exc)
            if code in {"missing_scope", "not_allowed_token_type", "no_permission"}:
                self._available = False
            if code not in _NO_SUCH_USER:  # anything else may answer next time
                log.debug("users.info failed: %s", code)
                return None
        except Exception as exc:  # a locale is a nicety; never fail a turn over it
            log.debug("users.info failed: %s", exc.__class__.__name__)
            return None
        self._known[user] = locale
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return locale


class Listeners:
    """What Bolt calls: each acks first (Slack's 3 seconds), then hands over to the engine."""

    def __init__(self, engine: Engine, threads: SlackThreads) -> None:
        self._engine = engine
        self._threads = threads
        self._client = threads.client
        self._locales = UserLocales(threads.client)
        self._opening: set[asyncio.Task[None]] = set()  # /video threads being opened

    async def deliver(self, routed: Routed) -> None:
        if routed.needs_owner and not await self._engine.is_bot_thread(routed.key):
            return
        incoming = routed.incoming
        thread = self._threads(routed.key, user=incoming.user, prompt=incoming.text)
        if incoming.locale is None and incoming.user:
            locale = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LOCALE_SECONDS):
                    client = self._threads.client_for(routed.key.tenant)
                    locale = await self._locales.get(incoming.user, client)
            incoming = replace(incoming, locale=locale)
        await self._engine.handle(thread, incoming)

    async def _language(self, text: str, user: object, client: AsyncWebClient | None) -> str:
        """The language the adapter answers a command in itself: the words, else the user's
        Slack locale (waited for briefly: the ack is due within 3 seconds), asked with
        `client` (the user's team's)."""
        decided = words_language(text)
        if decided is not None:
            return decided
        locale: str | None = None
        if isinstance(user, str) and user:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LOCALE_WAIT_SECONDS):
                    locale = await self._locales.get(user, client)
        return reply_language(text, locale)

    async def on_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        request = from_command(command)
        text = str(command.get("text") or "")
        if request is None or request.wants_usage:
            team = command.get("team_id")
            client = self._threads.client_for(team) if isinstance(team, str) else None
            language = await self._language(text, command.get("user_id"), client)
            await ack(text=usage(language), response_type="ephemeral")
            return
        await ack()  # at once: nothing below is needed for an empty ack
        opening = self._open_thread(request, respond, text, time.time())
        task = asyncio.create_task(opening, name="slack /video")
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def _open_thread(
        self, request: Command, respond: AsyncRespond, text: str, arrived: float
    ) -> None:
        """After the ack: the thread's root message, then the prompt handed over; paced by
        when the command came (a burst of commands opens oldest first, see `core.pacing`)."""
        async with self._engine.pacer.hold(arrived):
            await self._open_paced(request, respond, text)

    async def _open_paced(self, request: Command, respond: AsyncRespond, text: str) -> None:
        client = self._threads.client_for(request.team)
        # the session's language wants the locale (`deliver`): asked while the root goes out
        self._locales.start(request.user, client)
        language = await self._language(text, request.user, client)
        root = root_message(request.prompt, request.user, language)
        try:
            posted = await client.chat_postMessage(
                channel=request.channel, text=root.text, blocks=root.blocks
            )
        except SlackApiError as exc:
            code = slack_error(exc)
            log.info("could not open a /video thread: %s", code)
            await respond(
                text=not_postable(code, language),
                response_type="ephemeral",
            )
            return
        routed = request.routed(str(posted["ts"]))
        try:
            await self.deliver(routed)
        except NotStored:
            await tell_not_stored(self._threads(routed.key), routed.incoming)

    async def on_mention(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        routed = from_mention(body, context.bot_user_id)
        if routed is not None:
            await self.deliver(routed)

    async def on_message(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        routed = from_message(body, context.bot_user_id)
        if routed is not None:
            await self.deliver(routed)

    async def on_button(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Stored, then acked. Slack does not redeliver clicks: a refused store is said in
        the thread, and the 500 shows the clicker an error too."""
        routed = from_action(body)
        if routed is not None:
            try:
                await self.deliver(routed)
            except NotStored:
                await tell_not_stored(self._threads(routed.key), routed.incoming)
                raise
        await ack()

    async def on_open_video(self, ack: AsyncAck) -> None:
        await ack()  # a link button still sends a click; Slack shows an error unless it is acked


def build_app(
    *,
    settings: SlackSettings,
    engine: Engine,
    threads: SlackThreads,
    oauth_flow: AsyncOAuthFlow | None = None,
) -> AsyncApp:
    """The Bolt app for HTTP or Socket Mode; the signing secret matters only for HTTP. With
    `oauth_flow` every request is authorized with its team's installation (Bolt's own
    `InstallationStoreAuthorize`), and revoked or uninstalled teams are forgotten."""
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    app = AsyncApp(
        client=threads.client,
        signing_secret=secret,
        process_before_response=True,  # answered once the listener stored the message
        logger=logging.getLogger("jupiter.slack.bolt"),
        name="jupiter",
        oauth_flow=oauth_flow,
    )
    # Bolt logs a rejected request's whole body at INFO; the web handler logs a short line instead.
    logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
    listeners = Listeners(engine, threads)
    app.command("/video")(listeners.on_command)
    app.event("app_mention")(listeners.on_mention)
    app.event("message")(listeners.on_message)
    app.action(_BUTTONS)(listeners.on_button)
    app.action(OPEN_VIDEO_ACTION)(listeners.on_open_video)
    add_surfaces(app, engine, threads)
    if oauth_flow is not None:
        app.enable_token_revocation_listeners()
    return app
