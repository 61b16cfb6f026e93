"""The store's rows and states, their mapping from result rows, and the base of the SQL concern
classes. Times are UNIX seconds (float) everywhere."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from core.models import Choice
from core.port import Action, Attachment, Incoming, ThreadKey
from core.store.cipher import Cipher, PlainCipher

if TYPE_CHECKING:
    from core.store.dialect import Database

KEY_WHERE = "platform = ? AND tenant = ? AND channel = ? AND thread = ?"
KEY_COLUMNS = "(platform, tenant, channel, thread)"  # the threads' primary key


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
    POSTING = "posting"  # a leased process is posting the link (it may be in the thread already)
    POSTED = "posted"  # the post returned
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
    fixed_token: str | None = None  # the workspace's own backend token, set by its admins


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
    version: int | None = None  # the timeline version it shows (`export v2`), when known
    user: str | None = None  # who asked for it (a Home view lists a user's videos)


@dataclass(frozen=True, slots=True)
class Version:
    key: ThreadKey
    number: int
    session_id: str
    draft_json: str
    message: str  # what the user said that made it
    changes: str  # what changed from the version before, in words ("; "-separated)
    created_at: float


@dataclass(frozen=True, slots=True)
class Defaults:
    """A user's (or a workspace's) settings for new videos; None: not set."""

    aspect: str | None = None  # "16:9", "9:16", "1:1"
    duration: int | None = None  # seconds
    style: str | None = None  # "cinematic", "anime", ...
    language: str | None = None  # a reply/session language ("en", "zh-CN")

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.aspect, self.duration, self.style, self.language))


@dataclass(frozen=True, slots=True)
class Question:
    """The agent's question as posted in a thread; `answer` None with `answered_at` set: closed
    unanswered (a newer question or a new video replaced it)."""

    id: str
    key: ThreadKey
    message_id: str | None
    question: str
    options: tuple[Choice, ...]
    allow_freeform: bool
    language: str = "en"
    answered_at: float | None = None
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """What a thread's task detail link is made from: its session and task, and the claim
    token minted for them (None: none yet for this session) with its expiry."""

    session_id: str | None
    task_id: str | None
    token: str | None
    expires_at: float


class Row(Protocol):
    """A result row read by column name: sqlite3.Row and asyncpg.Record both are."""

    def __getitem__(self, name: str) -> Any: ...


class SQLTables:
    """What every SQL concern class holds: the database and the token cipher. A concern class
    (tenants, turns, renders, ...) subclasses this and writes its SQL once for both dialects."""

    def __init__(self, db: Database, cipher: Cipher | None = None) -> None:
        self._db = db
        self._cipher = cipher or PlainCipher()

    async def _reseal(self, table: str, column: str) -> int:
        """Start-up check of one secret column keyed by (platform, tenant): every value must
        open with the key (else `SecretKeyError`); plain ones or ones under an older key are
        rewritten under the first, unless another replica changed the row meanwhile."""
        rewritten = 0
        rows = await self._db.fetch(
            f"SELECT platform, tenant, {column} FROM {table} WHERE {column} IS NOT NULL"
        )
        for row in rows:
            stored = row[column]
            plain = self._cipher.decrypt(stored)
            if self._cipher.stale(stored):
                rewritten += await self._db.execute(
                    f"""UPDATE {table} SET {column} = ?
                        WHERE platform = ? AND tenant = ? AND {column} = ?""",
                    self._cipher.encrypt(plain),
                    row["platform"],
                    row["tenant"],
                    stored,
                )
        return rewritten


def mend(text: str) -> str:
    """Text every store keeps, as close to `text` as possible: lone UTF-16 surrogates (a JSON
    escape cut in half) cannot be encoded, so pairs are joined and strays become U+FFFD; and
    PostgreSQL refuses NUL in TEXT (SQLite takes it), so NUL becomes U+FFFD on both, alike."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\x00", "\ufffd")


def mend_or_none(text: str | None) -> str | None:
    return None if text is None else mend(text)


def key_params(key: ThreadKey) -> tuple[str, str, str, str]:
    """The values for `KEY_WHERE`, in its order."""
    return (key.platform, key.tenant, key.channel, key.thread)


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
        version=row["version"],
        user=row["user_id"],
    )


def version_from_row(row: Row) -> Version:
    return Version(
        key=thread_key_from_row(row),
        number=int(row["number"]),
        session_id=row["session_id"],
        draft_json=row["draft_json"],
        message=row["message"],
        changes=row["changes"],
        created_at=row["created_at"],
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
