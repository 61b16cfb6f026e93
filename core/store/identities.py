"""Who talks to the backend as whom: one backend identity per tenant (workspace, guild, console
user), and per thread its backend session, language and last known draft."""

from __future__ import annotations

import time

from core.port import ThreadKey
from core.store.base import KEY_COLUMNS, KEY_WHERE, SQLTables, TenantRow, ThreadRow, key_params

_INSERT_TENANT = """INSERT INTO tenants (platform, tenant, client_id, token, user_id, expires_at,
      updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, tenant) """


class Identities(SQLTables):
    """Tokens and client ids (either mints a token) are encrypted by the cipher before they are
    written and decrypted when read; plain rows from before the key still read."""

    async def get_tenant(self, platform: str, tenant: str) -> TenantRow | None:
        row = await self._db.fetchrow(
            "SELECT * FROM tenants WHERE platform = ? AND tenant = ?", platform, tenant
        )
        if row is None:
            return None
        token = self._cipher.decrypt(row["token"]) if row["token"] else None
        client_id = self._cipher.decrypt(row["client_id"])
        fixed = self._cipher.decrypt(row["fixed_token"]) if row["fixed_token"] else None
        return TenantRow(
            platform, tenant, client_id, token, row["user_id"], row["expires_at"], fixed
        )

    async def put_fixed_token(
        self, platform: str, tenant: str, token: str | None, client_id: str
    ) -> None:
        """The tenant's own backend token (None: back to the shared/anonymous one), encrypted
        like every token; a missing tenant row is created with `client_id`."""
        await self.create_tenant(TenantRow(platform, tenant, client_id))
        await self._db.execute(
            "UPDATE tenants SET fixed_token = ?, updated_at = ? WHERE platform = ? AND tenant = ?",
            self._cipher.encrypt(token) if token else None,
            time.time(),
            platform,
            tenant,
        )

    async def _insert_tenant(self, row: TenantRow, on_conflict: str) -> None:
        token = self._cipher.encrypt(row.token) if row.token else None
        await self._db.execute(
            _INSERT_TENANT + on_conflict,
            row.platform,
            row.tenant,
            self._cipher.encrypt(row.client_id),
            token,
            row.user_id,
            row.expires_at,
            time.time(),
        )

    async def put_tenant(self, row: TenantRow) -> None:
        """Insert or replace every field (a renewed token, a new backend identity)."""
        await self._insert_tenant(
            row,
            """DO UPDATE SET client_id = excluded.client_id, token = excluded.token,
                 user_id = excluded.user_id, expires_at = excluded.expires_at,
                 updated_at = excluded.updated_at""",
        )

    async def create_tenant(self, row: TenantRow) -> TenantRow:
        """Insert unless the tenant exists; returns the stored row (the first writer wins, so
        two replicas meeting a new workspace at once share one backend identity)."""
        await self._insert_tenant(row, "DO NOTHING")
        stored = await self.get_tenant(row.platform, row.tenant)
        assert stored is not None
        return stored

    async def seal_secrets(self) -> int:
        """Start-up check and migration: every stored secret must open with the key (else
        `SecretKeyError`, before any turn fails on it), and plain rows or rows under an older
        key are rewritten under the first key. A row changed meanwhile by another replica is
        left as that replica wrote it. Returns how many rows were rewritten."""
        rows = await self._db.fetch("SELECT platform, tenant, client_id, token FROM tenants")
        rewritten = 0
        for row in rows:
            client_id, token = row["client_id"], row["token"] or ""
            plain = (self._cipher.decrypt(client_id), self._cipher.decrypt(token) if token else "")
            if not any(self._cipher.stale(v) for v in (client_id, token) if v):
                continue
            rewritten += await self._db.execute(
                """UPDATE tenants SET client_id = ?, token = ? WHERE platform = ? AND tenant = ?
                     AND client_id = ? AND COALESCE(token, '') = ?""",
                self._cipher.encrypt(plain[0]),
                self._cipher.encrypt(plain[1]) if token else None,
                row["platform"],
                row["tenant"],
                client_id,
                token,
            )
        return rewritten + await self._reseal("tenants", "fixed_token")

    async def get_thread(self, key: ThreadKey) -> ThreadRow | None:
        row = await self._db.fetchrow(f"SELECT * FROM threads WHERE {KEY_WHERE}", *key_params(key))
        if row is None:
            return None
        return ThreadRow(
            key,
            row["session_id"],
            row["language"],
            row["created_at"],
            row["last_active"],
            row["draft_json"],
        )

    async def put_session(
        self, key: ThreadKey, session_id: str, language: str, task_id: str | None = None
    ) -> None:
        """Start the thread on a new backend session and its task, in one write: the old
        session's draft, task and claim token go with it (a link never points at the old
        task)."""
        now = time.time()
        await self._db.execute(
            f"""INSERT INTO threads (platform, tenant, channel, thread, session_id, language,
                  task_id, created_at, last_active)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT {KEY_COLUMNS} DO UPDATE SET session_id = excluded.session_id,
                  language = excluded.language, last_active = excluded.last_active,
                  draft_json = NULL, task_id = excluded.task_id, claim_token = NULL,
                  claim_expires_at = NULL""",
            *key_params(key),
            session_id,
            language,
            task_id,
            now,
            now,
        )

    async def forget_session(self, key: ThreadKey) -> None:
        """The backend lost the thread's session: drop it and its draft, keep the language,
        so the next message starts a new session."""
        await self._db.execute(
            f"""UPDATE threads SET session_id = NULL, draft_json = NULL, last_active = ?
                WHERE {KEY_WHERE}""",
            time.time(),
            *key_params(key),
        )

    async def put_draft(self, key: ThreadKey, draft_json: str) -> None:
        """The thread's last known draft; nothing happens for a thread never given a session."""
        await self._db.execute(
            f"UPDATE threads SET draft_json = ?, last_active = ? WHERE {KEY_WHERE}",
            draft_json,
            time.time(),
            *key_params(key),
        )
