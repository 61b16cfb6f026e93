"""Shared files of any name, type and size: a refused file gets a clear message naming it and is
never downloaded; an accepted one is streamed once, or its failure is explained."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import FileRejected
from core.files import MAX_UPLOAD_BYTES, check_upload
from core.port import Attachment, ReplyKind, ThreadKey
from core.runtime import Runtime
from core.sim import LocalBackend
from tests.fakes.thread import FakeThread
from tests.faults.conftest import open_runtime, said
from tests.faults.fuzz import file_names, file_sizes

NAMES = itertools.count()
SMALL = 64 * 1024  # what the fake really streams; bigger announced sizes end early


class SharingThread(FakeThread):
    """Records every download the engine asks for; serves the announced size when small."""

    def __init__(self, key: ThreadKey) -> None:
        super().__init__(key)
        self.opened: list[Attachment] = []

    async def open_attachment(
        self, attachment: Attachment, language: str = "en"
    ) -> AsyncIterator[bytes]:
        self.opened.append(attachment)
        size = attachment.size or 0
        yield b"\0" * min(size, SMALL)


def _refused(name: str, size: int | None) -> bool:
    if size is None:
        return True
    try:
        check_upload(name, size)
    except FileRejected:
        return True
    return False


@pytest.fixture
async def rt(tmp_path: Path, sim: LocalBackend) -> AsyncIterator[Runtime]:
    sim.set_faults({"credits": 10**9, "turn_seconds": 0})
    async with open_runtime(tmp_path, sim.base_url, heartbeat_seconds=60) as runtime:
        yield runtime


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=st.lists(st.tuples(file_names, file_sizes), min_size=1, max_size=3))
@example(files=[("clip.mp4", MAX_UPLOAD_BYTES + 1), ("notes.exe", 10), ("a.mov", None)])
@example(files=[("exactly.mp4", MAX_UPLOAD_BYTES)])
@example(files=[("<!channel>.mp4", 2**63)])
async def test_any_file_gets_a_clear_word(rt: Runtime, files: list[tuple[str, int | None]]) -> None:
    thread = SharingThread(ThreadKey("console", "fuzz", "c", f"t{next(NAMES)}"))
    attachments = tuple(Attachment(name, size, f"src-{i}") for i, (name, size) in enumerate(files))
    await rt.engine.handle(thread, said("", attachments=attachments))
    await rt.engine.idle(20)
    transcript = thread.transcript()
    assert "went wrong on my side" not in transcript, transcript
    refused = [a for a in attachments if _refused(a.filename, a.size)]
    accepted = [a for a in attachments if a not in refused]
    assert all(a not in thread.opened for a in refused), (thread.opened, transcript)
    assert len(thread.opened) == len(accepted)  # each accepted file streamed exactly once
    said_ = [s for s in thread.log if s.reply is not None]
    errors = [s for s in said_ if s.reply is not None and s.reply.kind is ReplyKind.ERROR]
    assert len(errors) >= len(refused), transcript
    if accepted:
        uploaded = [s for s in said_ if s.text.startswith("📎")]
        assert uploaded or len(errors) > len(refused), transcript
