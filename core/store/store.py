"""The one object callers hold: `Store`, every concern's Protocol in one, and `SQLStore`, every
concern's SQL class in one, over SQLite or PostgreSQL.

Adding a table and a concern (say per-user settings):
1. append a migration to `schema.MIGRATIONS` (`CREATE TABLE settings ...`; never edit old ones);
2. add `core/store/settings.py` with a `Settings` Protocol (its few methods, docstrings saying
   what must hold) and `SQLSettings(SQLTables)` whose SQL uses `?`, `ON CONFLICT`, `RETURNING`
   and, for rows it is about to update, `self._db.dialect.skip_locked()`; a row type and its
   `*_from_row` mapping go to `base.py`;
3. add `Settings` to `Store`'s bases and `SQLSettings` to `SQLStore`'s;
4. add its tests to tests/store, which run them on SQLite and PostgreSQL.
Nothing in `dialect.py` changes unless the new SQL needs a word the two databases spell apart.
"""

from __future__ import annotations

from typing import Protocol

from core.store.cipher import Cipher
from core.store.deliveries import Deliveries, SQLDeliveries
from core.store.dialect import Database, PostgresDatabase, SQLiteDatabase
from core.store.identities import Identities, SQLIdentities
from core.store.renders import RenderJobs, SQLRenderJobs
from core.store.schema import migrate
from core.store.turns import SQLTurnQueue, TurnQueue


class Store(Identities, TurnQueue, RenderJobs, Deliveries, Protocol):
    """Everything the engine persists. Each method is atomic; writes that decide ownership are
    conditional ("claim if free or lapsed", "mark posted if not yet"), so two processes never
    both act."""

    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class SQLStore(SQLIdentities, SQLTurnQueue, SQLRenderJobs, SQLDeliveries):
    """The concern classes over one migrated database; each also works alone on a `Database`."""

    @classmethod
    async def open(cls, db: Database, cipher: Cipher) -> SQLStore:
        try:
            await migrate(db)
        except BaseException:
            await db.close()
            raise
        return cls(db, cipher)

    async def ping(self) -> bool:
        return await self._db.ping()

    async def close(self) -> None:
        await self._db.close()


async def open_database(url: str) -> Database:
    if url.startswith("sqlite:///"):
        return await SQLiteDatabase.open(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.open(url)
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")
