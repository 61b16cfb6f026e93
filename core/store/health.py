"""Whether the store can *write*: `/healthz` must fail while a disk is full, a file corrupt or a
database read-only, since every message acknowledged then would be lost. `SELECT 1` answers in
all of those cases; a one-row UPSERT does not.

The probe is rate-limited (`PROBE_SECONDS`): an orchestrator or a load balancer may poll
`/healthz` many times a second, and each poll must not become a write.
"""

from __future__ import annotations

import logging
import time

from core.store.base import SQLTables

log = logging.getLogger("jupiter.store")

PROBE_SECONDS = 3.0


class Health(SQLTables):
    _probed_at: float = 0.0
    _writable: bool = True

    async def writable(self, *, max_age: float = PROBE_SECONDS) -> bool:
        """True when a write went through within `max_age` seconds (probing again if older)."""
        now = time.monotonic()
        if self._probed_at and now - self._probed_at < max_age:
            return self._writable
        self._probed_at = now
        try:
            await self._db.execute(
                """INSERT INTO health (id, checked_at) VALUES (1, ?)
                   ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at""",
                time.time(),
            )
            self._writable = True
        except Exception as exc:  # any driver's failure means the same: nothing can be stored
            if self._writable:
                log.error("the store cannot write: %s", exc.__class__.__name__)
            self._writable = False
        return self._writable
