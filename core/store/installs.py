"""App installations of chat platforms that install per workspace (or per organisation), and the
one-time states of their install flows.

What must hold: an installation's data (it holds bot tokens) is encrypted by the cipher before it
is written; deleting a tenant's installation removes its secrets; a state is consumed once and
only before it expires (a forged or replayed state is refused).
"""

from __future__ import annotations

import time

from core.store.base import SQLTables


class Installs(SQLTables):
    async def put_install(self, platform: str, tenant: str, data: str) -> None:
        await self._db.execute(
            """INSERT INTO installations (platform, tenant, data, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (platform, tenant) DO UPDATE SET data = excluded.data,
                  updated_at = excluded.updated_at""",
            platform,
            tenant,
            self._cipher.encrypt(data),
            time.time(),
        )

    async def get_install(self, platform: str, tenant: str) -> str | None:
        row = await self._db.fetchrow(
            "SELECT data FROM installations WHERE platform = ? AND tenant = ?", platform, tenant
        )
        return self._cipher.decrypt(row["data"]) if row is not None else None

    async def delete_install(self, platform: str, tenant: str) -> int:
        return await self._db.execute(
            "DELETE FROM installations WHERE platform = ? AND tenant = ?", platform, tenant
        )

    async def seal_installs(self) -> int:
        """Like `Identities.seal_secrets`, for installations: each must open with the key
        (else `SecretKeyError`); plain ones or ones under an older key are rewritten."""
        return await self._reseal("installations", "data")

    async def issue_state(self, state: str, ttl_seconds: float) -> None:
        await self._db.execute(
            "INSERT INTO install_states (state, expires_at) VALUES (?, ?)",
            state,
            time.time() + ttl_seconds,
        )

    async def consume_state(self, state: str) -> bool:
        """True once for a state issued here and not yet expired; it is gone afterwards."""
        row = await self._db.fetchrow(
            "DELETE FROM install_states WHERE state = ? RETURNING expires_at", state
        )
        await self._db.execute("DELETE FROM install_states WHERE expires_at < ?", time.time())
        return row is not None and float(row["expires_at"]) >= time.time()
