"""Error codes become exceptions; 1001, 429 and a missing client id are retried exactly once;
transport errors and 5xx are retried only where the call is idempotent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from core.client import Credentials, NemoClient
from core.errors import (
    BackendUnavailable,
    ExportBlocked,
    FileRejected,
    FileTooLarge,
    MissingClientId,
    NemoError,
    OutOfCredits,
    RateLimited,
    RenderFailed,
    SessionNotFound,
    TokenRejected,
    UnsupportedFileType,
)
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
    state_path,
    success,
    token_reply,
    upload_path,
)

STATE = state_path("sid")
EMPTY_STATE = ok({"state": {"draft": {"t": []}}})


# -- 1001: renew with the same client id, retry once ---------------------------------------


@pytest.mark.parametrize(
    "rejection",
    [code(1001, "token expired"), code(1001, "token expired", status=401), Reply(401, {})],
    ids=["http200", "http401-code", "http401-bare"],
)
async def test_1001_renews_with_the_same_client_id_and_retries_once(
    backend: Backend, nemo: NemoClient, creds: Credentials, rejection: Reply
) -> None:
    backend.on("GET", STATE, rejection, EMPTY_STATE)
    backend.on("POST", TOKEN_PATH, token_reply("nmv_usr_new"))

    await nemo.state(creds, "sid")

    assert backend.paths() == [STATE, TOKEN_PATH, STATE]
    first, renewal, retry = backend.requests
    assert first.headers["Authorization"] == "Bearer nmv_usr_old"
    assert renewal.headers["X-Client-Id"] == "cid-1"
    assert retry.headers["Authorization"] == "Bearer nmv_usr_new"
    assert creds.token == "nmv_usr_new"
    assert creds.client_id == "cid-1"


async def test_1001_twice_gives_up_after_one_renewal(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", STATE, code(1001, "token expired"))
    backend.on("POST", TOKEN_PATH, token_reply("nmv_usr_new"))

    with pytest.raises(TokenRejected) as caught:
        await nemo.state(creds, "sid")

    assert backend.paths() == [STATE, TOKEN_PATH, STATE]
    assert caught.value.code == 1001
    assert "nmv_usr" not in str(caught.value)


async def test_a_fixed_token_is_never_renewed(backend: Backend, nemo: NemoClient) -> None:
    backend.on("GET", STATE, code(1001, "token expired"))
    backend.on("POST", TOKEN_PATH, token_reply())
    creds = Credentials(client_id="cid", token="nmv_usr_configured", fixed=True)

    with pytest.raises(TokenRejected):
        await nemo.state(creds, "sid")
    with pytest.raises(TokenRejected):
        await nemo.renew(creds, "nmv_usr_configured")

    assert backend.paths() == [STATE]
    assert creds.token == "nmv_usr_configured"


async def test_a_token_already_renewed_by_another_task_is_not_renewed_again(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", TOKEN_PATH, token_reply("nmv_usr_new"))
    await nemo.renew(creds, "nmv_usr_stale")  # creds hold nmv_usr_old, not the stale one
    assert backend.requests == []
    await nemo.renew(creds, "nmv_usr_old")
    assert backend.paths() == [TOKEN_PATH]
    assert creds.token == "nmv_usr_new"


# -- HTTP 400 on the token call: a fresh client id ------------------------------------------


async def test_400_on_the_token_call_generates_a_new_client_id_and_retries(
    backend: Backend, nemo: NemoClient
) -> None:
    backend.on(
        "POST",
        TOKEN_PATH,
        Reply(400, {"code": 400, "message": "missing X-Client-Id"}),
        token_reply(),
    )
    backend.on("GET", BALANCE_PATH, Reply(body=payload("balance")))
    creds = Credentials(client_id="", platform="slack")

    await nemo.balance(creds)

    assert backend.paths() == [TOKEN_PATH, TOKEN_PATH, BALANCE_PATH]
    first, second = backend.calls(TOKEN_PATH)
    assert first.headers["X-Client-Id"] == ""
    assert second.headers["X-Client-Id"] == creds.client_id
    assert creds.client_id.startswith("jupiter-") and len(creds.client_id) > 16
    assert creds.token == "nmv_usr_fresh"


async def test_400_twice_on_the_token_call_is_missing_client_id(
    backend: Backend, nemo: NemoClient
) -> None:
    backend.on("POST", TOKEN_PATH, Reply(400, {"code": 400, "message": "missing X-Client-Id"}))
    with pytest.raises(MissingClientId):
        await nemo.balance(Credentials(client_id="cid"))
    assert backend.paths() == [TOKEN_PATH, TOKEN_PATH]


# -- codes to exceptions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error", "number"),
    [
        (code(1002, "session not found"), SessionNotFound, 1002),
        (Reply(404, {"detail": "Session not found"}), SessionNotFound, 1002),
        (code(2001, "insufficient credits"), OutOfCredits, 2001),
        (code(4001, "unsupported file type"), UnsupportedFileType, 4001),
        (code(4002, "file too large"), FileTooLarge, 4002),
        (Reply(402, {"code": 402, "message": "upgrade"}), ExportBlocked, 402),
        (Reply(402, {"success": False, "error": "free plan"}), ExportBlocked, 402),
        (Reply(402, {}), ExportBlocked, 402),
        (code(9999, "something new"), NemoError, 9999),
    ],
    ids=["1002", "404-detail", "2001", "4001", "4002", "402", "402-success", "402-bare", "unknown"],
)
async def test_error_codes_become_exceptions(
    backend: Backend,
    nemo: NemoClient,
    creds: Credentials,
    reply: Reply,
    error: type[NemoError],
    number: int,
) -> None:
    backend.on("GET", STATE, reply)
    with pytest.raises(error) as caught:
        await nemo.state(creds, "sid")
    assert type(caught.value) is error
    assert caught.value.code == number
    assert len(backend.requests) == 1  # none of these is retried
    assert "nmv_usr" not in str(caught.value)


async def test_the_404_detail_is_the_message(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", STATE, Reply(404, {"detail": "Session 123 not found"}))
    with pytest.raises(SessionNotFound, match="Session 123 not found"):
        await nemo.state(creds, "sid")


async def test_file_errors_from_the_backend_share_a_base(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", upload_path("sid"), code(4002, "too big"))
    with pytest.raises(FileRejected):
        await nemo.upload_stream(creds, "sid", "big.mp4", 3, _three_bytes)


async def _three_bytes() -> AsyncIterator[bytes]:
    yield b"abc"


async def test_402_on_export_is_export_blocked_not_a_failed_render(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", RENDER_PATH, Reply(402, {"success": False, "error": "plan"}))
    with pytest.raises(ExportBlocked) as caught:
        await nemo.start_render(creds, "sid", Draft.model_validate({"t": []}))
    assert not isinstance(caught.value, RenderFailed)
    assert len(backend.requests) == 1


# -- 429: wait, retry once --------------------------------------------------------------------


async def test_429_waits_then_retries_once(backend: Backend, creds: Credentials) -> None:
    nemo = backend.client(retry_after_seconds=0.05)
    backend.on("GET", STATE, Reply(429, {}), EMPTY_STATE)
    started = time.monotonic()
    await nemo.state(creds, "sid")
    assert time.monotonic() - started >= 0.045
    assert backend.paths() == [STATE, STATE]


async def test_429_twice_is_rate_limited(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", SESSION_PATH, Reply(429, {}))
    with pytest.raises(RateLimited) as caught:
        await nemo.create_session(creds)
    assert caught.value.code == 429
    assert backend.paths() == [SESSION_PATH, SESSION_PATH]


async def test_429_on_the_token_call_is_retried_once(backend: Backend, nemo: NemoClient) -> None:
    backend.on("POST", TOKEN_PATH, Reply(429, {}), token_reply())
    backend.on("GET", BALANCE_PATH, Reply(body=payload("balance")))
    await nemo.balance(Credentials(client_id="cid"))
    assert backend.paths() == [TOKEN_PATH, TOKEN_PATH, BALANCE_PATH]


async def test_429_then_1001_is_each_retried_once(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("GET", STATE, Reply(429, {}), code(1001), EMPTY_STATE)
    backend.on("POST", TOKEN_PATH, token_reply())
    await nemo.state(creds, "sid")
    assert backend.paths() == [STATE, STATE, TOKEN_PATH, STATE]


# -- transport errors and 5xx ---------------------------------------------------------------


def _idempotent_calls(nemo: NemoClient, creds: Credentials) -> dict:
    return {
        STATE: lambda: nemo.state(creds, "sid"),
        BALANCE_PATH: lambda: nemo.balance(creds),
        f"{RENDER_PATH}/render_1": lambda: nemo.render_status(creds, "render_1"),
    }


FAILURES = [
    httpx.ConnectError("refused"),
    httpx.ReadTimeout("slow"),
    httpx.RemoteProtocolError("reset"),
    Reply(500, {}),
    Reply(502, raw=b"<html>bad gateway</html>"),
    Reply(503, {"code": 503, "message": "down"}),
]
FAILURE_IDS = ["connect", "read-timeout", "protocol", "500", "502-html", "503"]


@pytest.mark.parametrize("path", [STATE, BALANCE_PATH, f"{RENDER_PATH}/render_1"])
@pytest.mark.parametrize("failure", FAILURES, ids=FAILURE_IDS)
async def test_idempotent_calls_retry_until_they_succeed(
    backend: Backend, nemo: NemoClient, creds: Credentials, path: str, failure: object
) -> None:
    good = {
        STATE: EMPTY_STATE,
        BALANCE_PATH: Reply(body=payload("balance")),
        f"{RENDER_PATH}/render_1": Reply(body=payload("render_done_flat")),
    }[path]
    backend.on("GET", path, failure, failure, failure, good)
    await _idempotent_calls(nemo, creds)[path]()
    assert backend.paths() == [path] * 4


@pytest.mark.parametrize("failure", FAILURES, ids=FAILURE_IDS)
async def test_idempotent_calls_give_up_after_max_attempts(
    backend: Backend, creds: Credentials, failure: object
) -> None:
    nemo = backend.client(max_attempts=3)
    backend.on("GET", STATE, failure)
    with pytest.raises(BackendUnavailable):
        await nemo.state(creds, "sid")
    assert backend.paths() == [STATE] * 3


async def test_cancel_is_retried_as_idempotent(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    cancel = f"{RENDER_PATH}/render_1/cancel"
    backend.on("POST", cancel, Reply(503, {}), success({}))
    await nemo.cancel_render(creds, "render_1")
    assert backend.paths() == [cancel, cancel]


@pytest.mark.parametrize("failure", FAILURES, ids=FAILURE_IDS)
@pytest.mark.parametrize("call", ["create_session", "start_render", "upload_stream"])
async def test_non_idempotent_calls_are_never_resent(
    backend: Backend, nemo: NemoClient, creds: Credentials, failure: object, call: str
) -> None:
    backend.on("POST", SESSION_PATH, failure)
    backend.on("POST", RENDER_PATH, failure)
    backend.on("POST", upload_path("sid"), failure)

    async def chunks():
        yield b"0123456789"

    calls = {
        "create_session": lambda: nemo.create_session(creds),
        "start_render": lambda: nemo.start_render(creds, "sid", Draft.model_validate({"t": []})),
        "upload_stream": lambda: nemo.upload_stream(creds, "sid", "a.mp4", 10, chunks),
    }
    with pytest.raises(BackendUnavailable):
        await calls[call]()
    assert len(backend.requests) == 1


async def test_transport_errors_on_the_token_call_are_retried(
    backend: Backend, nemo: NemoClient
) -> None:
    backend.on("POST", TOKEN_PATH, httpx.ConnectError("refused"), Reply(502, {}), token_reply())
    backend.on("GET", BALANCE_PATH, Reply(body=payload("balance")))
    await nemo.balance(Credentials(client_id="cid"))
    assert backend.paths() == [TOKEN_PATH] * 3 + [BALANCE_PATH]


async def test_backoff_grows_and_is_capped(backend: Backend, creds: Credentials) -> None:
    nemo = backend.client(backoff_seconds=0.01, backoff_cap_seconds=0.02, max_attempts=4)
    stamps: list[float] = []

    def failing(request: httpx.Request) -> Reply:
        stamps.append(time.monotonic())
        return Reply(503, {})

    backend.on("GET", STATE, failing)
    with pytest.raises(BackendUnavailable):
        await nemo.state(creds, "sid")
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert len(gaps) == 3
    assert gaps[0] >= 0.009 and gaps[1] >= 0.019 and gaps[2] >= 0.019
    assert max(gaps) < 0.5


async def test_concurrent_1001s_share_one_renewal(creds: Credentials) -> None:
    """Two calls rejected together renew once; the second sees the first one's token."""
    requests: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        await asyncio.sleep(0.01)  # both calls are in flight before either is answered
        if request.url.path == TOKEN_PATH:
            return httpx.Response(200, json=payload("token"))
        if request.headers["Authorization"] == "Bearer nmv_usr_old":
            return httpx.Response(200, json={"code": 1001, "message": "expired"})
        return httpx.Response(200, json=payload("balance"))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        nemo = NemoClient(http, BASE, FAST)
        first, second = await asyncio.gather(nemo.balance(creds), nemo.balance(creds))

    assert first.available == second.available == 25000
    paths = [r.url.path for r in requests]
    assert paths.count(TOKEN_PATH) == 1
    assert paths.count(BALANCE_PATH) == 4
    assert creds.token == "nmv_usr_fresh"
