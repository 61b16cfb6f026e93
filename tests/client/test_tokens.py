"""Token rules of the real agent: tokens expire (renewed before use), 1001/1010/1011/401 renew
with the same client id, a 429 on the token call keeps the stored token, and a burst of callers
shares one token request per client id. Plus claim tokens (task detail links) and 402."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from core.client import ClaimToken, Credentials, NemoClient, task_link
from core.client_transport import expiry_time
from core.errors import ExportBlocked, RateLimited, TokenRejected
from core.models import Draft
from tests.client.conftest import (
    BALANCE_PATH,
    BASE,
    FAST,
    RENDER_PATH,
    SESSION_PATH,
    TOKEN_PATH,
    Backend,
    Reply,
    code,
    ok,
    payload,
    token_reply,
)

CLAIM_PATH = "/api/auth/claim-token"
BALANCE = Reply(body=payload("balance"))


def test_expiry_is_read_from_iso_8601() -> None:
    assert expiry_time("2030-01-01T00:00:00Z") == 1893456000.0
    assert expiry_time("2030-01-01T01:00:00+01:00") == 1893456000.0
    assert expiry_time("soon") is None and expiry_time(None) is None
    assert expiry_time("2030-01-01T00:00:00") is None  # no zone: unknown, not guessed


async def test_a_new_token_records_its_expiry(backend: Backend, nemo: NemoClient) -> None:
    backend.on("POST", TOKEN_PATH, token_reply())
    backend.on("GET", BALANCE_PATH, BALANCE)
    creds = Credentials(client_id="cid")
    await nemo.balance(creds)
    assert creds.expires_at == 1893456000.0 and not creds.expired


async def test_an_expired_token_is_renewed_before_use(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", TOKEN_PATH, token_reply("nmv_usr_new"))
    backend.on("GET", BALANCE_PATH, BALANCE)
    creds.expires_at = time.time() - 1
    assert creds.expired
    await nemo.balance(creds)
    assert backend.paths() == [TOKEN_PATH, BALANCE_PATH]
    assert backend.calls(TOKEN_PATH)[0].headers["X-Client-Id"] == "cid-1"
    assert backend.calls(BALANCE_PATH)[0].headers["Authorization"] == "Bearer nmv_usr_new"


@pytest.mark.parametrize(
    "rejection",
    [code(1010, "token revoked"), code(1011, "token invalid"), Reply(401, {"detail": "no"})],
    ids=["1010", "1011", "http401"],
)
async def test_1010_1011_and_401_renew_with_the_same_client_id(
    backend: Backend, nemo: NemoClient, creds: Credentials, rejection: Reply
) -> None:
    backend.on("GET", BALANCE_PATH, rejection, BALANCE)
    backend.on("POST", TOKEN_PATH, token_reply("nmv_usr_new"))
    await nemo.balance(creds)
    assert backend.paths() == [BALANCE_PATH, TOKEN_PATH, BALANCE_PATH]
    assert backend.calls(TOKEN_PATH)[0].headers["X-Client-Id"] == "cid-1"
    assert creds.token == "nmv_usr_new" and creds.client_id == "cid-1"


async def test_1010_twice_is_token_rejected(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", BALANCE_PATH, code(1010, "revoked"))
    backend.on("POST", TOKEN_PATH, token_reply("nmv_usr_new"))
    with pytest.raises(TokenRejected) as caught:
        await nemo.balance(creds)
    assert caught.value.code == 1010


async def test_429_on_renewal_keeps_the_stored_token(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    """The token lapsed by our clock; the backend refuses a second one: use the one we have."""
    backend.on("POST", TOKEN_PATH, Reply(429, {"code": 429, "message": "one per week"}))
    backend.on("GET", BALANCE_PATH, BALANCE)
    creds.expires_at = time.time() - 1
    await nemo.balance(creds)
    assert backend.paths() == [TOKEN_PATH, BALANCE_PATH]  # no wait, no second token call
    assert backend.calls(BALANCE_PATH)[0].headers["Authorization"] == "Bearer nmv_usr_old"
    assert creds.token == "nmv_usr_old"


async def test_429_without_a_stored_token_waits_once_then_says_why(
    backend: Backend, nemo: NemoClient
) -> None:
    backend.on("POST", TOKEN_PATH, Reply(429, {}))
    backend.on("GET", BALANCE_PATH, BALANCE)
    with pytest.raises(RateLimited) as caught:
        await nemo.balance(Credentials(client_id="cid"))
    assert backend.paths() == [TOKEN_PATH, TOKEN_PATH]
    assert "NEMO_TOKEN" in caught.value.message and "anonymous" in caught.value.message


async def test_twenty_callers_share_one_token_request() -> None:
    """Twenty chats of one tenant (separate Credentials, one client id) start at once."""
    requests: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == TOKEN_PATH:
            await asyncio.sleep(0.05)  # every caller arrives while the request is in flight
            return httpx.Response(200, json=payload("token"))
        return httpx.Response(200, json=payload("balance"))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        nemo = NemoClient(http, BASE, FAST)
        everyone = [Credentials(client_id="tenant-1") for _ in range(20)]
        await asyncio.gather(*(nemo.balance(creds) for creds in everyone))

    assert [r.url.path for r in requests].count(TOKEN_PATH) == 1
    assert {creds.token for creds in everyone} == {"nmv_usr_fresh"}


async def test_a_failed_shared_token_request_reaches_every_caller() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)
        return httpx.Response(200, json={"code": 2001, "message": "nope"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        nemo = NemoClient(http, BASE, FAST)
        results = await asyncio.gather(
            *(nemo.balance(Credentials(client_id="t")) for _ in range(5)), return_exceptions=True
        )
    assert all(isinstance(result, Exception) for result in results)


# -- task detail link ---------------------------------------------------------------------------


async def test_create_session_returns_the_task_id(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", SESSION_PATH, Reply(body=payload("session")))
    info = await nemo.create_session(creds)
    assert info.task_id and info.task_id.startswith("task_")


async def test_claim_token_and_its_link(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", CLAIM_PATH, ok({"claim_token": "clm_abc123", "expires_in": 604800}))
    before = time.time()
    claim = await nemo.claim_token(creds, "task_1", "5529")
    assert claim == ClaimToken(claim_token="clm_abc123", expires_at=claim.expires_at)
    assert before + 604800 <= claim.expires_at <= time.time() + 604800
    sent = backend.calls(CLAIM_PATH)[0]
    assert json.loads(sent.content) == {"task_id": "task_1", "session_id": "5529"}
    assert sent.headers["Authorization"] == "Bearer nmv_usr_old"
    link = task_link("https://nemovideo.com/", claim)
    assert link == "https://nemovideo.com/workspace/claim?ct=clm_abc123"
    assert "nmv_usr" not in link
    assert (
        task_link("https://web.test", "clm_a&b") == "https://web.test/workspace/claim?ct=clm_a%26b"
    )


async def test_a_claim_answer_without_a_token_is_a_protocol_error(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    from core.errors import ProtocolError

    backend.on("POST", CLAIM_PATH, ok({"expires_in": 10}))
    with pytest.raises(ProtocolError):
        await nemo.claim_token(creds, "task_1", "5529")


@pytest.mark.parametrize(
    "refusal",
    [
        Reply(402, {"code": 402, "message": "free plan export blocked"}),
        Reply(402, {"success": False, "error": "plan"}),
        Reply(402, {"detail": "Payment Required"}),
    ],
    ids=["code", "success", "detail"],
)
async def test_402_on_render_is_export_blocked_and_never_retried(
    backend: Backend, nemo: NemoClient, creds: Credentials, refusal: Reply
) -> None:
    backend.on("POST", RENDER_PATH, refusal)
    with pytest.raises(ExportBlocked) as caught:
        await nemo.start_render(creds, "sid", Draft.model_validate({"t": []}))
    assert caught.value.code == 402
    assert backend.paths() == [RENDER_PATH]
