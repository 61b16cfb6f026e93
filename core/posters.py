"""A poster for a delivered video: one frame, as a small JPEG, for the places platforms show
an image (a card's thumbnail, a Home view, a file beside the saved MP4).

Made from the MP4 the render produced: streamed to a temporary file (bounded), decoded with
PyAV in a worker thread (the event loop keeps serving), the frame about a second in (the first
frame is often black), scaled to at most `POSTER_LONG_SIDE` and encoded with Pillow. Anything
that goes wrong means no poster, never a lost delivery.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import av
from PIL import Image

log = logging.getLogger("jupiter.posters")

POSTER_LONG_SIDE = 640
POSTER_MAX_SOURCE = 256 * 1024 * 1024  # a longer video is not read for its poster
POSTER_AT_SECONDS = 1.0


async def make_poster(chunks: AsyncIterator[bytes], limit: int = POSTER_MAX_SOURCE) -> bytes | None:
    """The JPEG poster of the MP4 in `chunks`, or None (too large, undecodable)."""
    with tempfile.TemporaryDirectory(prefix="jupiter-poster-") as folder:
        path = Path(folder) / "video.mp4"
        try:
            if not await _spool(chunks, path, limit):
                return None
            return await asyncio.to_thread(poster_of, path)
        except Exception as exc:  # a poster is a nicety
            log.warning("no poster: %s", exc.__class__.__name__)
            return None


async def _spool(chunks: AsyncIterator[bytes], path: Path, limit: int) -> bool:
    written = 0
    handle = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in chunks:
            written += len(chunk)
            if written > limit:
                return False
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    return written > 0


def poster_of(path: Path) -> bytes | None:
    """Decode the frame nearest `POSTER_AT_SECONDS` (or the last one of a shorter clip)."""
    frame_image: Image.Image | None = None
    with av.open(str(path)) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            frame_image = frame.to_image()  # type: ignore[no-untyped-call]
            if frame.time is not None and frame.time >= POSTER_AT_SECONDS:
                break
    if frame_image is None:
        return None
    frame_image.thumbnail((POSTER_LONG_SIDE, POSTER_LONG_SIDE))
    out = io.BytesIO()
    frame_image.convert("RGB").save(out, "JPEG", quality=82)
    return out.getvalue()
