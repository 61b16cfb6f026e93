"""Uploads as streamed `multipart/form-data`: a file is never held in memory whole, and its
length is announced up front, so a source that yields more or fewer bytes than it claimed is
refused before the request completes (the backend never gets a truncated file)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from core.errors import NemoError


def multipart_stream(
    filename: str, content_type: str, size: int, chunks: AsyncIterator[bytes]
) -> tuple[dict[str, str], AsyncIterator[bytes]]:
    """A `multipart/form-data` body with one `files` part, streamed with a known length."""
    boundary = uuid.uuid4().hex
    safe_name = "".join(ch for ch in filename if ch not in '"\r\n\\') or "upload"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="files"; filename="{safe_name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        sent = 0
        async for chunk in chunks:
            sent += len(chunk)
            if sent > size:
                raise NemoError(f"{filename!r} is larger than announced")
            yield chunk
        if sent != size:
            raise NemoError(f"{filename!r} ended after {sent} of {size} bytes")
        yield tail

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
    }
    return headers, body()
