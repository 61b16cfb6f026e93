"""Chat text of every kind through the real engine and the local backend: empty, 40,000
characters, RTL and zero-width, mentions, markdown. Never a crash, always an answer, and once
rendered for Slack, never a live mention."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from bots.slack.render import render
from core.port import ReplyKind, ThreadKey
from core.runtime import Runtime
from core.sim import LocalBackend
from tests.fakes.thread import FakeThread
from tests.faults.conftest import open_runtime, said
from tests.faults.fuzz import SPECIAL_TEXTS, chat_texts

NAMES = itertools.count()
LIVE_MENTION = re.compile(r"<[!@#]")


@pytest.fixture
async def rt(tmp_path: Path, sim: LocalBackend) -> AsyncIterator[Runtime]:
    sim.set_faults({"credits": 10**9, "turn_seconds": 0, "no_text_ratio": 0.3})
    async with open_runtime(tmp_path, sim.base_url, heartbeat_seconds=60) as runtime:
        yield runtime


def assert_no_live_mentions(thread: FakeThread) -> None:
    for said_ in thread.log:
        if said_.reply is None:
            continue
        for message in render(said_.reply, thread.key):
            texts = [message.text, *_block_texts(message.blocks)]
            for text in texts:
                assert not LIVE_MENTION.search(text), (said_.reply, text)


def _block_texts(blocks: list[dict[str, object]]) -> list[str]:
    found: list[str] = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and text.get("type") == "mrkdwn":
            found.append(str(text.get("text", "")))
        for key in ("fields", "elements"):
            items = block.get(key)
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and item.get("type") == "mrkdwn":
                    found.append(str(item.get("text", "")))
    return found


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=chat_texts)
@example(text=SPECIAL_TEXTS[3])  # 40,000 characters
@example(text="")
@example(text="a lone surrogate \ud800 from a JSON escape")
@example(text="<!channel> make a video for @everyone")
async def test_any_chat_text_gets_an_answer(rt: Runtime, text: str) -> None:
    thread = FakeThread(ThreadKey("console", "fuzz", "c", f"t{next(NAMES)}"))
    await rt.engine.handle(thread, said(text))
    await rt.engine.idle(60)
    replies = [s for s in thread.log if s.reply is not None]
    assert replies, f"no answer to {text[:80]!r}"
    final = [s for s in replies if s.reply is not None and s.reply.kind is not ReplyKind.STATUS]
    assert final, thread.transcript()  # more than "Connecting..."
    assert "went wrong on my side" not in thread.transcript()
    token = (await rt.engine.credentials(thread.key)).token
    assert token and token not in thread.transcript()
    assert_no_live_mentions(thread)


async def test_the_same_hostile_text_twice_in_one_thread(rt: Runtime) -> None:
    """A conversation that continues after hostile text still works (the session is fine)."""
    thread = FakeThread(ThreadKey("console", "fuzz", "c", "again"))
    for text in ["<!channel> a video about @everyone", "\u202e make it 5 seconds \u200b", "status"]:
        await rt.engine.handle(thread, said(text))
        await rt.engine.idle(20)
    finished = [
        s for s in thread.log if s.op == "update" and s.reply is not None and s.reply.buttons
    ]
    assert len(finished) == 2 and "Timeline (3 tracks)" in thread.log[-1].text
    assert_no_live_mentions(thread)
