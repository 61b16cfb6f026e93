"""Defaults for new videos, per chat user and per workspace (user id `""`), and what each user
spent today. The user's own defaults apply over the workspace's."""

from __future__ import annotations

import time
from typing import Any

from core.store.base import Defaults, SQLTables

WORKSPACE = ""  # the user id that holds a workspace's (guild's) own defaults


class Preferences(SQLTables):
    async def get_defaults(self, platform: str, tenant: str, user: str) -> Defaults:
        row = await self._db.fetchrow(
            "SELECT * FROM preferences WHERE platform = ? AND tenant = ? AND user_id = ?",
            platform,
            tenant,
            user,
        )
        if row is None:
            return Defaults()
        return Defaults(row["aspect"], row["duration"], row["style"], row["language"])

    async def effective_defaults(self, platform: str, tenant: str, user: str) -> Defaults:
        """The user's defaults over the workspace's, field by field (both rows in one read)."""
        rows = await self._db.fetch(
            """SELECT * FROM preferences
                WHERE platform = ? AND tenant = ? AND user_id IN (?, ?)""",
            platform,
            tenant,
            user,
            WORKSPACE,
        )
        ranked = sorted(rows, key=lambda row: row["user_id"] == WORKSPACE)  # the user's first

        def field(name: str) -> Any:
            return next((row[name] for row in ranked if row[name] is not None), None)

        return Defaults(field("aspect"), field("duration"), field("style"), field("language"))

    async def put_defaults(self, platform: str, tenant: str, user: str, value: Defaults) -> None:
        await self._db.execute(
            """INSERT INTO preferences (platform, tenant, user_id, aspect, duration, style,
                  language, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (platform, tenant, user_id) DO UPDATE SET aspect = excluded.aspect,
                  duration = excluded.duration, style = excluded.style,
                  language = excluded.language, updated_at = excluded.updated_at""",
            platform,
            tenant,
            user,
            value.aspect,
            value.duration,
            value.style,
            value.language,
            time.time(),
        )

    async def spent_today(self, platform: str, tenant: str, user: str, day: str) -> int:
        row = await self._db.fetchrow(
            """SELECT credits FROM usage
                WHERE platform = ? AND tenant = ? AND user_id = ? AND day = ?""",
            platform,
            tenant,
            user,
            day,
        )
        return int(row["credits"]) if row is not None else 0

    async def add_spend(self, platform: str, tenant: str, user: str, day: str, credits: int) -> int:
        """Add `credits` to the user's estimated spend on `day` (UTC); returns the new total."""
        row = await self._db.fetchrow(
            """INSERT INTO usage (platform, tenant, user_id, day, credits) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (platform, tenant, user_id, day)
                DO UPDATE SET credits = usage.credits + excluded.credits
                RETURNING credits""",
            platform,
            tenant,
            user,
            day,
            credits,
        )
        return int(row["credits"]) if row is not None else credits
