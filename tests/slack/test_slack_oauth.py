"""Multi-workspace installs over OAuth, end to end over loopback: `/slack/install` ->
the fake authorize page -> `/slack/oauth_redirect` -> `oauth.v2.access` at the fake Web API,
installations kept (encrypted) in the store, each team answered with its own token, a forged
state refused, revocation and Enterprise Grid org-wide installs."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet

from bots.slack.incoming import PLATFORM
from core.port import ThreadKey
from core.sim import LocalBackend
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import payload
from tests.slack.test_slack_end_to_end import WAIT, World, world

COOKIE = "slack-app-oauth-state"


@pytest.fixture
async def w(slack: FakeSlack, sim: LocalBackend, tmp_path: Path) -> AsyncIterator[World]:
    settings: dict[str, Any] = {
        "slack_bot_token": None,
        "slack_client_id": "1111.2222",
        "slack_client_secret": "client-secret-not-real",
        "slack_oauth_authorize_url": f"{slack.base_url}/oauth/v2/authorize",
        "secret_key": Fernet.generate_key().decode(),
    }
    async with world(slack, sim, tmp_path, **settings) as value:
        yield value


def grant(team: str | None, token: str, enterprise: str | None = None) -> dict[str, Any]:
    """What `oauth.v2.access` answers for a bot install (Slack's documented shape)."""
    return {
        "access_token": token,
        "scope": "chat:write,commands",
        "bot_user_id": f"U0BOT{team or enterprise}",
        "team": {"id": team, "name": "Team"} if team else None,
        "enterprise": {"id": enterprise, "name": "Org"} if enterprise else None,
        "is_enterprise_install": team is None,
        "authed_user": {"id": "U0INSTALLER"},
    }


async def install(w: World, code: str, answer: dict[str, Any]) -> int:
    started = await w.app.client.get(f"{w.app.url}/slack/install")
    assert started.status_code == 302
    location = urlsplit(started.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}".startswith(w.slack.base_url)
    query = parse_qs(location.query)
    assert query["client_id"] == ["1111.2222"] and "chat:write" in query["scope"][0]
    (state,) = query["state"]
    assert f"{COOKIE}={state}" in started.headers["set-cookie"]
    w.slack.oauth_codes[code] = answer
    done = await w.app.client.get(
        f"{w.app.url}/slack/oauth_redirect",
        params={"code": code, "state": state},
        headers={"Cookie": f"{COOKIE}={state}"},
    )
    return done.status_code


async def mention(
    w: World, team: str, channel: str, ts: str, text: str = "status", **body: Any
) -> None:
    event = payload("app_mention")["event"]
    event.update(text=f"<@U0BOT> {text}", ts=ts, event_ts=ts, channel=channel, team=team)
    await send_event(w, team, event, **body)


async def send_event(w: World, team: str, event: dict[str, Any], **body: Any) -> None:
    envelope = {
        "team_id": team,
        "api_app_id": "A0JUPITER",
        "event": event,
        "type": "event_callback",
        "event_id": w.app.next_id("Ev"),
        "event_time": int(time.time()),
        **body,
    }
    response = await w.app.send(json.dumps(envelope), "application/json")
    assert response.status_code == 200


def tokens_in(w: World, channel: str) -> set[str | None]:
    return {c.token for c in w.slack.calls("chat.postMessage") if c.args["channel"] == channel}


async def test_install_two_teams_each_answered_with_its_own_token(w: World) -> None:
    assert await install(w, "code-a", grant("T0AAA", "xoxb-team-a-not-real")) == 200
    assert await install(w, "code-b", grant("T0BBB", "xoxb-team-b-not-real")) == 200
    (access, _) = w.slack.calls("oauth.v2.access")
    assert access.args["client_id"] == "1111.2222"
    raw = await w.rt.store._db.fetchrow(  # encrypted at rest
        "SELECT data FROM installations WHERE tenant = ?", "T0AAA"
    )
    assert raw is not None and "xoxb-team-a" not in raw["data"]

    await mention(w, "T0AAA", "C0AAA", "1700000001.000100")
    await mention(w, "T0BBB", "C0BBB", "1700000002.000100")
    await w.slack.wait_for(lambda: tokens_in(w, "C0AAA") and tokens_in(w, "C0BBB"), WAIT)
    await w.rt.engine.idle(WAIT)
    assert tokens_in(w, "C0AAA") == {"xoxb-team-a-not-real"}
    assert tokens_in(w, "C0BBB") == {"xoxb-team-b-not-real"}


async def test_a_forged_state_is_refused(w: World) -> None:
    w.slack.oauth_codes["code-x"] = grant("T0EVIL", "xoxb-evil-not-real")
    forged = await w.app.client.get(
        f"{w.app.url}/slack/oauth_redirect",
        params={"code": "code-x", "state": "forged"},
        headers={"Cookie": f"{COOKIE}=forged"},
    )
    assert forged.status_code >= 400
    assert not w.slack.calls("oauth.v2.access")
    assert await w.rt.store.get_install(PLATFORM, "T0EVIL") is None


async def test_revoked_and_uninstalled_teams_are_forgotten(w: World) -> None:
    assert await install(w, "code-a", grant("T0AAA", "xoxb-team-a-not-real")) == 200
    assert await install(w, "code-b", grant("T0BBB", "xoxb-team-b-not-real")) == 200
    for team, event in (
        ("T0AAA", {"type": "tokens_revoked", "tokens": {"bot": ["U0BOTT0AAA"]}}),
        ("T0BBB", {"type": "app_uninstalled"}),
    ):
        await send_event(w, team, event)
        assert await w.rt.store.get_install(PLATFORM, team) is None


async def test_an_enterprise_org_wide_install_is_one_tenant(w: World) -> None:
    assert await install(w, "code-e", grant(None, "xoxb-org-not-real", enterprise="E0ORG")) == 200
    assert await w.rt.store.get_install(PLATFORM, "E0ORG") is not None
    await mention(
        w,
        "T0CCC",
        "C0CCC",
        "1700000003.000100",
        "a 3-second sunset",
        enterprise_id="E0ORG",
        is_enterprise_install=True,
    )
    await w.slack.wait_for(lambda: tokens_in(w, "C0CCC"), WAIT)
    await w.rt.engine.idle(WAIT)
    assert tokens_in(w, "C0CCC") == {"xoxb-org-not-real"}
    assert (
        await w.rt.store.get_thread(ThreadKey(PLATFORM, "E0ORG", "C0CCC", "1700000003.000100"))
        is not None
    )


async def test_an_installed_teams_files_are_fetched_with_its_own_token(
    slack: FakeSlack, tmp_path: Path
) -> None:
    import httpx

    from bots.slack.client import build_client
    from bots.slack.thread import SlackThreads
    from core.metrics import Metrics
    from core.port import Attachment
    from tests.slack.conftest import BOT_TOKEN, slack_settings

    async def lookup(tenant: str) -> str | None:
        return BOT_TOKEN if tenant == "T0AAA" else None

    settings = slack_settings(slack, tmp_path)
    url = slack.add_file("F1", "clip.mp4", b"\x00" * 1000)
    async with httpx.AsyncClient() as http:
        threads = SlackThreads(
            client=build_client(settings, Metrics(), 0.01),
            http=http,
            settings=settings,
            team_clients=lambda t: build_client(settings, Metrics(), 0.01, tenant=t, lookup=lookup),
        )
        thread = threads(ThreadKey(PLATFORM, "T0AAA", "C0AAA", "1.1"))
        got = b"".join([c async for c in thread.open_attachment(Attachment("clip.mp4", 1000, url))])
    assert got == b"\x00" * 1000
    assert slack.file_requests[-1].headers["Authorization"] == f"Bearer {BOT_TOKEN}"


async def test_usage_for_a_bare_command_speaks_the_users_locale_asked_with_the_teams_token(
    w: World,
) -> None:
    """`/video` alone has no words to decide the language: the user's locale does, asked with
    the installed team's own token (there is no app-wide one), so the usage comes in Chinese."""
    assert await install(w, "code-a", grant("T0AAA", "xoxb-team-a-not-real")) == 200
    w.slack.user_locales["U0ALICE"] = "zh-CN"
    response = await w.app.command("", team_id="T0AAA", user_id="U0ALICE")
    assert response.status_code == 200
    text = response.json()["text"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    (asked,) = w.slack.calls("users.info")
    assert asked.token == "xoxb-team-a-not-real"
