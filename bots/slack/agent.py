"""Slack's agent platform for one thread: the agent session's status and the streamed turn.

What must hold:
- a turn's session is `processing` (`agents.sessions.setStatus`, title the prompt cut to 200,
  initiator the user) from its first busy signal, and `active` once the turn ends, fails or is
  stopped; a heartbeat never re-sends `processing`;
- the turn's status message *is* the stream (`chat.startStream` at "Connecting..."); the agent's
  interim words are held and ride on the next call the turn makes anyway (a heartbeat's
  `chat.appendStream`, the answer's `chat.stopStream`), so a turn costs at most 4 Web API calls
  plus one per heartbeat interval, whatever the agent says;
- the heartbeat stays visible: it is a `task_update` chunk with one fixed id, which Slack shows
  as one task line whose title each heartbeat replaces (guess: same id updates in place);
- where Slack refuses (an older workspace, a plan without the agent platform, a missing scope),
  the refusal is remembered per workspace (`Support`) and the thread falls back to today's
  post-and-update and `assistant.threads.setStatus`; one refused call per workspace, not per turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.port import ThreadKey

from .render import escape

log = logging.getLogger("jupiter.slack")

TITLE_LIMIT = 200
TASK_ID = "jupiter_turn"
# Answers that mean "not in this workspace, not with this app": remembered for the workspace.
UNAVAILABLE = frozenset(
    {
        "unknown_method",
        "not_allowed",
        "not_allowed_token_type",
        "missing_scope",
        "no_permission",
        "method_deprecated",
        "feature_not_enabled",
        "team_access_not_granted",
        "not_an_agent",
        "paid_only",
    }
)


def slack_code(exc: SlackApiError) -> str:
    return str(exc.response.get("error", ""))


@dataclass
class Support:
    """What each workspace allowed so far (tenant -> False once refused); shared by threads."""

    sessions: dict[str, bool] = field(default_factory=dict)
    streams: dict[str, bool] = field(default_factory=dict)

    def note(self, exc: SlackApiError, table: dict[str, bool], tenant: str, what: str) -> None:
        """A refusal: remembered for the workspace when it is about the app or the workspace
        (`UNAVAILABLE`), else only this thread falls back (the caller's answer)."""
        code = slack_code(exc)
        if code not in UNAVAILABLE:
            log.debug("%s refused in one thread: %s", what, code)
            return
        if table.get(tenant, True):
            log.info("%s unavailable in this workspace, falling back: %s", what, code)
        table[tenant] = False


class AgentSession:
    """The thread's agent session status; `set` answers False when the caller must fall back."""

    def __init__(
        self, client: AsyncWebClient, key: ThreadKey, support: Support, user: str, prompt: str
    ) -> None:
        self._client, self._key, self._support = client, key, support
        self._user, self._prompt = user, prompt
        self.processing = False

    @property
    def usable(self) -> bool:
        return self._support.sessions.get(self._key.tenant, True)

    async def set(self, status: str) -> bool:
        """`processing` or `active`; True when Slack took it (or it is already so)."""
        if not self.usable:
            return False
        if (status == "processing") == self.processing:
            return True
        args: dict[str, Any] = {
            "channel_id": self._key.channel,
            "thread_ts": self._key.thread,
            "status": status,
        }
        if status == "processing":
            args["title"] = (self._prompt or "Jupiter")[:TITLE_LIMIT]
            if self._user:
                args["initiator_user_id"] = self._user
        try:
            await self._client.agents_sessions_setStatus(**args)
        except SlackApiError as exc:
            self._support.note(exc, self._support.sessions, self._key.tenant, "agent sessions")
            return False
        self.processing = status == "processing"
        return True


class TurnStream:
    """The streamed status message of one turn; words are held until a call carries them."""

    def __init__(self, client: AsyncWebClient, key: ThreadKey, support: Support, user: str):
        self._client, self._key, self._support, self._user = client, key, support, user
        self.ts: str | None = None
        self._held: list[str] = []
        self._title = ""  # the task line's title: the last heartbeat's words

    @property
    def usable(self) -> bool:
        """Streams need a recipient in channels; resumed work (no user known) posts instead."""
        direct = self._key.channel.startswith("D")
        return self._support.streams.get(self._key.tenant, True) and (direct or bool(self._user))

    @property
    def open(self) -> bool:
        return self.ts is not None

    async def start(self, text: str) -> str | None:
        """Open the stream showing `text`; None when Slack refused (then post as before)."""
        if not self.usable:
            return None
        self._title = text
        args: dict[str, Any] = {
            "channel": self._key.channel,
            "thread_ts": self._key.thread,
            "task_display_mode": "timeline",
            "chunks": [_task(text, "in_progress")],
        }
        if not self._key.channel.startswith("D"):
            args["recipient_team_id"] = self._key.tenant
            args["recipient_user_id"] = self._user
        try:
            answer = await self._client.chat_startStream(**args)
        except SlackApiError as exc:
            self._support.note(exc, self._support.streams, self._key.tenant, "streaming")
            return None
        self.ts = str(answer["ts"])
        return self.ts

    def hold(self, words: str) -> None:
        self._held.append(words)

    def _words(self) -> list[dict[str, Any]]:
        held, self._held = self._held, []
        # Escaped like every text the bot shows: `<!channel>` arrives as characters.
        return [{"type": "markdown_text", "text": escape(text) + "\n\n"} for text in held]

    async def beat(self, text: str) -> None:
        """A heartbeat: the held words and the task line's new title, in one call."""
        assert self.ts is not None
        held = list(self._held)
        self._title = text
        chunks = [*self._words(), _task(text, "in_progress")]
        try:
            await self._client.chat_appendStream(
                channel=self._key.channel, ts=self.ts, chunks=chunks
            )
        except Exception:
            self._held = held + self._held  # the words wait for the next call
            raise

    async def words_now(self) -> None:
        """The held words at once, the task line as it was (the engine then skips that
        interval's heartbeat: the same one call, the words sooner). A refused call keeps them
        held for the next one."""
        try:
            await self.beat(self._title)
        except Exception:
            log.warning(
                "stream append failed; the words wait", extra={"thread_key": str(self._key)}
            )

    async def stop(self, blocks: list[dict[str, Any]] | None, done: bool = True) -> None:
        """Finish the message: the held words, the task closed, the answer's blocks below."""
        ts, self.ts = self.ts, None
        assert ts is not None
        held = list(self._held)
        chunks = [*self._words(), _task(self._title, "complete" if done else "error")]
        try:
            await self._client.chat_stopStream(
                channel=self._key.channel, ts=ts, chunks=chunks, blocks=blocks or None
            )
        except Exception:
            self._held = held  # `take_held`: the caller posts them instead
            raise

    def take_held(self) -> list[str]:
        held, self._held = self._held, []
        return held


def _task(title: str, status: str) -> dict[str, Any]:
    chunk: dict[str, Any] = {"type": "task_update", "id": TASK_ID, "status": status}
    chunk["title"] = title[:TITLE_LIMIT] or "Jupiter"
    return chunk
