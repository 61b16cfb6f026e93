"""Store: thread lookups and turn writes per second, SQLite against PostgreSQL, and 50
concurrent writers each on its own connection (as 50 replicas would be), counting "database is
locked" errors.

- lookups: 50 tasks on one store, `get_thread` of existing threads;
- turn writes: 50 tasks on one store, each turn written as the engine does it
  (`enqueue_turn`, `start_turn`, `finish_turn`);
- 50 writers: 50 stores (50 connections) on the same database, the same turn writes.

PostgreSQL runs from the machine's binaries (the tests' `tests/pg.py` server, Unix socket
only); without them it is skipped with the reason printed.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from core.port import Incoming, ThreadKey
from core.store import Store, TurnStatus, open_store
from tests.bench.common import Row, main

TASKS = 50
SECONDS = 2.0
THREADS = 500


def _key(i: int) -> ThreadKey:
    return ThreadKey("slack", "T0BENCH", f"C{i % 20}", f"{i}.000")


async def _for_a_while(
    tasks: int, work: Callable[[int, int], Awaitable[None]], seconds: float = SECONDS
) -> tuple[int, list[str]]:
    """Run `work(task, n)` in `tasks` loops for `seconds`; the operations done and the errors."""
    done = 0
    errors: list[str] = []
    stop = time.monotonic() + seconds

    async def loop(task: int) -> None:
        nonlocal done
        n = 0
        while time.monotonic() < stop:
            try:
                await work(task, n)
                done += 1
            except Exception as exc:  # counted and shown: the point is to see them
                errors.append(f"{exc.__class__.__name__}: {exc}")
            n += 1

    await asyncio.gather(*(loop(task) for task in range(tasks)))
    return done, errors


async def _turn(store: Store, key: ThreadKey, text: str) -> None:
    turn_id = await store.enqueue_turn(key, Incoming(text, user="u"))
    assert turn_id is not None
    await store.start_turn(turn_id)
    await store.finish_turn(turn_id, TurnStatus.DONE)


async def _measure(name: str, url: str) -> tuple[list[Row], list[str]]:
    store = await open_store(url)
    try:
        for i in range(THREADS):
            await store.put_session(_key(i), f"session-{i}", "en")

        async def lookup(task: int, n: int) -> None:
            assert await store.get_thread(_key((task * 7919 + n) % THREADS)) is not None

        async def write(task: int, n: int) -> None:
            await _turn(store, _key(task), f"turn {n}")

        lookups, lookup_errors = await _for_a_while(TASKS, lookup)
        writes, write_errors = await _for_a_while(TASKS, write)
    finally:
        await store.close()

    stores = [await open_store(url) for _ in range(TASKS)]
    try:

        async def replica(task: int, n: int) -> None:
            await _turn(stores[task], _key(1000 + task), f"replica turn {n}")

        replica_writes, replica_errors = await _for_a_while(TASKS, replica)
    finally:
        for opened in stores:
            await opened.close()

    errors = lookup_errors + write_errors + replica_errors
    locked = sum("locked" in e for e in errors)
    rows = [
        Row("store", f"{name}: thread lookups/s", lookups / SECONDS, None, "/s", ""),
        Row(
            "store", f"{name}: turn writes/s (1 store, 50 tasks)", writes / SECONDS, None, "/s", ""
        ),
        Row(
            "store",
            f"{name}: turn writes/s (50 connections)",
            replica_writes / SECONDS,
            None,
            "/s",
            "",
        ),
        Row(
            "store",
            f'{name}: "database is locked" errors',
            locked,
            0,
            "",
            note=f"({len(errors)} errors in all)" if errors else "",
        ),
    ]
    return rows, errors[:3]


async def _postgres() -> tuple[str | None, Callable[[], None]]:
    """A throwaway server from the machine's binaries; (url, stop), or (None, reason-printer)."""
    try:
        from tests.pg import PostgresServer, find_bindir
    except ImportError as exc:  # tests/pg.py needs pytest and asyncpg
        reason = str(exc)
        return None, lambda: print(f"PostgreSQL skipped: {reason}")
    bindir = find_bindir()
    if bindir is None:
        return None, lambda: print("PostgreSQL skipped: no initdb/pg_ctl on this machine")
    run_as = "postgres" if os.geteuid() == 0 else None
    if run_as:
        try:
            pwd.getpwnam(run_as)
        except KeyError:
            return None, lambda: print("PostgreSQL skipped: root, and no `postgres` user")
    server = PostgresServer(bindir, run_as)
    await asyncio.to_thread(server.start)
    url = await server.create_database()
    return url, server.stop


async def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_rows, sample = await _measure("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}")
        rows += sqlite_rows
        for line in sample:
            print("SQLite error:", line)
    url, stop = await _postgres()
    if url is None:
        stop()
        rows.append(Row("store", "PostgreSQL", 0, None, "", "", "(skipped: see output)"))
        return rows
    try:
        pg_rows, sample = await _measure("PostgreSQL", url)
        rows += pg_rows
        for line in sample:
            print("PostgreSQL error:", line)
    finally:
        await asyncio.to_thread(stop)
    return rows


if __name__ == "__main__":
    main(run)
