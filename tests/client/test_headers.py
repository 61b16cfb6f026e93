"""Attribution on every request, the client id only on the token call, Bearer everywhere else."""

from __future__ import annotations

import core
from core.client import Credentials, NemoClient
from core.models import Draft
from tests.client.conftest import (
    BALANCE_PATH,
    BASE,
    FAST,
    RENDER_PATH,
    RUN_PATH,
    SESSION_PATH,
    TOKEN_PATH,
    VERSION,
    Backend,
    Reply,
    ok,
    payload,
    sse,
    state_path,
    stream,
    success,
    upload_path,
)

SID = "5529798706024415232"


def _script(backend: Backend) -> None:
    backend.on("POST", TOKEN_PATH, Reply(body=payload("token")))
    backend.on("POST", SESSION_PATH, Reply(body=payload("session")))
    backend.on("GET", BALANCE_PATH, Reply(body=payload("balance")))
    backend.on("GET", state_path(SID), Reply(body=payload("state_nested")))
    backend.on("POST", RUN_PATH, stream(sse({"type": "text", "content": "hi"})))
    backend.on("POST", upload_path(SID), Reply(body=payload("upload")))
    backend.on("POST", RENDER_PATH, Reply(body=payload("render_started")))
    backend.on("GET", f"{RENDER_PATH}/render_1", Reply(body=payload("render_done_flat")))
    backend.on("POST", f"{RENDER_PATH}/render_1/cancel", success({}))


async def _tour(nemo: NemoClient, creds: Credentials) -> None:
    async def body():
        yield b"abc"

    session = await nemo.create_session(creds, "en")
    assert session.session_id == SID
    await nemo.balance(creds)
    await nemo.state(creds, SID)
    assert [type(e).__name__ async for e in nemo.run_turn(creds, SID, "hi")] == [
        "TextEvent",
        "EndEvent",
    ]
    await nemo.upload_stream(creds, SID, "clip.mp4", 3, body)
    await nemo.start_render(creds, SID, Draft.model_validate({"t": []}))
    await nemo.render_status(creds, "render_1")
    await nemo.cancel_render(creds, "render_1")


async def test_every_request_is_attributed_and_only_the_token_call_carries_the_client_id(
    backend: Backend, nemo: NemoClient
) -> None:
    _script(backend)
    creds = Credentials(client_id="cid-stable", platform="discord")

    await _tour(nemo, creds)

    paths = backend.paths()
    assert paths[0] == TOKEN_PATH and paths.count(TOKEN_PATH) == 1
    assert len(paths) == 9  # the tour: token, session, balance, state, turn, upload, render x3
    for request in backend.requests:
        assert request.headers["X-Skill-Source"] == "jupiter-text-to-video"
        assert request.headers["X-Skill-Version"] == VERSION
        assert request.headers["X-Skill-Platform"] == "discord"
        assert "nmv_usr" not in str(request.url)
        if request.url.path == TOKEN_PATH:
            assert request.headers["X-Client-Id"] == "cid-stable"
            assert "Authorization" not in request.headers
        else:
            assert "X-Client-Id" not in request.headers
            assert request.headers["Authorization"] == "Bearer nmv_usr_fresh"
    assert creds.token == "nmv_usr_fresh"
    assert creds.user_id == "anon_7f3a"


async def test_platform_follows_the_credentials(backend: Backend, nemo: NemoClient) -> None:
    backend.on("GET", BALANCE_PATH, Reply(body=payload("balance")))
    for platform in ("slack", "console", "discord"):
        await nemo.balance(Credentials(client_id="c", platform=platform, token="nmv_usr_x"))
    assert [r.headers["X-Skill-Platform"] for r in backend.requests] == [
        "slack",
        "console",
        "discord",
    ]


async def test_the_version_defaults_to_the_package_version(backend: Backend) -> None:
    backend.on("GET", BALANCE_PATH, Reply(body=payload("balance")))
    assert backend.http is not None
    nemo = NemoClient(backend.http, BASE + "/", FAST)
    await nemo.balance(Credentials(client_id="c", token="nmv_usr_x"))
    request = backend.requests[0]
    assert request.headers["X-Skill-Version"] == core.__version__
    assert str(request.url) == BASE + BALANCE_PATH  # trailing slash of the base URL dropped


async def test_the_token_is_fetched_once_and_reused(backend: Backend, nemo: NemoClient) -> None:
    backend.on("POST", TOKEN_PATH, Reply(body=payload("token")))
    backend.on("GET", BALANCE_PATH, Reply(body=payload("balance")))
    renewed: list[str | None] = []

    async def remember(c: Credentials) -> None:
        renewed.append(c.token)

    creds = Credentials(client_id="cid", on_renew=remember)
    await nemo.balance(creds)
    await nemo.balance(creds)
    assert backend.paths() == [TOKEN_PATH, BALANCE_PATH, BALANCE_PATH]
    assert renewed == ["nmv_usr_fresh"]


async def test_a_fixed_token_is_used_as_is(backend: Backend, nemo: NemoClient) -> None:
    backend.on("GET", BALANCE_PATH, Reply(body=payload("balance")))
    await nemo.balance(Credentials(client_id="cid", token="nmv_usr_configured", fixed=True))
    assert backend.paths() == [BALANCE_PATH]
    assert backend.requests[0].headers["Authorization"] == "Bearer nmv_usr_configured"


def test_credentials_never_show_the_token() -> None:
    creds = Credentials(client_id="cid", token="nmv_usr_secret")
    assert "nmv_usr_secret" not in repr(creds)
    assert "nmv_usr_secret" not in str(creds)


async def test_requests_ask_for_json_and_turns_for_an_event_stream(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", BALANCE_PATH, ok({"available": 1, "frozen": 0, "total": 1}))
    backend.on("POST", RUN_PATH, stream(b""))
    await nemo.balance(creds)
    [event async for event in nemo.run_turn(creds, "s1", "x")]
    balance, turn = backend.requests
    assert balance.headers["Accept"] == "application/json"
    assert turn.headers["Accept"] == "text/event-stream"
