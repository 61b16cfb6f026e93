"""The too-large upload: every adapter refuses it the same way, and the engine copes.

The engine posts a finished video's link before it offers the file, so an upload that does
not fit is not an error anyone sees: the adapter raises `UploadTooLarge` (before the first
byte when the size is known, or as soon as the stream outgrows the limit) and the link stands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator


class UploadTooLarge(Exception):
    """The file is over the thread's upload limit; the link already posted stands alone."""


def check_fits(filename: str, size: int, limit: int, platform: str) -> None:
    """Refuse before the first call when the size is known to be over `limit`."""
    if size > limit:
        raise UploadTooLarge(
            f"{filename} is {size} bytes, over the {platform} upload limit of {limit}"
        )


async def within_limit(
    chunks: AsyncIterator[bytes], filename: str, limit: int
) -> AsyncIterator[bytes]:
    """`chunks` passed through, stopped with `UploadTooLarge` once they exceed `limit`."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise UploadTooLarge(f"{filename} grew past the upload limit of {limit} bytes")
        yield chunk
