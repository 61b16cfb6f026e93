"""The chat platform misbehaves: posts and edits fail (FakeThread), or the Slack Web API answers
429 and 5xx (the fake Slack API, directly and through the fault proxy). Nothing is lost: each
message still gets its answer, each finished render exactly one link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bots.slack.app import share, web_session
from bots.slack.client import build_client
from bots.slack.thread import SlackThread, SlackThreads
from core.metrics import Metrics
from core.port import Reply, ReplyKind, ThreadKey
from core.runtime import Runtime
from core.sim import LocalBackend
from tests.conftest import fast_settings
from tests.fakes.fault_proxy import FaultProxy
from tests.fakes.slack_api import FakeSlack
from tests.fakes.thread import FakeThread
from tests.faults.conftest import (
    answers,
    errors,
    finished_turns,
    key,
    open_runtime,
    said,
    sent_turns,
    wait_for_request,
)
from tests.slack.conftest import SlackTestSettings

WAIT = 20.0
BOT_TOKEN = "xoxb-1111-2222-faults"


class FlakyThread(FakeThread):
    """A FakeThread whose next edits fail too (posts already can: `fail_next_posts`)."""

    def __init__(self, thread_key: ThreadKey) -> None:
        super().__init__(thread_key)
        self.fail_next_updates = 0
        self.spare_status = False  # True: progress edits (status, stages) never fail
        self.failed: list[str] = []

    async def post(self, reply: Reply) -> str:
        if self.fail_next_posts:
            self.failed.append(f"post {reply.text}")
        return await super().post(reply)

    async def update(self, message_id: str, reply: Reply) -> None:
        if self.fail_next_updates and not (self.spare_status and reply.kind is ReplyKind.STATUS):
            self.fail_next_updates -= 1
            self.failed.append(f"update {reply.text}")
            raise RuntimeError("chat API unavailable")
        await super().update(message_id, reply)


async def _turn(rt: Runtime, thread: FakeThread, text: str) -> None:
    await rt.engine.handle(thread, said(text))
    await rt.engine.idle(WAIT)


# -- a ChatThread that fails ---------------------------------------------------------------------


async def test_status_message_cannot_be_posted(tmp_path: Path, sim: LocalBackend) -> None:
    async with open_runtime(tmp_path, sim.base_url) as rt:
        thread = FlakyThread(key())
        thread.fail_next_posts = 1  # "Connecting..." fails
        await _turn(rt, thread, "a bonfire on the beach")
        assert thread.failed == ["post Connecting..."]
        assert len(answers(thread)) == 1 and "went wrong on my side" in errors(thread)[0]
        assert await sent_turns(sim.base_url) == []  # nothing was charged for a turn unseen
        await _turn(rt, thread, "a bonfire on the beach")
        assert len(finished_turns(thread)) == 1


async def test_final_edit_fails_and_the_answer_still_arrives(
    tmp_path: Path, sim: LocalBackend
) -> None:
    async with open_runtime(tmp_path, sim.base_url, heartbeat_seconds=60) as rt:
        thread = FlakyThread(key())
        thread.fail_next_updates = 1  # the edit of "Connecting..." into the answer fails
        thread.spare_status = True  # (not the stage line edited in before it)
        await _turn(rt, thread, "a carousel at night")
        assert thread.failed and thread.failed[0].startswith("update Done!")
        done = [s for s in thread.log if s.reply is not None and s.text.startswith("Done!")]
        assert len(done) == 1 and done[0].op == "post", thread.transcript()
        assert done[0].reply is not None and done[0].reply.buttons
        assert not errors(thread)


async def test_heartbeat_edits_fail_and_the_turn_goes_on(tmp_path: Path, sim: LocalBackend) -> None:
    sim.set_faults({"turn_seconds": 0.5})
    async with open_runtime(tmp_path, sim.base_url, heartbeat_seconds=0.1) as rt:
        thread = FlakyThread(key())
        thread.fail_next_updates = 3
        await _turn(rt, thread, "a waterfall in spring")
        assert all(f.startswith("update ⏳ Still working") for f in thread.failed)
        assert len(thread.failed) == 3
        assert len(finished_turns(thread)) == 1 and not errors(thread)


async def test_posting_the_link_fails_once_and_it_is_posted_once(
    tmp_path: Path, sim: LocalBackend
) -> None:
    sim.set_faults({"render_seconds": 0.5})
    async with open_runtime(tmp_path, sim.base_url) as rt:
        thread = FlakyThread(key())
        await _turn(rt, thread, "a snowy owl")
        await rt.engine.handle(thread, said("export"))
        await wait_for_request(sim.base_url, "POST", "/api/render/proxy/lambda")
        thread.fail_next_posts = 1  # the next post is the link
        await thread.wait_text("Your video is ready", timeout=WAIT)
        await rt.engine.idle(WAIT)
        assert thread.failed and "Your video is ready" in thread.failed[0]
        links = [s for s in thread.log if s.op == "post" and "Your video is ready" in s.text]
        assert len(links) == 1
        assert len([s for s in thread.log if s.op == "upload"]) == 1


async def test_answers_are_posted_even_when_a_queued_notice_fails(
    tmp_path: Path, sim: LocalBackend
) -> None:
    sim.set_faults({"turn_seconds": 0.3, "credits": 1000})
    async with open_runtime(tmp_path, sim.base_url) as rt:
        thread = FlakyThread(key())
        await rt.engine.handle(thread, said("a kite festival"))
        await thread.wait_text("Connecting...")
        thread.fail_next_posts = 1  # "I'll start on this as soon as..." fails
        await rt.engine.handle(thread, said("make it 5 seconds"))
        await rt.engine.idle(WAIT)
        assert len(finished_turns(thread)) == 2, thread.transcript()


# -- the Slack Web API fails ---------------------------------------------------------------------


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=BOT_TOKEN) as fake:
        yield fake


def _slack_settings(tmp_path: Path, api_url: str) -> SlackTestSettings:
    return fast_settings(
        tmp_path,
        SlackTestSettings,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret="secret",
        slack_api_url=api_url,
        heartbeat_seconds=0.1,
    )


async def _slack_turn(
    tmp_path: Path, sim: LocalBackend, api_url: str, text: str = "a lantern festival"
) -> ThreadKey:
    settings = _slack_settings(tmp_path, api_url)
    thread_key = ThreadKey("slack", "T0TEAM", "C0VIDEO", "1700000000.000100")
    async with (
        Runtime.open(settings, base_url=sim.base_url) as rt,
        httpx.AsyncClient() as http,
        web_session() as session,
    ):
        threads = SlackThreads(
            client=build_client(settings, Metrics(), settings.retry_backoff_seconds),
            http=http,
            settings=settings,
        )
        share(threads, session)  # the Web API on one shared session, as `serve` does
        rt.engine.register("slack", threads)
        thread: SlackThread = threads(thread_key)
        await rt.engine.handle(thread, said(text))
        await rt.engine.idle(WAIT)
    return thread_key


def _said_in(slack: FakeSlack, thread_key: ThreadKey) -> str:
    return "\n".join(m.all_text for m in slack.thread(thread_key.channel, thread_key.thread))


async def test_slack_429_and_5xx_on_post_and_update(
    tmp_path: Path, sim: LocalBackend, slack: FakeSlack
) -> None:
    sim.set_faults({"turn_seconds": 0.4})
    slack.fail_next("chat.postMessage", status=429, count=2, retry_after=0)
    slack.fail_next("chat.update", status=503, count=2)
    thread_key = await _slack_turn(tmp_path, sim, slack.api_url)
    posts = slack.calls("chat.postMessage")
    assert len(posts) >= 3 and posts[0].args["text"] == posts[2].args["text"] == "Connecting..."
    said_there = _said_in(slack, thread_key)
    assert "Done!" in said_there and "Timeline (3 tracks)" in said_there
    assert "⚠️" not in said_there


async def test_slack_behind_a_bad_network(
    tmp_path: Path, sim: LocalBackend, slack: FakeSlack
) -> None:
    async with FaultProxy(slack.base_url) as proxy:
        proxy.latency = 0.01
        proxy.fail_next(1, status=502, path="/api/chat.postMessage")
        proxy.fail_next(1, status=500, path="/api/chat.update")
        thread_key = await _slack_turn(tmp_path, sim, proxy.url + "/api/")
    said_there = _said_in(slack, thread_key)
    assert "Done!" in said_there and "⚠️" not in said_there
    assert [r.answered_by_proxy for r in proxy.requests if r.answered_by_proxy] == [502, 500]


async def test_slack_refusing_the_first_post_beyond_its_retries(
    tmp_path: Path, sim: LocalBackend, slack: FakeSlack
) -> None:
    """Slack refuses "Connecting..." three times (the SDK retries a 5xx twice): the turn is not
    sent to the backend, the user gets a clear error instead, and the next message works."""
    slack.fail_next("chat.postMessage", status=503, count=3)
    settings = _slack_settings(tmp_path, slack.api_url)
    thread_key = ThreadKey("slack", "T0TEAM", "C0VIDEO", "1700000000.000200")
    async with (
        Runtime.open(settings, base_url=sim.base_url) as rt,
        httpx.AsyncClient() as http,
        web_session() as session,
    ):
        threads = SlackThreads(
            client=build_client(settings, Metrics(), settings.retry_backoff_seconds),
            http=http,
            settings=settings,
        )
        share(threads, session)  # the Web API on one shared session, as `serve` does
        thread = threads(thread_key)
        await rt.engine.handle(thread, said("a red bicycle"))
        await rt.engine.idle(WAIT)
        (refused,) = slack.thread(thread_key.channel, thread_key.thread)
        assert "went wrong on my side" in refused.all_text
        assert await sent_turns(sim.base_url) == []
        await rt.engine.handle(thread, said("a red bicycle"))
        await rt.engine.idle(WAIT)
    assert "Done!" in _said_in(slack, thread_key)
    assert len(slack.calls("chat.postMessage")) >= 5
