"""Durable state: which backend session each thread has, every message until it is answered,
every render until its link is posted, and delivery ids already seen.

One interface (`Store`), two implementations: SQLite (embedded default) and PostgreSQL (several
replicas). Both pass the same test suite. Writes that decide ownership are conditional updates
("claim if free or expired", "mark posted if not yet"), so two processes never both act.
"""

from __future__ import annotations

from core.store.base import (
    RenderJob,
    Store,
    TenantRow,
    ThreadRow,
    TurnRow,
    TurnStatus,
)


async def open_store(url: str, *, secret_key: str | None = None) -> Store:
    """Open (and migrate) the store named by `JUPITER_DATABASE_URL`."""
    from core.store.cipher import make_cipher

    cipher = make_cipher(secret_key)
    if url.startswith("sqlite:///"):
        from core.store.sqlite import SQLiteStore

        return await SQLiteStore.open(url.removeprefix("sqlite:///"), cipher=cipher)
    if url.startswith(("postgresql://", "postgres://")):
        from core.store.postgres import PostgresStore

        return await PostgresStore.open(url, cipher=cipher)
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")


__all__ = ["RenderJob", "Store", "TenantRow", "ThreadRow", "TurnRow", "TurnStatus", "open_store"]
