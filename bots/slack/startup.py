"""Start-up that names the problem: a token Slack refuses stops the app with one line.

Without these checks a bogus `SLACK_BOT_TOKEN` serves forever (Bolt's async app verifies the
token only on the first request, and every reply then fails), and a bad `SLACK_APP_TOKEN`
makes slack_sdk's Socket Mode client retry every few seconds for ever, logging a traceback
each time. Both become a `SettingsError` naming the variable (status 2); a Slack that cannot
be reached at all names `SLACK_API_URL` (status 1).

A token that works but lacks some of the manifest's scopes (Slack names the granted ones in
`X-OAuth-Scopes` on every answer) is warned about once and served: each feature that needs a
missing scope falls back on its own (no `files:write`: links instead of MP4s, a Home without
posters).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from core.settings import SettingsError

from .oauth import BOT_SCOPES

log = logging.getLogger("jupiter.slack")

REFUSED = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
}
"""Slack's answers that mean the token itself is no good (retrying cannot help)."""
SOCKET_REFUSALS = 3  # consecutive refusals of the app token while running, then give up


def _unreachable(api_url: str, exc: BaseException) -> ConnectionError:
    return ConnectionError(f"could not reach Slack at {api_url} (SLACK_API_URL): {exc}")


async def check_bot_token(client: AsyncWebClient, api_url: str) -> None:
    """`auth.test` with the bot token before serving."""
    try:
        answer = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        raise SettingsError(
            f"SLACK_BOT_TOKEN was refused by Slack ({error}): "
            "copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page"
        ) from None
    except (TimeoutError, ClientError, OSError) as exc:
        raise _unreachable(api_url, exc) from None
    missing = missing_scopes(answer.headers)
    if missing:
        log.warning(
            "the Slack bot token lacks %s: what needs it is skipped; reinstall the app "
            "from deploy/slack/manifest.yml to grant it",
            ", ".join(missing),
        )


def missing_scopes(headers: Mapping[str, Any]) -> list[str]:
    """The manifest's scopes the token was not granted, from `X-OAuth-Scopes` (none known: [])."""
    granted = next((v for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if granted is None:
        return []
    have = {scope.strip() for scope in str(granted).split(",")}
    return [scope for scope in BOT_SCOPES if scope not in have]


def app_token_refused(error: object) -> SettingsError:
    return SettingsError(
        f"SLACK_APP_TOKEN was refused by Slack ({error}): create an app-level token "
        "(xapp-...) with connections:write under Basic Information"
    )


async def connect_socket(socket_client: Any, connect: Callable[[], Awaitable[None]]) -> None:
    """Connect Socket Mode and watch it: an app token refused before the first connection
    fails at once; refused `SOCKET_REFUSALS` times in a row later on, it gives up too. Returns
    only by raising; cancel it to stop."""
    failed: asyncio.Future[SettingsError] = asyncio.get_running_loop().create_future()
    original = socket_client.issue_new_wss_url
    state = {"connected": False, "refusals": 0}

    async def issue_new_wss_url() -> str:
        try:
            url: str = await original()
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in REFUSED:
                state["refusals"] += 1
                limit = SOCKET_REFUSALS if state["connected"] else 1
                if state["refusals"] >= limit and not failed.done():
                    failed.set_result(app_token_refused(error))
            raise
        state["connected"], state["refusals"] = True, 0
        return url

    socket_client.issue_new_wss_url = issue_new_wss_url
    connecting = asyncio.ensure_future(connect())
    try:
        raise await failed
    finally:
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
