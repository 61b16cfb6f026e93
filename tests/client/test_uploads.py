"""Uploads stream a multipart body of known length, and refuse bad files before a byte is sent."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from core.client import Credentials, NemoClient
from core.client_uploads import multipart_stream
from core.errors import FileTooLarge, NemoError, UnsupportedFileType
from core.files import MAX_UPLOAD_BYTES
from tests.client.conftest import (
    TOKEN_PATH,
    Backend,
    Reply,
    code,
    payload,
    token_reply,
    upload_path,
)

UPLOAD = upload_path("sid")


def _parts(request: httpx.Request) -> tuple[str, bytes]:
    """The boundary and the raw body of a multipart request, checked for shape."""
    match = re.fullmatch(r"multipart/form-data; boundary=(\S+)", request.headers["Content-Type"])
    assert match is not None
    return match.group(1), request.content


def _chunks(*parts: bytes):
    calls: list[int] = []

    async def opener() -> AsyncIterator[bytes]:
        calls.append(1)
        for part in parts:
            yield part

    return opener, calls


async def test_a_file_is_streamed_as_multipart_field_files(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", UPLOAD, Reply(body=payload("upload")))
    data = [bytes([i]) * 70_000 for i in range(3)]
    opener, calls = _chunks(*data)

    result = await nemo.upload_stream(creds, "sid", "Holiday Clip.MP4", 210_000, opener)

    (request,) = backend.requests
    boundary, body = _parts(request)
    assert int(request.headers["Content-Length"]) == len(body)
    assert "Transfer-Encoding" not in request.headers
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="files"; filename="Holiday Clip.MP4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    assert body == head + b"".join(data) + f"\r\n--{boundary}--\r\n".encode()
    assert calls == [1]
    assert result.session_state_applied
    (uploaded,) = result.files
    assert (uploaded.filename, uploaded.file_type, uploaded.duration) == (
        "video.mp4",
        "video",
        30.5,
    )
    assert (uploaded.width, uploaded.height) == (1920, 1080)


async def test_a_renewed_token_reopens_the_stream(
    backend: Backend, nemo: NemoClient, creds: Credentials
) -> None:
    backend.on("POST", UPLOAD, code(1001), Reply(body=payload("upload")))
    backend.on("POST", TOKEN_PATH, token_reply())
    opener, calls = _chunks(b"abc", b"def")

    await nemo.upload_stream(creds, "sid", "a.png", 6, opener)

    assert backend.paths() == [UPLOAD, TOKEN_PATH, UPLOAD]
    assert calls == [1, 1]
    assert backend.requests[2].content.count(b"abcdef") == 1


@pytest.mark.parametrize("name", ["virus.exe", "notes", "archive.zip", "clip.mp4.exe", ".mp4x"])
async def test_an_unsupported_type_is_refused_before_any_request(
    backend: Backend, nemo: NemoClient, name: str
) -> None:
    opener, calls = _chunks(b"x")
    creds = Credentials(client_id="cid")  # no token yet: not even the token call may happen
    with pytest.raises(UnsupportedFileType) as caught:
        await nemo.upload_stream(creds, "sid", name, 1, opener)
    assert caught.value.code == 4001
    assert backend.requests == []
    assert calls == []


async def test_a_file_over_500_mb_is_refused_before_any_request(
    backend: Backend, nemo: NemoClient
) -> None:
    opener, calls = _chunks(b"x")
    with pytest.raises(FileTooLarge) as caught:
        await nemo.upload_stream(
            Credentials(client_id="cid"), "sid", "big.mov", MAX_UPLOAD_BYTES + 1, opener
        )
    assert caught.value.code == 4002
    assert "500 MB" in str(caught.value)
    assert backend.requests == []
    assert calls == []


@pytest.mark.parametrize(
    ("parts", "size", "message"),
    [
        ((b"12345", b"67890"), 20, "ended after 10 of 20 bytes"),
        ((b"12345", b"67890"), 7, "larger than announced"),
        ((), 3, "ended after 0 of 3 bytes"),
    ],
    ids=["short", "long", "empty"],
)
async def test_a_stream_that_does_not_match_its_size_fails(
    backend: Backend,
    nemo: NemoClient,
    creds: Credentials,
    parts: tuple[bytes, ...],
    size: int,
    message: str,
) -> None:
    backend.on("POST", UPLOAD, Reply(body=payload("upload")))
    opener, _ = _chunks(*parts)
    with pytest.raises(NemoError, match=message):
        await nemo.upload_stream(creds, "sid", "a.wav", size, opener)
    assert backend.requests == []  # the transport never got a complete request


async def test_multipart_stream_on_its_own() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"hello "
        yield b"world"

    headers, body = multipart_stream('we"ird\r\nname.txt', "text/plain", 11, chunks())
    data = b"".join([chunk async for chunk in body])
    assert int(headers["Content-Length"]) == len(data)
    assert b'name="files"; filename="weirdname.txt"\r\n' in data
    assert b"Content-Type: text/plain\r\n\r\nhello world\r\n--" in data
    boundary = headers["Content-Type"].split("boundary=")[1]
    assert data.startswith(f"--{boundary}\r\n".encode())
    assert data.endswith(f"\r\n--{boundary}--\r\n".encode())


async def test_multipart_boundaries_differ() -> None:
    async def nothing() -> AsyncIterator[bytes]:
        return
        yield b""

    first, _ = multipart_stream("a.mp4", "video/mp4", 0, nothing())
    second, _ = multipart_stream("a.mp4", "video/mp4", 0, nothing())
    assert first["Content-Type"] != second["Content-Type"]


async def test_multipart_pulls_the_file_one_chunk_at_a_time() -> None:
    """The body is produced as it is sent, so a 500 MB file never sits in memory."""
    pulled: list[int] = []

    async def source() -> AsyncIterator[bytes]:
        for i in range(3):
            pulled.append(i)
            yield b"x" * 10

    _, body = multipart_stream("a.mp4", "video/mp4", 30, source())
    iterator = body.__aiter__()
    head = await iterator.__anext__()
    assert head.startswith(b"--") and pulled == []
    assert await iterator.__anext__() == b"x" * 10
    assert pulled == [0]
    rest = [chunk async for chunk in iterator]
    assert pulled == [0, 1, 2] and len(rest) == 3  # two chunks and the closing boundary
