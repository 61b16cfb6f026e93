"""SQLite's shared commits: the transactions of one turn of the event loop commit together, none
returns before its commit, one that fails takes only itself back, a failed commit fails all of
them, and a process killed on either side of the commit never acknowledged what it lost."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.store.dialect import SQLiteDatabase


def _committed(path: Path, sql: str = "SELECT n FROM t ORDER BY n") -> list[int]:
    """What another connection (another process's view) finds on disk."""
    other = sqlite3.connect(path)
    try:
        return [row[0] for row in other.execute(sql)]
    finally:
        other.close()


async def _open(path: Path) -> tuple[SQLiteDatabase, list[str]]:
    db = await SQLiteDatabase.open(str(path))
    await db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    commits: list[str] = []
    db._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    return db, commits


@dataclass
class Opened:
    path: Path
    db: SQLiteDatabase
    commits: list[str]  # the COMMITs the connection ran, in order


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[Opened]:
    path = tmp_path / "b.db"
    db, commits = await _open(path)
    try:
        yield Opened(path, db, commits)
    finally:
        await db.close()


async def test_a_loop_turns_transactions_share_one_commit_and_each_returns_after_it(
    opened: Opened,
) -> None:
    path, db, commits = opened.path, opened.db, opened.commits
    seen_on_return: dict[int, list[int]] = {}

    async def write(n: int) -> None:
        await db.execute("INSERT INTO t VALUES (?)", n)
        seen_on_return[n] = _committed(path)

    await asyncio.gather(*(write(n) for n in range(50)))
    assert len(commits) == 1  # fifty transactions, one commit
    assert all(n in seen for n, seen in seen_on_return.items())  # durable when it returned
    assert _committed(path) == list(range(50))
    await db.execute("INSERT INTO t VALUES (?)", 50)  # the next turn of the loop: its own
    assert len(commits) == 2


async def test_a_failing_statement_takes_back_only_its_own_writes(opened: Opened) -> None:
    """A single statement runs without a savepoint: SQLite undoes a failed one by itself."""
    path, db, commits = opened.path, opened.db, opened.commits
    await db.execute("CREATE TABLE u (n INTEGER PRIMARY KEY CHECK (n < 10))")
    results = await asyncio.gather(
        db.execute("INSERT INTO t VALUES (?)", 1),
        db.execute("INSERT INTO u SELECT n FROM (SELECT 1 AS n UNION ALL SELECT 20)"),
        db.execute("INSERT INTO t VALUES (?)", 2),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] == 1
    assert isinstance(results[1], sqlite3.IntegrityError)  # its second row broke the check
    assert _committed(path) == [1, 2]
    assert _committed(path, "SELECT n FROM u") == []  # not even its first row
    assert len(commits) == 2  # the table's, then the three writers'


async def test_a_failing_transaction_takes_back_only_its_own_writes(opened: Opened) -> None:
    path, db, commits = opened.path, opened.db, opened.commits

    async def fails() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (?)", 100)
            await tx.execute("INSERT INTO t VALUES (?)", 1)  # taken by the first writer below

    results = await asyncio.gather(
        db.execute("INSERT INTO t VALUES (?)", 1),
        fails(),
        db.execute("INSERT INTO t VALUES (?)", 2),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] == 1
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert _committed(path) == [1, 2]  # not 100: its transaction went back whole
    assert len(commits) == 1


async def test_a_read_of_uncommitted_rows_returns_once_they_are_committed(opened: Opened) -> None:
    path, db = opened.path, opened.db
    writer = asyncio.create_task(db.execute("INSERT INTO t VALUES (?)", 7))
    await asyncio.sleep(0)  # the writer's body has run; its commit is queued behind us
    rows = await db.fetch("SELECT n FROM t")
    assert [row["n"] for row in rows] == [7]
    assert _committed(path) == [7]  # what it read was on disk before it returned
    await writer


class _RollbackComplains:
    """The connection, whose rollback reports an error (after rolling back, as an I/O error on
    the journal's clean-up would)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._real = db

    def rollback(self) -> None:
        self._real.rollback()
        raise sqlite3.OperationalError("disk I/O error")

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


@pytest.mark.parametrize("rollback_fails", [False, True])
async def test_a_failed_commit_fails_every_transaction_in_it_and_the_next_one_works(
    opened: Opened, rollback_fails: bool
) -> None:
    """A deferred foreign key is checked at COMMIT: one bad row fails the shared commit, and
    every writer hears it even when the rollback after it reports an error too."""
    path, db = opened.path, opened.db
    db._db.execute("PRAGMA foreign_keys = ON")
    await db.execute(
        "CREATE TABLE child (parent INTEGER REFERENCES t (n) DEFERRABLE INITIALLY DEFERRED)"
    )
    if rollback_fails:
        db._db = _RollbackComplains(db._db)  # type: ignore[assignment]
    async with asyncio.timeout(5):  # a writer left waiting would hang here
        results = await asyncio.gather(
            db.execute("INSERT INTO t VALUES (?)", 1),
            db.execute("INSERT INTO child VALUES (?)", 99),  # no such parent
            return_exceptions=True,
        )
    assert all(isinstance(r, sqlite3.IntegrityError) for r in results), results
    assert _committed(path) == [] and _committed(path, "SELECT parent FROM child") == []
    assert await db.execute("INSERT INTO t VALUES (?)", 2) == 1
    assert _committed(path) == [2]


@pytest.mark.parametrize("road", ["execute", "fetch", "transaction"])
async def test_a_statement_that_rolls_back_the_whole_transaction_fails_everyone_in_it(
    opened: Opened, road: str
) -> None:
    """What SQLite rolls back whole (a full disk; here a trigger's RAISE(ROLLBACK)) takes the
    transactions of the loop's turn before it with it: none of them may be acknowledged,
    whichever road the statement came by (a write through `fetch` too: INSERT ... RETURNING)."""
    path, db = opened.path, opened.db
    await db.execute("CREATE TABLE u (n INTEGER)")
    await db.execute(
        "CREATE TRIGGER no_u BEFORE INSERT ON u BEGIN SELECT RAISE(ROLLBACK, 'no'); END"
    )
    insert = "INSERT INTO u VALUES (?) RETURNING n"

    async def breaks() -> object:
        if road == "execute":
            return await db.execute(insert, 5)
        if road == "fetch":
            return await db.fetch(insert, 5)
        async with db.transaction() as tx:
            return await tx.fetch(insert, 5)

    results = await asyncio.gather(
        db.execute("INSERT INTO t VALUES (?)", 1),
        breaks(),
        db.execute("INSERT INTO t VALUES (?)", 2),
        return_exceptions=True,
    )
    assert isinstance(results[0], sqlite3.Error) and isinstance(results[1], sqlite3.Error)
    assert results[2] == 1  # it began after the rollback, in a transaction of its own
    assert _committed(path) == [2]  # and 1, acknowledged as nothing, is not there either


CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from core.store.dialect import SQLiteDatabase

    async def main(path, window):
        db = await SQLiteDatabase.open(path)
        await db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        settle = db._settle
        def dying(batch):
            if window == "after":
                settle(batch)
            os.kill(os.getpid(), signal.SIGKILL)
        db._settle = dying

        async def write(n):
            await db.execute("INSERT INTO t VALUES (?)", n)
            print("acknowledged", n, flush=True)

        await asyncio.gather(*(write(n) for n in range(20)))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


@pytest.mark.parametrize(("window", "on_disk"), [("before", []), ("after", list(range(20)))])
def test_killed_on_either_side_of_the_commit_nothing_acknowledged_is_lost(
    tmp_path: Path, window: str, on_disk: list[int]
) -> None:
    path = tmp_path / "k.db"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), window],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "acknowledged" not in child.stdout  # no writer returned before the commit
    assert _committed(path) == on_disk  # all or nothing
