"""A store that cannot write (disk full, a corrupt or read-only file): nothing acknowledged is
lost. The engine refuses the message (`NotStored`) so the adapter does not acknowledge it and
the platform redelivers; `/healthz` fails while it lasts; text PostgreSQL cannot keep is mended
first; a turn whose outcome could not be recorded is retried, never reported as interrupted.

The store is made read-only for real (SQLite's `PRAGMA query_only`): the same refusal a full
disk or a read-only file gives, from the driver itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.engine.intake import storable
from core.port import NotStored, ReplyKind
from core.runtime import Runtime
from core.sim import LocalBackend
from core.store.base import mend
from tests.fakes.thread import FakeThread
from tests.faults.conftest import answers, key, open_runtime, said


async def _read_only(rt: Runtime, on: bool) -> None:
    await rt.store._db.fetch(f"PRAGMA query_only = {'ON' if on else 'OFF'}")


async def _statuses(rt: Runtime) -> list[str]:
    return [r["status"] for r in await rt.store._db.fetch("SELECT status FROM turns ORDER BY id")]


async def test_a_message_the_store_refuses_is_not_taken_and_its_redelivery_is(
    tmp_path: Path, sim: LocalBackend
) -> None:
    async with open_runtime(tmp_path, sim.base_url) as rt:
        thread = FakeThread(key())
        assert await rt.healthy()
        await _read_only(rt, True)
        assert not await rt.store.writable(max_age=0)
        assert not await rt.healthy()  # /healthz answers 503 meanwhile
        for text in ("a red kite", "status"):  # a stored turn, and an immediate answer
            with pytest.raises(NotStored):
                await rt.engine.handle(thread, said(text, event_id=f"Ev-{text}"))
        await _read_only(rt, False)
        assert await rt.store.writable(max_age=0)
        await rt.engine.handle(thread, said("a red kite", event_id="Ev-a red kite"))  # redelivered
        await rt.engine.idle(30)
        assert len(answers(thread)) == 1
        assert await _statuses(rt) == ["done"]


async def test_the_write_probe_is_rate_limited(tmp_path: Path, sim: LocalBackend) -> None:
    async with open_runtime(tmp_path, sim.base_url) as rt:
        assert await rt.store.writable(max_age=0)
        await _read_only(rt, True)
        assert await rt.store.writable(max_age=60)  # the last probe is recent: not written again
        assert not await rt.store.writable(max_age=0)


def test_unstorable_characters_are_mended() -> None:
    assert mend("a\x00b") == "a\ufffdb"
    assert mend("\ud83d") == "\ufffd"
    assert mend("fine ✓") == "fine ✓"
    incoming = storable(said("kite\x00", attachments=()))
    assert incoming.text == "kite\ufffd"


async def test_a_turn_whose_outcome_could_not_be_stored_is_not_reported_interrupted(
    tmp_path: Path, sim: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_runtime(tmp_path, sim.base_url) as rt:
        real = rt.store.finish_turn
        refusals = {"left": 3}

        async def refusing(*args: Any, **kwargs: Any) -> None:
            if refusals["left"]:
                refusals["left"] -= 1
                await rt.store._db.fetch("PRAGMA query_only = ON")
                try:
                    await real(*args, **kwargs)  # refused by SQLite itself
                finally:
                    await rt.store._db.fetch("PRAGMA query_only = OFF")
            await real(*args, **kwargs)

        monkeypatch.setattr(rt.store, "finish_turn", refusing)
        thread = FakeThread(key())
        await rt.engine.handle(thread, said("a red kite"))
        await rt.engine.idle(30)
        assert refusals["left"] == 0 and not rt.engine.queue.unfinished
        assert await _statuses(rt) == ["done"]
    async with open_runtime(tmp_path, sim.base_url) as again:
        resumed = FakeThread(key())
        again.engine.register("console", lambda _: resumed)
        await again.engine.idle(10)
        assert not [s for s in resumed.log if s.reply and s.reply.kind is ReplyKind.NOTICE]
