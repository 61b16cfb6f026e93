"""Which files the backend takes, checked from the name and size before a byte is sent."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal

from core.errors import FileTooLarge, UnsupportedFileType

MAX_UPLOAD_BYTES = 500 * 1024 * 1024

FileKind = Literal["video", "image", "audio", "document"]

KINDS: dict[str, FileKind] = {
    **dict.fromkeys(("mp4", "mov", "avi", "webm", "mkv"), "video"),
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "webp"), "image"),
    **dict.fromkeys(("mp3", "wav", "m4a", "aac"), "audio"),
    **dict.fromkeys(("txt", "docx", "pdf"), "document"),
}

ACCEPTED_TYPES = (
    "mp4 mov avi webm mkv jpg png gif webp mp3 wav m4a aac (and txt, docx, pdf scripts)"
)


def extension(filename: str) -> str:
    return PurePosixPath(filename.strip()).suffix.lower().lstrip(".")


def kind_of(filename: str) -> FileKind | None:
    return KINDS.get(extension(filename))


def check_upload(filename: str, size: int | None) -> FileKind:
    """Raise before any download or upload when the backend would refuse the file."""
    kind = kind_of(filename)
    if kind is None:
        # The message is the file's name as a reader knows it; the sentence around it is the
        # catalogue's (Msg.ERR_TYPE), so it reads right in every language.
        ext = extension(filename)
        raise UnsupportedFileType(f"{filename} (.{ext})" if ext else filename)
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise FileTooLarge(f"{filename}: {size / 1024 / 1024:.0f} MB > 500 MB")
    return kind
