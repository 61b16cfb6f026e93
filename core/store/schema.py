"""Schema migrations, shared by SQLite and PostgreSQL (the SQL here is portable).

Append, never edit: a database records how many of `MIGRATIONS` it has run (SQLite's
`user_version`, PostgreSQL's `schema_version`) and runs only the ones after that, so a file made
by any earlier release opens and catches up. A new table is one more tuple at the end.
"""

from __future__ import annotations

from core.store.dialect import Database

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE tenants (
            platform TEXT NOT NULL, tenant TEXT NOT NULL, client_id TEXT NOT NULL,
            token TEXT, user_id TEXT, expires_at TEXT, updated_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (platform, tenant))""",
        """CREATE TABLE threads (
            platform TEXT NOT NULL, tenant TEXT NOT NULL, channel TEXT NOT NULL, thread TEXT NOT NULL,
            session_id TEXT, language TEXT NOT NULL DEFAULT 'en', draft_json TEXT,
            created_at DOUBLE PRECISION NOT NULL, last_active DOUBLE PRECISION NOT NULL,
            turn_owner TEXT, turn_lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
            PRIMARY KEY (platform, tenant, channel, thread))""",
        """CREATE TABLE turns (
            id {serial}, platform TEXT NOT NULL, tenant TEXT NOT NULL, channel TEXT NOT NULL,
            thread TEXT NOT NULL, text TEXT NOT NULL, attachments TEXT, user_id TEXT NOT NULL,
            locale TEXT, action TEXT, status TEXT NOT NULL, error TEXT, event_id TEXT UNIQUE,
            created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX turns_by_thread ON turns (platform, tenant, channel, thread, status, id)",
        "CREATE INDEX turns_by_status ON turns (status)",
        """CREATE TABLE renders (
            id {serial}, platform TEXT NOT NULL, tenant TEXT NOT NULL, channel TEXT NOT NULL,
            thread TEXT NOT NULL, render_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
            progress DOUBLE PRECISION NOT NULL DEFAULT 0, output_url TEXT, size BIGINT, error TEXT,
            message_id TEXT, language TEXT NOT NULL DEFAULT 'en',
            next_poll_at DOUBLE PRECISION NOT NULL, deadline_at DOUBLE PRECISION NOT NULL,
            lease_owner TEXT, lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
            posted_at DOUBLE PRECISION, created_at DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX renders_by_status ON renders (status, lease_until)",
        """CREATE TABLE seen_events (
            event_id TEXT PRIMARY KEY, seen_at DOUBLE PRECISION NOT NULL)""",
    ),
    # 2: which timeline a render was made from, so an unchanged export re-posts its link
    ("ALTER TABLE renders ADD COLUMN draft_hash TEXT",),
    # 3: the video workflow: timeline versions, which version a render shows and its poster,
    # per-user (and per-workspace) defaults, estimated spend per user and day, and the
    # backend task behind a thread's session (its task detail link)
    (
        """CREATE TABLE versions (
            id {serial}, platform TEXT NOT NULL, tenant TEXT NOT NULL, channel TEXT NOT NULL,
            thread TEXT NOT NULL, number INTEGER NOT NULL, session_id TEXT NOT NULL,
            draft_json TEXT NOT NULL, message TEXT NOT NULL, changes TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            UNIQUE (platform, tenant, channel, thread, number))""",
        "ALTER TABLE renders ADD COLUMN version INTEGER",
        "ALTER TABLE renders ADD COLUMN poster TEXT",
        "ALTER TABLE renders ADD COLUMN user_id TEXT",
        """CREATE TABLE preferences (
            platform TEXT NOT NULL, tenant TEXT NOT NULL, user_id TEXT NOT NULL,
            aspect TEXT, duration INTEGER, style TEXT, language TEXT,
            updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (platform, tenant, user_id))""",
        """CREATE TABLE usage (
            platform TEXT NOT NULL, tenant TEXT NOT NULL, user_id TEXT NOT NULL, day TEXT NOT NULL,
            credits INTEGER NOT NULL, PRIMARY KEY (platform, tenant, user_id, day))""",
        "ALTER TABLE threads ADD COLUMN task_id TEXT",
        "ALTER TABLE threads ADD COLUMN claim_token TEXT",
        "ALTER TABLE threads ADD COLUMN claim_expires_at DOUBLE PRECISION",
    ),
    # 4: a one-row table `/healthz` writes to (a store that reads but cannot write is down)
    (
        """CREATE TABLE health (
            id INTEGER PRIMARY KEY, checked_at DOUBLE PRECISION NOT NULL)""",
    ),
    # 5: the agent's pending questions (so a click survives a restart) and the message a lost
    # turn would re-send on "Try again"
    (
        """CREATE TABLE questions (
            id TEXT PRIMARY KEY, platform TEXT NOT NULL, tenant TEXT NOT NULL,
            channel TEXT NOT NULL, thread TEXT NOT NULL, message_id TEXT,
            question TEXT NOT NULL, options TEXT NOT NULL, allow_freeform INTEGER NOT NULL,
            language TEXT NOT NULL DEFAULT 'en', created_at DOUBLE PRECISION NOT NULL,
            answered_at DOUBLE PRECISION, answer TEXT)""",
        "CREATE INDEX questions_by_thread ON questions (platform, tenant, channel, thread)",
        "ALTER TABLE threads ADD COLUMN retry_text TEXT",
        "ALTER TABLE threads ADD COLUMN retry_user TEXT",
    ),
    # 6: a workspace's own backend token (set by its admins, encrypted), chat-platform app
    # installations (one per workspace or organisation, their secrets encrypted) and the
    # one-time states of install flows
    (
        "ALTER TABLE tenants ADD COLUMN fixed_token TEXT",
        """CREATE TABLE installations (
            platform TEXT NOT NULL, tenant TEXT NOT NULL, data TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (platform, tenant))""",
        """CREATE TABLE install_states (
            state TEXT PRIMARY KEY, expires_at DOUBLE PRECISION NOT NULL)""",
    ),
    # 7: a poster's copy on a chat platform whose views show only images it hosts itself (the
    # platform's file id): uploaded once per workspace and video, then reused
    (
        """CREATE TABLE poster_uploads (
            platform TEXT NOT NULL, tenant TEXT NOT NULL, render_id TEXT NOT NULL,
            file_id TEXT NOT NULL, uploaded_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (platform, tenant, render_id))""",
    ),
)


async def migrate(db: Database) -> None:
    """Bring `db` to the newest schema, in one transaction that other migrators wait for."""
    async with db.transaction() as tx:
        version = await db.lock_schema(tx)
        for number, statements in enumerate(MIGRATIONS, start=1):
            if number <= version:
                continue
            for statement in statements:
                await tx.execute(statement.format(serial=db.dialect.serial))
            await db.record_schema(tx, number)
