"""The too-large upload: every adapter refuses it the same way, and the engine copes.

The engine posts a finished video's link before it offers the file, so an upload that does
not fit is not an error anyone sees: the adapter raises `UploadTooLarge` (before the first
byte when the size is known, or as soon as the stream outgrows the limit) and the link stands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from bots.base.words import Words
from core.messages import say


class UploadTooLarge(Exception):
    """The file is over the thread's upload limit; the link already posted stands alone."""


def check_fits(filename: str, size: int, limit: int, platform: str, language: str = "en") -> None:
    """Refuse before the first call when the size is known to be over `limit`."""
    if size > limit:
        raise UploadTooLarge(
            say(
                Words.UPLOAD_TOO_LARGE,
                language,
                filename=filename,
                size=size,
                platform=platform,
                limit=limit,
            )
        )


async def within_limit(
    chunks: AsyncIterator[bytes], filename: str, limit: int, language: str = "en"
) -> AsyncIterator[bytes]:
    """`chunks` passed through, stopped with `UploadTooLarge` once they exceed `limit`."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise UploadTooLarge(say(Words.UPLOAD_GREW, language, filename=filename, limit=limit))
        yield chunk
