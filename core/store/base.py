"""The store interface and its rows. Times are UNIX seconds (float) everywhere."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from core.port import Action, Attachment, Incoming, ThreadKey


class TurnStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class RenderState(StrEnum):
    RENDERING = "rendering"  # started; polling the backend
    READY = "ready"  # finished with a link that is not posted yet
    POSTED = "posted"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class TenantRow:
    platform: str
    tenant: str
    client_id: str
    token: str | None = None
    user_id: str | None = None
    expires_at: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadRow:
    key: ThreadKey
    session_id: str | None
    language: str
    created_at: float
    last_active: float
    draft_json: str | None = None


@dataclass(frozen=True, slots=True)
class TurnRow:
    id: int
    key: ThreadKey
    text: str
    attachments: tuple[Attachment, ...]
    user: str
    locale: str | None
    action: Action | None
    status: TurnStatus
    error: str | None
    created_at: float

    @property
    def incoming(self) -> Incoming:
        return Incoming(self.text, self.attachments, self.user, self.locale, None, self.action)


@dataclass(frozen=True, slots=True)
class RenderJob:
    id: int
    key: ThreadKey
    render_id: str
    status: RenderState
    progress: float
    output_url: str | None
    error: str | None
    message_id: str | None
    next_poll_at: float
    deadline_at: float
    lease_owner: str | None
    lease_until: float
    posted_at: float | None
    created_at: float
    size: int | None = None
    language: str = "en"
    draft_hash: str | None = None


class Row(Protocol):
    """A result row read by column name: sqlite3.Row and asyncpg.Record both are."""

    def __getitem__(self, name: str) -> Any: ...


def thread_key_from_row(row: Row) -> ThreadKey:
    return ThreadKey(row["platform"], row["tenant"], row["channel"], row["thread"])


def turn_from_row(row: Row) -> TurnRow:
    return TurnRow(
        id=int(row["id"]),
        key=thread_key_from_row(row),
        text=row["text"],
        attachments=attachments_from_json(row["attachments"]),
        user=row["user_id"],
        locale=row["locale"],
        action=action_or_none(row["action"]),
        status=TurnStatus(row["status"]),
        error=row["error"],
        created_at=row["created_at"],
    )


def render_from_row(row: Row) -> RenderJob:
    return RenderJob(
        id=int(row["id"]),
        key=thread_key_from_row(row),
        render_id=row["render_id"],
        status=RenderState(row["status"]),
        progress=row["progress"],
        output_url=row["output_url"],
        error=row["error"],
        message_id=row["message_id"],
        next_poll_at=row["next_poll_at"],
        deadline_at=row["deadline_at"],
        lease_owner=row["lease_owner"],
        lease_until=row["lease_until"],
        posted_at=row["posted_at"],
        created_at=row["created_at"],
        size=row["size"],
        language=row["language"],
        draft_hash=row["draft_hash"],
    )


def attachments_to_json(items: tuple[Attachment, ...]) -> str:
    return json.dumps(
        [
            {"filename": a.filename, "size": a.size, "source": a.source, "type": a.content_type}
            for a in items
        ]
    )


def attachments_from_json(raw: str | None) -> tuple[Attachment, ...]:
    if not raw:
        return ()
    items: list[dict[str, Any]] = json.loads(raw)
    return tuple(
        Attachment(str(i["filename"]), i.get("size"), str(i["source"]), i.get("type"))
        for i in items
    )


def action_or_none(raw: str | None) -> Action | None:
    try:
        return Action(raw) if raw else None
    except ValueError:
        return None


class Store(Protocol):
    """Everything the engine persists. Implementations must make each method atomic."""

    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    # tenants: one backend identity per workspace / guild / console user
    async def get_tenant(self, platform: str, tenant: str) -> TenantRow | None: ...
    async def put_tenant(self, row: TenantRow) -> None: ...
    async def create_tenant(self, row: TenantRow) -> TenantRow:
        """Insert unless the tenant exists; returns the stored row (the first writer wins, so
        two replicas meeting a new workspace at once share one backend identity)."""
        ...

    # threads: thread -> backend session, and the per-thread turn lease
    async def get_thread(self, key: ThreadKey) -> ThreadRow | None: ...
    async def put_session(self, key: ThreadKey, session_id: str | None, language: str) -> None: ...
    async def put_draft(self, key: ThreadKey, draft_json: str | None) -> None: ...
    async def claim_thread(self, key: ThreadKey, owner: str, lease_seconds: float) -> bool: ...
    async def release_thread(self, key: ThreadKey, owner: str) -> None: ...

    # turns: every message until answered
    async def enqueue_turn(self, key: ThreadKey, incoming: Incoming) -> int | None:
        """Queue a message; None when its `event_id` was seen before (a redelivery)."""
        ...

    async def first_seen(self, event_id: str) -> bool:
        """Record a delivery id; False when it was already recorded."""
        ...

    async def next_turn(self, key: ThreadKey) -> TurnRow | None: ...
    async def start_turn(self, turn_id: int) -> bool:
        """queued -> running, only if still queued."""
        ...

    async def finish_turn(
        self, turn_id: int, status: TurnStatus, error: str | None = None
    ) -> None: ...
    async def queued_count(self, key: ThreadKey) -> int: ...
    async def cancel_queued(self, key: ThreadKey) -> int: ...
    async def threads_with_queued_turns(self) -> list[ThreadKey]: ...
    async def interrupt_stale_turns(self, now: float, platform: str | None = None) -> list[TurnRow]:
        """Running turns whose thread lease has lapsed (their process died): mark interrupted.
        With `platform`, only that platform's turns (the process that can tell their users)."""
        ...

    async def interrupt_running(self, key: ThreadKey) -> list[TurnRow]:
        """Mark this thread's running turns interrupted. Only for the holder of the thread's
        lease that is running nothing itself: those turns belong to a process that died."""
        ...

    # renders: every export until its link is posted exactly once
    async def add_render(
        self,
        key: ThreadKey,
        render_id: str,
        *,
        owner: str,
        lease_seconds: float,
        deadline_at: float,
        message_id: str | None,
        language: str,
        draft_hash: str | None = None,
    ) -> RenderJob: ...
    async def last_posted_render(self, key: ThreadKey) -> RenderJob | None:
        """The thread's most recent render whose link was posted."""
        ...

    async def get_render(self, job_id: int) -> RenderJob | None: ...
    async def claim_renders(
        self, owner: str, lease_seconds: float, limit: int = 100
    ) -> list[RenderJob]:
        """Unfinished jobs whose lease is free or lapsed, now leased to `owner`."""
        ...

    async def update_render(
        self,
        job_id: int,
        owner: str,
        lease_seconds: float,
        *,
        status: RenderState | None = None,
        progress: float | None = None,
        output_url: str | None = None,
        size: int | None = None,
        error: str | None = None,
        next_poll_at: float | None = None,
    ) -> bool:
        """Record poll results and renew the lease; False when another owner holds it."""
        ...

    async def mark_posted(self, job_id: int) -> bool:
        """ready -> posted, only once: the caller posts the link only when this returns True."""
        ...

    async def active_renders(self, key: ThreadKey) -> list[RenderJob]: ...
    async def count_renders(self) -> dict[str, int]: ...
