"""The one object callers hold: `Store`, every concern class in one, over one migrated SQLite or
PostgreSQL database.

Each concern is a small class over a `Database` (`Identities`, `TurnQueue`, `RenderJobs`,
`Deliveries`) that also works alone, so a part that needs only render jobs can take only that.
There is one SQL implementation of each, so no Protocol restates their signatures: the variation
between databases is `dialect.Database`, and that is the seam a test or a new backend plugs into.

Adding a table and a concern (say per-user settings):
1. append a migration to `schema.MIGRATIONS` (`CREATE TABLE settings ...`; never edit old ones,
   databases made by earlier releases run only the ones they lack);
2. add `core/store/settings.py` with `class Settings(SQLTables)`: a few methods whose docstrings
   say what must hold, SQL written once with `?`, `ON CONFLICT`, `RETURNING` and, for rows about
   to be updated by racing replicas, `self._db.dialect.skip_locked()`; writes of more than one
   statement go in `async with self._db.transaction() as tx`. A frozen row type and its
   `*_from_row` mapping go in `base.py`;
3. add `Settings` to `Store`'s bases;
4. add its tests to tests/store/test_store.py: they run on SQLite and PostgreSQL.
`dialect.py` changes only if the new SQL needs a word the two databases spell differently.
"""

from __future__ import annotations

from core.store.cipher import Cipher
from core.store.deliveries import Deliveries
from core.store.dialect import Database, PostgresDatabase, SQLiteDatabase
from core.store.health import Health
from core.store.identities import Identities
from core.store.installs import Installs
from core.store.posters import PosterUploads
from core.store.preferences import Preferences
from core.store.questions import Questions
from core.store.renders import RenderJobs
from core.store.schema import migrate
from core.store.turns import TurnQueue
from core.store.versions import Versions


class Store(
    Identities,
    TurnQueue,
    RenderJobs,
    Deliveries,
    Versions,
    Preferences,
    Health,
    Questions,
    Installs,
    PosterUploads,
):
    """Everything the engine persists. Each method is atomic; writes that decide ownership are
    conditional ("claim if free or lapsed", "mark posted if not yet"), so two processes never
    both act."""

    @classmethod
    async def open(cls, db: Database, cipher: Cipher) -> Store:
        """Migrate `db` and serve from it; `db` is closed if migrating fails."""
        try:
            await migrate(db)
        except BaseException:
            await db.close()
            raise
        return cls(db, cipher)

    async def seal_secrets(self) -> int:
        """Every secret the store keeps, checked and re-sealed at start: tenants' tokens and
        client ids, and app installations."""
        return await Identities.seal_secrets(self) + await self.seal_installs()

    async def ping(self) -> bool:
        return await self._db.ping()

    async def close(self) -> None:
        await self._db.close()


async def open_database(url: str) -> Database:
    """`sqlite:///path` or `postgresql://...`; not yet migrated."""
    if url.startswith("sqlite:///"):
        return await SQLiteDatabase.open(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.open(url)
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")
