"""Socket Mode gives up on an app token Slack keeps refusing, instead of retrying for ever."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bots.slack.startup import SOCKET_REFUSALS, connect_socket
from core.settings import SettingsError


def _refusal(error: str) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,  # type: ignore[arg-type]
        http_verb="POST",
        api_url="http://127.0.0.1/api/apps.connections.open",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=200,
    )
    return SlackApiError(error, response)


class FlakySocket:
    """slack_sdk's Socket Mode client as far as `connect_socket` sees it: connects, then
    (like its reconnect loop) asks for new URLs after the connection drops."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.asked = 0

    async def issue_new_wss_url(self) -> str:
        self.asked += 1
        answer = self.answers.pop(0) if self.answers else "invalid_auth"
        if answer != "ok":
            raise _refusal(answer)
        return "ws://127.0.0.1/socket"

    async def connect(self) -> None:
        while True:  # slack_sdk retries every `ping_interval`; here at once
            try:
                await self.issue_new_wss_url()
            except SlackApiError:
                await asyncio.sleep(0)


async def test_refused_before_the_first_connection_fails_at_once() -> None:
    socket = FlakySocket(["invalid_auth"])
    with pytest.raises(SettingsError, match="SLACK_APP_TOKEN was refused by Slack"):
        await asyncio.wait_for(connect_socket(socket, socket.connect), 5)
    assert socket.asked == 1


async def test_refused_repeatedly_later_on_gives_up() -> None:
    socket = FlakySocket(["ok", "invalid_auth", "ok", *["token_revoked"] * SOCKET_REFUSALS])

    async def connect_once() -> None:
        await socket.issue_new_wss_url()  # the watched one, as slack_sdk calls it

    failing = asyncio.ensure_future(connect_socket(socket, connect_once))
    await asyncio.sleep(0.01)
    assert not failing.done()  # connected: it serves until the token goes bad
    with pytest.raises(SlackApiError):
        await socket.issue_new_wss_url()  # one refusal while running is retried
    await socket.issue_new_wss_url()  # and a success resets the count
    for _ in range(SOCKET_REFUSALS):
        assert not failing.done()
        with pytest.raises(SlackApiError):
            await socket.issue_new_wss_url()
    with pytest.raises(SettingsError, match="token_revoked"):
        await asyncio.wait_for(failing, 5)
