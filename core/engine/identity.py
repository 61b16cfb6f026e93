"""Who talks to the backend for a thread, and in which session.

Credentials are per tenant (a workspace, a guild): a configured `NEMO_TOKEN` for all, else an
anonymous token minted once per tenant and kept in the store (renewals persisted, same client
id). A thread's backend session is created on first use, in the language of the platform
locale (or the user's words); its draft is cached after each turn so a turn that ends without
words can be compared with what came before.

The session's task gets a task detail link (`task_link`): a claim token minted on first use,
kept with its expiry and minted again once expired. Getting one never fails a caller: a
refusal means no link this time and another try next time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from core.client import Credentials, NemoClient, new_client_id, task_link
from core.jsonio import json_text
from core.language import session_language
from core.models import ClaimToken, Draft
from core.port import Incoming, ThreadKey
from core.store import Store, TenantRow

log = logging.getLogger("jupiter.engine")
CLAIM_MARGIN_SECONDS = 300.0  # a claim token this close to expiry is renewed before use
DEFAULT_WEB_URL = "https://nemovideo.com"


@dataclass(frozen=True, slots=True)
class Minted:
    """A claim token minted ahead, with the task and session it was minted for."""

    task_id: str
    session_id: str
    token: ClaimToken


class Identities:
    def __init__(
        self,
        client: NemoClient,
        store: Store,
        *,
        nemo_token: str | None,
        language: str,
        web_url: str = DEFAULT_WEB_URL,
    ) -> None:
        self.client = client
        self.store = store
        self.nemo_token = nemo_token
        self.language = language
        self.web_url = web_url
        self._creds: dict[tuple[str, str], Credentials] = {}
        self._lock = asyncio.Lock()

    async def credentials(self, key: ThreadKey) -> Credentials:
        cache_key = (key.platform, key.tenant)
        async with self._lock:
            creds = self._creds.get(cache_key)
            if creds is None:
                creds = await self._load(key)
                self._creds[cache_key] = creds
            return creds

    async def _load(self, key: ThreadKey) -> Credentials:
        if self.nemo_token:
            return Credentials("configured", key.platform, self.nemo_token, fixed=True)
        row = await self.store.get_tenant(key.platform, key.tenant)
        if row is None:
            row = await self.store.create_tenant(
                TenantRow(key.platform, key.tenant, new_client_id())
            )
        if row.fixed_token:  # the workspace's own token, set by its admins
            return Credentials("workspace", key.platform, row.fixed_token, fixed=True)
        creds = Credentials(row.client_id, key.platform, row.token, row.user_id)

        async def persist(c: Credentials) -> None:
            await self.store.put_tenant(
                TenantRow(key.platform, key.tenant, c.client_id, c.token, c.user_id)
            )

        async def reload(c: Credentials) -> None:
            """Another replica won the token race for this client id: use what it stored."""
            stored = await self.store.get_tenant(key.platform, key.tenant)
            if stored is not None and stored.token and stored.client_id == c.client_id:
                c.token, c.user_id = stored.token, stored.user_id or c.user_id

        creds.on_renew = persist
        creds.reload = reload
        return creds

    async def set_fixed_token(self, platform: str, tenant: str, token: str | None) -> None:
        """Store a tenant's own token and drop its cached credentials, so the next turn uses it."""
        await self.store.put_fixed_token(platform, tenant, token, new_client_id())
        async with self._lock:
            self._creds.pop((platform, tenant), None)

    async def anonymous_user(self, key: ThreadKey) -> str | None:
        """The `anon_...` id a register link binds to; None with a configured token."""
        creds = await self.credentials(key)
        return None if creds.fixed else creds.user_id

    async def session(
        self, key: ThreadKey, creds: Credentials, incoming: Incoming
    ) -> tuple[str, Draft]:
        """The thread's backend session (created on first use) and the draft cached after its
        last turn."""
        session_id, draft = await self.stored_session(key)
        if session_id is not None:
            return session_id, draft
        return await self.new_session(key, creds, incoming), Draft()

    async def stored_session(self, key: ThreadKey) -> tuple[str | None, Draft]:
        """The thread's session and the draft cached after its last turn, as stored (None and
        an empty draft before the first turn): whether the next turn makes a new video, known
        without asking the backend."""
        row = await self.store.get_thread(key)
        if row is not None and row.session_id:
            return row.session_id, Draft.from_json(row.draft_json)
        return None, Draft()

    async def new_session(self, key: ThreadKey, creds: Credentials, incoming: Incoming) -> str:
        language = session_language(incoming.locale, incoming.text, self.language)
        info = await self.client.create_session(creds, language)
        await self.store.put_session(key, info.session_id, language, info.task_id)
        return info.session_id

    async def claim_ahead(self, key: ThreadKey) -> Minted | None:
        """A claim token for a thread that has none yet, minted while its first turn streams
        (the backend is idle then, the turn's end is not), for `task_link` to store; None when
        the thread has one, or no task, or the backend refused (the end tries again)."""
        try:
            claim = await self.store.get_claim(key)
            if not claim.session_id or not claim.task_id or claim.token is not None:
                return None
            creds = await self.credentials(key)
            token = await self.client.claim_token(creds, claim.task_id, claim.session_id)
            return Minted(claim.task_id, claim.session_id, token)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.debug("no claim token ahead", extra={"error": exc.__class__.__name__})
            return None

    async def task_link(
        self, key: ThreadKey, *, only_new: bool = False, ahead: Minted | None = None
    ) -> str | None:
        """The thread's task detail link, or None (no session or task yet, or the backend
        refused a claim token: tried again next time). `only_new`: only when no link was made
        for this session yet, so a conversation's start gives it once. `ahead`: a token
        `claim_ahead` minted, used if it is still for the thread's task and session."""
        try:
            claim = await self.store.get_claim(key)
            if not claim.session_id or not claim.task_id:
                return None
            if only_new and claim.token is not None:
                return None
            token = claim.token
            if token is None or claim.expires_at - CLAIM_MARGIN_SECONDS <= time.time():
                if ahead is not None and (ahead.task_id, ahead.session_id) == (
                    claim.task_id,
                    claim.session_id,
                ):
                    fresh = ahead.token
                else:
                    creds = await self.credentials(key)
                    fresh = await self.client.claim_token(creds, claim.task_id, claim.session_id)
                await self.store.put_claim(key, fresh.token, fresh.expires_at)
                token = fresh.token
            return task_link(self.web_url, token)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "no task detail link this time",
                extra={"thread_key": str(key), "error": exc.__class__.__name__},
            )
            return None

    async def fresh_draft(self, key: ThreadKey, creds: Credentials, session_id: str) -> Draft:
        state = await self.client.state(creds, session_id)
        await self.store.put_draft(key, json_text(state.draft.raw))
        return state.draft
