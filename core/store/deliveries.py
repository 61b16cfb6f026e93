"""Delivery dedup: every platform event id is acted on once, however often it is redelivered."""

from __future__ import annotations

import time

from core.store.base import SQLTables
from core.store.dialect import Conn

_RECORD = "INSERT INTO seen_events (event_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING"


async def record_delivery(db: Conn, event_id: str, now: float) -> bool:
    """`first_seen` inside a caller's transaction (a turn and its delivery id commit together)."""
    return await db.execute(_RECORD, event_id, now) == 1


class Deliveries(SQLTables):
    async def first_seen(self, event_id: str) -> bool:
        """Record a delivery id; False when it was already recorded."""
        return await record_delivery(self._db, event_id, time.time())
