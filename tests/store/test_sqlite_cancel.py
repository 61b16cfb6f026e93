"""A writer cancelled at any point of its write must not leave the shared SQLite connection
inside its transaction."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from core.store.dialect import SQLiteDatabase


async def test_cancelled_writers_leave_the_connection_usable(tmp_path: Path) -> None:
    db = await SQLiteDatabase.open(str(tmp_path / "c.db"))
    try:
        await db.execute("CREATE TABLE t (n INTEGER)")
        for n in range(60):
            writer = asyncio.create_task(db.execute("INSERT INTO t VALUES (?)", n))
            for _ in range(n % 4):  # cancel at different points of BEGIN / INSERT / COMMIT
                await asyncio.sleep(0)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            assert (
                await db.execute("INSERT INTO t VALUES (?)", -1) == 1
            )  # never "within a transaction"
        row = await db.fetchrow("SELECT COUNT(*) AS c FROM t WHERE n = -1")
        assert row is not None and row["c"] == 60
    finally:
        await db.close()
