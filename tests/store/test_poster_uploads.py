"""Posters hosted by a chat platform (a Slack file id per workspace and video), on SQLite and
PostgreSQL: first writer wins, and only refused ids past their grace are forgotten."""

from __future__ import annotations

import asyncio
import time

from core.store import Store


async def test_one_file_id_per_workspace_and_video_first_writer_wins(store: Store) -> None:
    assert await store.poster_uploads("slack", "T1", ["r1", "r2"]) == {}
    kept = await asyncio.gather(
        *(store.put_poster_upload("slack", "T1", "r1", f"F0000000{i}") for i in range(5))
    )
    assert len(set(kept)) == 1
    await store.put_poster_upload("slack", "T2", "r1", "F00000009")  # another workspace
    assert await store.poster_uploads("slack", "T1", ["r1", "r2"]) == {"r1": kept[0]}
    assert await store.poster_uploads("slack", "T2", ["r1"]) == {"r1": "F00000009"}
    assert await store.poster_uploads("discord", "T1", ["r1"]) == {}
    assert await store.poster_uploads("slack", "T1", []) == {}


async def test_a_refused_file_is_forgotten_only_past_its_grace(store: Store) -> None:
    now = time.time()
    await store.put_poster_upload("slack", "T1", "old", "F0000OLD1", now=now - 600)
    await store.put_poster_upload("slack", "T1", "new", "F0000NEW1", now=now)
    cutoff = now - 60
    assert await store.forget_poster_uploads("slack", "T1", ["F0000OLD1", "F0000NEW1"], cutoff) == 1
    assert await store.poster_uploads("slack", "T1", ["old", "new"]) == {"new": "F0000NEW1"}
    assert await store.forget_poster_uploads("slack", "T1", [], cutoff) == 0
    assert await store.put_poster_upload("slack", "T1", "old", "F0000OLD2") == "F0000OLD2"
