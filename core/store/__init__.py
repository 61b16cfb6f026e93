"""Durable state: which backend session each thread has, every message until it is answered,
every render until its link is posted, and delivery ids already seen.

One small class per concern (`Identities`, `TurnQueue`, `RenderJobs`, `Deliveries`), combined in
`Store`; each writes its SQL once for SQLite (embedded default) and PostgreSQL (several replicas),
and what the two spell differently lives in `dialect.py`. Both pass the same test suite. How to
add a table and a concern: see `core/store/store.py`.
"""

from __future__ import annotations

from core.store.base import RenderJob, RenderState, TenantRow, ThreadRow, TurnRow, TurnStatus
from core.store.deliveries import Deliveries
from core.store.identities import Identities
from core.store.renders import RenderJobs
from core.store.store import Store, open_database
from core.store.turns import TurnQueue


async def open_store(url: str, *, secret_key: str | None = None) -> Store:
    """Open (and migrate) the store named by `JUPITER_DATABASE_URL`."""
    from core.store.cipher import make_cipher

    cipher = make_cipher(secret_key)
    return await Store.open(await open_database(url), cipher)


__all__ = [
    "Deliveries",
    "Identities",
    "RenderJob",
    "RenderJobs",
    "RenderState",
    "Store",
    "TenantRow",
    "ThreadRow",
    "TurnQueue",
    "TurnRow",
    "TurnStatus",
    "open_store",
]
