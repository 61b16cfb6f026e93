"""A turn whose stream was lost (the connection dropped before the server closed it).

What must hold (NEMO_PROTOCOL.md, "Stream lost"): the message is never re-sent on our own (it
would charge twice). The state is read after the first wait (`JUPITER_RECOVERY_SECONDS`), then
after doubling waits, `READS` reads in all; the first read that differs from the draft before
the turn is the turn's outcome. Each wait is capped at `LONGEST_WAIT_FACTOR` times the first, so
the whole watch is bounded (15 first waits: 7.5 minutes at the default 30 s) while the turn's
heartbeats and lease renewals go on around it.
"""

from __future__ import annotations

import asyncio
import logging

from core.client import Credentials
from core.engine.identity import Identities
from core.errors import BackendUnavailable, RateLimited
from core.models import Draft
from core.port import ThreadKey
from core.renders import draft_fingerprint
from core.timeline import describe_changes

log = logging.getLogger("jupiter.engine")

READS = 5
LONGEST_WAIT_FACTOR = 4


def recovery_waits(first: float) -> tuple[float, ...]:
    """30, 60, 120, 120, 120 for a first wait of 30 s."""
    return tuple(min(first * 2**n, first * LONGEST_WAIT_FACTOR) for n in range(READS))


async def watch_lost_turn(
    identities: Identities,
    key: ThreadKey,
    creds: Credentials,
    session_id: str,
    before: Draft,
    first_wait: float,
) -> Draft | None:
    """The draft once the lost turn's change shows, or None after `READS` unchanged reads (a
    read that fails counts as unchanged: the backend may be the reason the stream broke)."""
    seen = draft_fingerprint(before)
    for wait in recovery_waits(first_wait):
        await asyncio.sleep(wait)
        try:
            after = await identities.fresh_draft(key, creds, session_id)
        except (BackendUnavailable, RateLimited):
            log.info(
                "state unreadable while recovering a lost turn", extra={"thread_key": str(key)}
            )
            continue
        if changed(before, after, seen):
            return after
    return None


def changed(before: Draft, after: Draft, seen: str) -> bool:
    """A draft the backend says differently from the cached one (same source, same shape);
    with nothing cached, only a change a reader would see counts (an empty draft may come back
    in another empty shape)."""
    if before.raw:
        return draft_fingerprint(after) != seen
    return after.ready or bool(describe_changes(before, after))
