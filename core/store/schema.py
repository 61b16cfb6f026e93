"""Schema migrations, shared by SQLite and PostgreSQL (the SQL here is portable)."""

from __future__ import annotations

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
)
