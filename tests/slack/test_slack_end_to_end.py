"""End to end over loopback: signed Slack requests -> the app's HTTP endpoint -> the real engine
-> the local backend, with every reply landing in the fake Slack Web API.

Nothing sleeps to let things happen: each step waits on the fake's recorded calls or on
`engine.idle()`, with a deadline.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.port import ThreadKey
from core.runtime import Runtime
from core.sim import LocalBackend
from tests.fakes.slack_api import Call, FakeSlack, Message
from tests.faults.conftest import sim_log
from tests.slack.conftest import (
    BOT_TOKEN,
    CHANNEL,
    TEAM,
    SlackHttp,
    eventually,
    payload,
    running,
    slack_settings,
)

WAIT = 15.0


@dataclass
class World:
    slack: FakeSlack
    sim: LocalBackend
    rt: Runtime
    app: SlackHttp

    async def mention(self, text: str, ts: str = "1700000000.000100", **kwargs: Any) -> ThreadKey:
        event = payload("app_mention")["event"]
        event.update(text=f"<@U0JUPITER> {text}", ts=ts, event_ts=ts)
        response = await self.app.event(event, **kwargs)
        assert response.status_code == 200
        return ThreadKey("slack", TEAM, CHANNEL, ts)

    async def reply(self, key: ThreadKey, text: str, ts: str, **extra: Any) -> None:
        event = payload("message_thread_reply")["event"]
        event.update(text=text, ts=ts, event_ts=ts, thread_ts=key.thread, **extra)
        assert (await self.app.event(event)).status_code == 200

    def thread(self, key: ThreadKey) -> list[Message]:
        return self.slack.thread(key.channel, key.thread)

    def said(self, key: ThreadKey) -> str:
        return "\n".join(m.all_text for m in self.thread(key))

    async def settled(self, key: ThreadKey, posts: int = 1) -> None:
        """Wait until the engine took the message(s) and finished all the work they caused."""
        await self.slack.wait_for(lambda: len(self.thread(key)) >= posts, WAIT)
        await self.rt.engine.idle(WAIT)

    def messages_seen(self) -> float:
        sample = self.rt.metrics.registry.get_sample_value(
            "jupiter_messages_total", {"platform": "slack"}
        )
        return sample or 0.0

    def finished_turns(self, key: ThreadKey) -> list[Message]:
        return [m for m in self.thread(key) if "jupiter_export" in json.dumps(m.blocks)]


@asynccontextmanager
async def world(
    slack: FakeSlack, sim: LocalBackend, tmp_path: Path, owner: str | None = None, **settings: Any
) -> AsyncIterator[World]:
    config = slack_settings(slack, tmp_path, **settings)
    sim.set_faults({"credits": 1_000_000})
    async with (
        Runtime.open(config, base_url=sim.base_url, owner=owner) as rt,
        running(rt) as app,
    ):
        yield World(slack, sim, rt, app)


def shared_uploads(slack: FakeSlack) -> list[Call]:
    """Completed uploads shared into a channel (the MP4s; the Home's posters stay private)."""
    return [c for c in slack.calls("files.completeUploadExternal") if c.args.get("channel_id")]


@pytest.fixture
async def w(slack: FakeSlack, sim: LocalBackend, tmp_path: Path) -> AsyncIterator[World]:
    async with world(slack, sim, tmp_path) as value:
        yield value


async def test_happy_path_to_an_mp4_in_the_thread(w: World) -> None:
    key = await w.mention("a 5-second video of a sunset over mountains")
    await w.settled(key)
    assert w.slack.calls("chat.postMessage")[0].args["text"] == "Connecting..."
    status = w.thread(key)[0]
    (answer,) = w.finished_turns(key)
    assert answer is status and status.edits >= 1  # "Connecting..." was edited into the answer
    assert "Done!" in answer.all_text

    assert (await w.app.click("export", key)).status_code == 200
    (done,) = await w.slack.wait_for(lambda: shared_uploads(w.slack), WAIT)
    await w.rt.engine.idle(WAIT)
    assert done.args["channel_id"] == CHANNEL and done.args["thread_ts"] == key.thread
    (upload,) = [u for u in w.slack.uploads if u.filename.endswith(".mp4")]  # and the poster
    assert upload.received == upload.length > 1000 and upload.chunks >= 1
    links = [m for m in w.thread(key) if "Your video is ready" in m.all_text]
    assert len(links) == 1
    assert any(
        e.get("url", "").startswith(w.sim.base_url)
        for b in links[0].blocks
        for e in b.get("elements", [])
    )
    for call in w.slack.calls("chat.postMessage"):
        assert call.args["thread_ts"] == key.thread
    assert BOT_TOKEN not in json.dumps([c.args for c in w.slack.calls()])


async def test_heartbeats_edit_one_message_and_the_busy_status_is_cleared(w: World) -> None:
    w.sim.set_faults({"turn_seconds": 0.8})
    key = await w.mention("a 5-second video of a lighthouse")
    await w.settled(key)
    beats = [c for c in w.slack.calls("chat.update") if "Still working" in c.args["text"]]
    assert len(beats) >= 2
    assert len({c.args["ts"] for c in beats}) == 1
    posts = w.slack.calls("chat.postMessage")
    assert not any("Still working" in c.args["text"] for c in posts)
    (status,) = [m for m in w.thread(key) if m.ts == beats[0].args["ts"]]
    assert "Done!" in status.all_text  # the heartbeat message became the answer
    statuses = [c.args["status"] for c in w.slack.calls("assistant.threads.setStatus")]
    assert statuses[0] and statuses[-1] == ""


async def test_messages_sent_during_a_turn_are_queued_and_run_in_order(w: World) -> None:
    w.sim.set_faults({"turn_seconds": 0.6})
    key = await w.mention("a 5-second video of a harbour at dawn")
    await w.slack.wait_for(lambda: w.thread(key), WAIT)
    await w.reply(key, 'change the title to "First Light"', "1700000010.000100")
    await w.reply(key, 'change the title to "Last Light"', "1700000011.000100")
    await w.slack.wait_for(lambda: "Got it" in w.said(key), WAIT)
    await w.slack.wait_for(lambda: len(w.finished_turns(key)) == 3, WAIT)
    await w.rt.engine.idle(WAIT)
    answers = [m.all_text for m in w.finished_turns(key)]
    assert "Done!" in answers[0]
    assert "First Light" in answers[1] and "Last Light" not in answers[1]
    assert "Last Light" in answers[2]


async def test_a_redelivered_event_is_handled_once(w: World) -> None:
    key = await w.mention("a 5-second video of a forest", event_id="EvDUPLICATE")
    await w.mention(
        "a 5-second video of a forest",
        event_id="EvDUPLICATE",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    await eventually(lambda: w.messages_seen() == 2, WAIT)  # both deliveries reached the engine
    await w.settled(key)
    assert len(w.finished_turns(key)) == 1
    connecting = [c for c in w.slack.calls("chat.postMessage") if c.args["text"] == "Connecting..."]
    assert len(connecting) == 1


async def test_a_bad_signature_is_refused_and_nothing_is_processed(w: World) -> None:
    event = payload("app_mention")["event"]
    response = await w.app.event(event, secret="forged-secret")
    assert response.status_code == 401
    key = ThreadKey("slack", TEAM, CHANNEL, event["ts"])
    assert not await w.rt.engine.is_bot_thread(key)
    assert w.slack.calls() == []
    sim_log = (await w.app.client.get(f"{w.sim.base_url}/_sim/log")).json()
    entries = sim_log if isinstance(sim_log, list) else sim_log.get("requests", [])
    assert entries == []


async def test_a_shared_file_is_streamed_from_slack_to_the_backend(w: World) -> None:
    key = await w.mention("a 5-second video of a beach")
    await w.settled(key)
    data = b"INT. BEACH - DAY\n" * 500
    w.slack.add_file("F0SCRIPT", "script.txt", data)
    files = [w.slack.file_event("F0SCRIPT", "script.txt", len(data))]
    await w.reply(key, "", "1700000020.000100", subtype="file_share", files=files)
    await w.slack.wait_for(lambda: w.slack.file_requests, WAIT)
    await w.rt.engine.idle(WAIT)
    (request,) = w.slack.file_requests
    assert request.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert "script.txt" in w.said(key)
    assert "⚠️" not in w.said(key)


async def test_a_redirect_that_would_leak_the_token_is_refused(w: World) -> None:
    key = await w.mention("a 5-second video of a beach")
    await w.settled(key)
    w.slack.add_file("F0CLIP", "clip.mp4", b"\x00" * 4096)
    w.slack.file_mode = "redirect_other"
    files = [w.slack.file_event("F0CLIP", "clip.mp4", 4096)]
    await w.reply(key, "", "1700000020.000100", subtype="file_share", files=files)
    await w.slack.wait_for(lambda: w.slack.file_requests, WAIT)
    await w.slack.wait_for(lambda: "⚠️" in w.said(key), WAIT)
    await w.rt.engine.idle(WAIT)
    assert w.slack.other_requests == []
    assert "not hosted by Slack" in w.said(key)
    assert BOT_TOKEN not in w.said(key)


@pytest.mark.parametrize(
    ("name", "size", "expected"),
    [("huge.mp4", 600 * 1024 * 1024, "500 MB"), ("tool.exe", 2048, "tool.exe")],
)
async def test_oversized_and_unsupported_files_are_refused_before_download(
    w: World, name: str, size: int, expected: str
) -> None:
    key = await w.mention("a 5-second video of a beach")
    await w.settled(key)
    before = len(w.thread(key))
    files = [w.slack.file_event("F0BAD", name, size)]
    await w.reply(key, "", "1700000030.000100", subtype="file_share", files=files)
    await w.slack.wait_for(lambda: len(w.thread(key)) > before, WAIT)
    await w.rt.engine.idle(WAIT)
    refusal = w.thread(key)[-1].all_text
    assert "⚠️" in refusal and expected in refusal
    assert w.slack.file_requests == []


async def test_files_the_backend_refuses_are_refused_once_by_the_engine(w: World) -> None:
    key = await w.mention("a 5-second video of a beach")
    await w.settled(key)
    before = len(w.thread(key))
    files = [
        w.slack.file_event("F1", "virus.exe", 1000),
        w.slack.file_event("F2", "huge.mp4", 600 * 1024 * 1024),
    ]
    await w.reply(key, "", "1700000040.000100", subtype="file_share", files=files)
    await w.slack.wait_for(lambda: len(w.thread(key)) >= before + 2, WAIT)
    await w.rt.engine.idle(WAIT)
    refusals = [m.all_text for m in w.thread(key)[before:]]
    assert any("⚠️" in t and "virus.exe" in t for t in refusals)
    assert any("⚠️" in t and "500 MB" in t for t in refusals)
    assert all(m.thread_ts == key.thread for m in w.thread(key)[before:])
    assert w.slack.file_requests == []


async def test_a_backend_error_mid_turn_is_reported_in_the_thread(w: World) -> None:
    w.sim.set_faults({"drop_stream_after": 2})
    key = await w.mention("a 5-second video of a storm")
    await w.settled(key)
    assert "⚠️" in w.thread(key)[-1].all_text
    statuses = [c.args["status"] for c in w.slack.calls("assistant.threads.setStatus")]
    assert statuses[-1] == ""


async def test_pings_in_backend_text_arrive_escaped(w: World) -> None:
    key = await w.mention('a 5-second video of a cat titled "&lt;!channel&gt; party"')
    await w.settled(key)
    sent = json.dumps([c.args for c in w.slack.calls() if c.method.startswith("chat.")])
    assert "&lt;!channel&gt; party" in sent
    assert "<!channel>" not in sent


async def test_a_restart_in_the_middle_of_a_render_posts_the_link_once(
    slack: FakeSlack, sim: LocalBackend, tmp_path: Path
) -> None:
    sim.set_faults({"render_seconds": 2.0})
    async with world(slack, sim, tmp_path, owner="first") as first:
        key = await first.mention("a 5-second video of a waterfall")
        await first.settled(key)
        await first.app.click("export", key)
        # Progress edits start once the render job is stored: a restart now must resume it.
        await slack.wait_for(
            lambda: any("Rendering" in m.all_text and m.edits for m in first.thread(key)), WAIT
        )
    assert not shared_uploads(slack)

    async with world(slack, sim, tmp_path, owner="second") as second:
        await slack.wait_for(lambda: shared_uploads(slack), WAIT)
        await second.rt.engine.idle(WAIT)
        links = [m for m in second.thread(key) if "Your video is ready" in m.all_text]
        assert len(links) == 1
        assert len([u for u in slack.uploads if u.filename.endswith(".mp4")]) == 1


async def test_video_command_runs_the_conversation_in_its_own_thread(w: World) -> None:
    response = await w.app.command("a 5-second video of a desert road")
    assert response.status_code == 200
    root = (await w.slack.wait_for(lambda: w.slack.calls("chat.postMessage")))[0]
    assert "thread_ts" not in root.args and "desert road" in root.args["text"]
    (message,) = [m for m in w.slack.messages() if m.thread_ts is None]
    key = ThreadKey("slack", TEAM, CHANNEL, message.ts)
    await w.settled(key, posts=2)
    (answer,) = w.finished_turns(key)
    assert "Done!" in answer.all_text and answer.thread_ts == message.ts
    assert await w.rt.engine.is_bot_thread(key)

    await w.reply(key, "status", "1800000000.000100")
    await w.slack.wait_for(lambda: "Timeline (" in w.thread(key)[-1].all_text, WAIT)
    await w.app.click("credits", key)
    await w.slack.wait_for(lambda: "Available" in w.thread(key)[-1].all_text, WAIT)
    await w.rt.engine.idle(WAIT)


async def test_the_agents_question_is_buttons_and_a_click_answers_it(w: World) -> None:
    w.sim.set_faults({"question_ratio": 1.0})
    key = await w.mention("a video of a lighthouse")
    await w.settled(key)
    asked = next(m for m in w.thread(key) if "jupiter_answer_0" in json.dumps(m.blocks))
    buttons = [
        element
        for block in asked.blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element["action_id"].startswith("jupiter_answer_")
    ]
    labels = [b["text"]["text"] for b in buttons]
    assert labels == ["Cinematic", "Anime", "Watercolor"]
    assert "no changes" not in w.said(key).lower()
    runs_before = len([e for e in await sim_log(w.sim.base_url) if e["path"] == "/run_sse"])
    response = await w.app.click("answer_1", key, value=buttons[1]["value"])
    assert response.status_code == 200
    await w.slack.wait_for(lambda: "Answered" in w.said(key), WAIT)
    await w.rt.engine.idle(WAIT)
    sent = [e for e in await sim_log(w.sim.base_url) if e["path"] == "/run_sse"]
    assert (
        len(sent) == runs_before + 1
        and sent[-1]["json"]["new_message"]["parts"][0]["text"] == "Anime"
    )
    again = await w.app.click("answer_0", key, value=buttons[0]["value"])  # a stale click
    assert again.status_code == 200
    await w.rt.engine.idle(WAIT)
    runs = [e for e in await sim_log(w.sim.base_url) if e["path"] == "/run_sse"]
    assert len(runs) == len(sent)  # nothing re-sent
