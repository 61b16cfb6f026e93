"""Discord never redelivers a message: one the store refused is answered with a clear error in
its thread, not dropped in silence."""

from __future__ import annotations

from typing import Any

import pytest

from core.port import ChatThread, Incoming, NotStored
from tests.discord.conftest import WAIT, RecordingEngine
from tests.fakes.discord_gateway import FakeDiscord

pytestmark = pytest.mark.usefixtures("bot")


class RefusingEngine(RecordingEngine):
    async def handle(self, thread: ChatThread, incoming: Incoming) -> None:
        raise NotStored(str(thread.key))


@pytest.fixture
def engine() -> RecordingEngine:
    return RefusingEngine()


async def test_a_message_the_store_refused_gets_an_error_reply(fake: FakeDiscord) -> None:
    first = await fake.post_message("a sunset", mention_bot=True)

    def error() -> dict[str, Any] | None:
        sent = fake.sent_messages(first["id"])
        return next((m for m in sent if "couldn't save your message" in m["content"]), None)

    assert await fake.wait_for(error, WAIT)
