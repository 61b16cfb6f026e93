"""Bolt's installation and OAuth state stores, kept in Jupiter's own store (both databases).

What must hold:
- one installation per workspace, or per organisation for an Enterprise Grid org-wide install
  (the tenant is then the enterprise id), so each team's events are answered with its own bot
  token (`InstallationStoreAuthorize` finds it by the ids on every request);
- the installation (bot token included) is encrypted at rest by the store's cipher
  (`JUPITER_SECRET_KEY`); `tokens_revoked` / `app_uninstalled` delete it, secrets and all;
- a state is issued by `/slack/install` and consumed once by `/slack/oauth_redirect`; a forged,
  replayed or expired one is refused.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from core.store import Store

from .incoming import PLATFORM

log = logging.getLogger("jupiter.slack")

STATE_SECONDS = 600.0  # Slack's own default for an install link's state


def tenant_of(enterprise_id: str | None, team_id: str | None, org_wide: bool | None) -> str:
    """The tenant an installation serves: the organisation for org-wide installs."""
    if org_wide and enterprise_id:
        return enterprise_id
    return team_id or enterprise_id or ""


def _plain(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else value


class StoreInstallations(AsyncInstallationStore):
    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        tenant = tenant_of(
            installation.enterprise_id, installation.team_id, installation.is_enterprise_install
        )
        data = {k: _plain(v) for k, v in installation.to_dict_for_copying().items()}
        await self._store.put_install(PLATFORM, tenant, json.dumps(data))

    async def async_save_bot(self, bot: Bot) -> None:
        return None  # saved with its installation (`async_save`)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        for tenant in {tenant_of(enterprise_id, team_id, is_enterprise_install), enterprise_id}:
            raw = await self._store.get_install(PLATFORM, tenant) if tenant else None
            if raw is not None:
                data = json.loads(raw)
                if tenant == enterprise_id and not data.get("is_enterprise_install"):
                    continue  # a single workspace of that org, not the one asked for
                return Installation(**data)
        return None

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        found = await self.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        return found.to_bot() if found is not None and found.bot_token else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is not None:
            return None  # a user token revoked: the app keeps its bot installation
        for tenant in {team_id, enterprise_id}:
            if tenant:
                await self._store.delete_install(PLATFORM, tenant)


class StoreStates(AsyncOAuthStateStore):
    def __init__(self, store: Store, expiration_seconds: float = STATE_SECONDS) -> None:
        self._store = store
        self._ttl = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        await self._store.issue_state(state, self._ttl)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self._store.consume_state(state)
