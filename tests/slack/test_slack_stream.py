"""The streamed turn at the port, call by call, in the order the engine makes them: the call
budget for two texts and N heartbeats, and the fallbacks when Slack refuses a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bots.slack.app import share, web_session
from bots.slack.client import build_client
from bots.slack.thread import SlackThread, SlackThreads
from core.messages import Msg, say
from core.metrics import Metrics
from core.port import Action, Reply, ReplyKind, ThreadKey
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import CHANNEL, TEAM, USER, slack_settings

KEY = ThreadKey("slack", TEAM, CHANNEL, "1700000000.000100")
BEATS = 5


@pytest.fixture
async def threads(
    slack: FakeSlack, http: httpx.AsyncClient, tmp_path: Path
) -> AsyncIterator[SlackThreads]:
    settings = slack_settings(slack, tmp_path)
    threads = SlackThreads(
        client=build_client(settings, Metrics(), 0.01), http=http, settings=settings
    )
    async with web_session() as session:
        share(threads, session)  # as `serve` does
        yield threads


async def turn(thread: SlackThread, beats: int = BEATS) -> None:
    """What `core.engine.agent.AgentTurn` does with the port during one turn with two texts:
    the first is posted as the agent's interim words, the second is the answer. The interval
    in which the words were posted has no heartbeat (the thread moved anyway)."""
    status = await thread.post(Reply(ReplyKind.STATUS, say(Msg.CONNECTING, "en")))
    await thread.set_busy(say(Msg.BUSY, "en"))
    for n in range(beats):
        if n == 1:
            await thread.post(Reply(ReplyKind.TEXT, "I'll make a sunset <!channel>."))
            continue
        await thread.update(status, Reply(ReplyKind.STATUS, f"⏳ Still working... ({n}s)"))
        await thread.set_busy(say(Msg.BUSY, "en"))
    await thread.set_busy(None)
    answer = Reply(ReplyKind.TEXT, "Done! The sunset is ready.", buttons=(Action.EXPORT,))
    await thread.update(status, answer)


def budget_calls(slack: FakeSlack) -> list[str]:
    return [c.method for c in slack.calls()]


async def test_two_texts_and_n_heartbeats_cost_4_plus_n_calls(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    slack.agent_platform = True
    await turn(threads(KEY, user=USER, prompt="a sunset"))
    calls = budget_calls(slack)
    assert len(calls) == 4 + BEATS, calls
    assert calls[0] == "chat.startStream" and calls[-1] == "chat.stopStream"
    (message,) = slack.thread(CHANNEL, KEY.thread)
    assert "I'll make a sunset &lt;!channel&gt;." in message.text  # escaped, no ping
    assert "Still working" in message.task  # the heartbeat's line
    assert "Done!" in message.all_text and "jupiter_export" in str(message.blocks)


async def test_an_older_workspace_costs_one_refused_call_then_posts_and_updates(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    await turn(threads(KEY, user=USER, prompt="a sunset"))
    first = budget_calls(slack)
    assert first.count("chat.startStream") == 1 and first.count("agents.sessions.setStatus") == 1
    assert "chat.postMessage" in first and "chat.update" in first
    before = len(first)
    await turn(threads(ThreadKey("slack", TEAM, CHANNEL, "1700000000.000200"), user=USER))
    again = budget_calls(slack)[before:]
    assert "chat.startStream" not in again and "agents.sessions.setStatus" not in again


async def test_a_stream_slack_will_not_stop_leaves_every_word_posted(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    slack.agent_platform = True
    thread = threads(KEY, user=USER, prompt="a sunset")
    status = await thread.post(Reply(ReplyKind.STATUS, say(Msg.CONNECTING, "en")))
    await thread.set_busy(say(Msg.BUSY, "en"))
    await thread.post(Reply(ReplyKind.TEXT, "interim words"))
    slack.fail_next("chat.stopStream", status=500, count=3)
    await thread.set_busy(None)
    with pytest.raises(Exception):  # noqa: B017 (the engine then posts the answer)
        await thread.update(status, Reply(ReplyKind.TEXT, "the answer"))
    await thread.post(Reply(ReplyKind.TEXT, "the answer"))
    said = "\n".join(m.all_text for m in slack.thread(CHANNEL, KEY.thread))
    assert "interim words" in said and "the answer" in said


async def test_a_stream_needs_a_recipient_in_channels(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    slack.agent_platform = True
    thread = threads(KEY)  # resumed work: no user known
    await thread.post(Reply(ReplyKind.STATUS, say(Msg.CONNECTING, "en")))
    assert not slack.calls("chat.startStream") and slack.calls("chat.postMessage")
