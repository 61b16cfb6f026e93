"""Which files the backend takes, decided before a byte is sent."""

from __future__ import annotations

import pytest

from core.errors import FileTooLarge, UnsupportedFileType
from core.files import MAX_UPLOAD_BYTES, check_upload, kind_of

ACCEPTED = "mp4 mov avi webm mkv jpg png gif webp mp3 wav m4a aac txt docx pdf".split()


@pytest.mark.parametrize("ext", ACCEPTED)
def test_every_documented_type_is_accepted(ext: str) -> None:
    assert check_upload(f"file.{ext}", 1) == kind_of(f"file.{ext}")
    assert check_upload(f"FILE.{ext.upper()}", None) is not None


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a.MP4", "video"), ("b.jpeg", "image"), ("c.m4a", "audio"), ("d.pdf", "document")],
)
def test_kinds(name: str, kind: str) -> None:
    assert kind_of(name) == kind


@pytest.mark.parametrize("name", ["a.exe", "a", "a.mp4.zip", "mp4", ".mp4", "a.tar.gz"])
def test_other_types_are_refused(name: str) -> None:
    with pytest.raises(UnsupportedFileType):
        check_upload(name, 1)


def test_the_500_mb_limit() -> None:
    assert check_upload("a.mp4", MAX_UPLOAD_BYTES) == "video"
    with pytest.raises(FileTooLarge, match="500 MB"):
        check_upload("a.mp4", MAX_UPLOAD_BYTES + 1)
    assert MAX_UPLOAD_BYTES == 500 * 1024 * 1024
