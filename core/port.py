"""The one small port between the engine and a chat platform, and the values that cross it.

An adapter turns a platform event into a frozen `Incoming` for a `ThreadKey`, implements
`ChatThread` for that thread, and renders each `Reply` its own way (Block Kit, embeds, plain
text). Nothing platform-specific travels into core: no raw payloads, no SDK objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from core.models import Balance, Choice
from core.redact import mask_secrets


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """One conversation on one surface; each adapter says what its parts mean on its platform.

    `platform` names the adapter (it is also the backend's `X-Skill-Platform`); `tenant` is
    the unit that shares a backend token (a workspace, a server, a console user); `thread` is
    the conversation inside `channel`.
    """

    platform: str
    tenant: str
    channel: str
    thread: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.tenant}:{self.channel}:{self.thread}"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a user shared; `source` is whatever the adapter needs to stream it later."""

    filename: str
    size: int | None
    source: str
    content_type: str | None = None


class Action(StrEnum):
    """Buttons the engine offers; adapters map a click back to an `Incoming` with this action."""

    EXPORT = "export"
    STATUS = "status"
    CREDITS = "credits"
    RETRY = "retry"  # "Try again" after a lost turn: re-sends the lost message, once


@dataclass(frozen=True, slots=True)
class Answer:
    """A click on one of a question's choices: `question_id` is `Reply.question_id`, `option`
    the index into `Reply.choices`. The engine looks the label up itself (a stale or answered
    question is refused politely), so an adapter sends only these two values."""

    question_id: str
    option: int


@dataclass(frozen=True, slots=True)
class Incoming:
    text: str
    attachments: tuple[Attachment, ...] = ()
    user: str = ""
    locale: str | None = None
    event_id: str | None = None  # platform delivery id, for deduplication
    action: Action | None = None  # a button or slash command: no keyword guessing needed
    answer: Answer | None = None  # a click on a question's choice


class ReplyKind(StrEnum):
    TEXT = "text"  # the agent's words
    STATUS = "status"  # progress: "Connecting...", "⏳ Still working...", render progress
    TIMELINE = "timeline"  # the timeline summary or what changed
    VIDEO = "video"  # a finished render
    CREDITS = "credits"
    NOTICE = "notice"  # fixed messages: queued, help, restarted timeline
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Reply:
    kind: ReplyKind
    text: str
    buttons: tuple[Action, ...] = ()
    video_url: str | None = None
    balance: Balance | None = None
    progress: float | None = None  # 0..100 for render progress
    details: tuple[str, ...] = field(default_factory=tuple)  # extra lines (timeline changes)
    language: str = "en"  # the catalogue language the text is in; adapters word labels in it
    # A delivery's marker (the render id): the adapter carries it in the posted message,
    # invisibly where it can, so `ChatThread.find_delivery` can tell later that it arrived.
    marker: str | None = None
    poster: bytes | None = None  # a JPEG frame of a delivered video, where one was made
    # The agent asked: every option, in order (labels as the agent gave them, uncut: length
    # and count limits are the adapter's). `question_id` goes into each button's payload and
    # comes back as `Incoming.answer`. The options are also the last `len(choices)` lines of
    # `details` (`1. Cinematic`), so a surface that draws no buttons loses nothing.
    choices: tuple[Choice, ...] = ()
    question_id: str | None = None

    @property
    def details_without_choices(self) -> tuple[str, ...]:
        """`details` minus the numbered option lines, for a surface that draws buttons."""
        return (
            self.details[: len(self.details) - len(self.choices)] if self.choices else self.details
        )

    def __post_init__(self) -> None:
        """The last gate before any chat: whatever path built this reply, no token shape in
        its words survives (`core.redact`; claim links are not token shapes)."""
        object.__setattr__(self, "text", mask_secrets(self.text))
        if self.details:
            object.__setattr__(self, "details", tuple(mask_secrets(d) for d in self.details))


@runtime_checkable
class ChatThread(Protocol):
    """What an adapter implements for one thread. Every method may raise; the engine copes."""

    key: ThreadKey

    @property
    def upload_limit(self) -> int:
        """Largest file (bytes) this thread accepts from the bot; 0 when uploads are off."""
        ...

    async def post(self, reply: Reply) -> str:
        """Post a reply in the thread; returns the id of the *first* message it became.

        A long reply may become several messages; the id is always the head's, on every
        surface, so `update` edits where the reply starts (where a reader sees it begin).
        """
        ...

    async def update(self, message_id: str, reply: Reply) -> None:
        """Replace the head message `post` returned (progress edited in place); what no longer
        fits in it continues in new messages."""
        ...

    async def upload(
        self, filename: str, size: int, chunks: AsyncIterator[bytes], reply: Reply
    ) -> None:
        """Attach a file (the finished MP4) to the thread, streamed."""
        ...

    async def set_busy(self, text: str | None) -> None:
        """Show a busy indicator (typing, assistant status); None clears it."""
        ...

    def open_attachment(self, attachment: Attachment, language: str = "en") -> AsyncIterator[bytes]:
        """Stream a shared file's bytes from the platform (only from the platform's own hosts);
        a refusal is worded in `language`."""
        ...

    async def find_delivery(self, marker: str) -> bool:
        """Whether a reply posted with `Reply.marker == marker` is in the thread already.

        Asked only by a process taking over a delivery another one left mid-post (killed
        between the post and recording it), so that the link is posted exactly once: read
        the platform's own record, never a local cache. May raise (then the link is posted).
        """
        ...


ThreadResolver = Callable[[ThreadKey], ChatThread]


class NotStored(Exception):
    """`Engine.handle` could not store the message (disk full, a corrupt file, a database that
    refuses writes): nothing will answer it. An adapter that has not acknowledged it yet must
    not (so the platform redelivers it); one that has says so in the thread."""
