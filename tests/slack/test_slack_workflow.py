"""Every workflow command as a Slack conversation, English and Chinese: signed events through
Bolt's own dispatch -> the Slack adapter -> the real engine -> the local backend, and what the
user reads in the fake Slack thread (fallback text and blocks, unescaped as Slack shows them).

    versions / history / 版本      export v1 / 导出 v1      videos / 视频
    new / start over / 重新开始     settings / 设置, set ...  undo / 撤销
    help / /help / 帮助             credits / 积分 (a daily budget set)
    a queued message: its position and an estimate, one notice kept current
"""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from core.engine.limits import utc_day
from core.port import ThreadKey
from core.sim import LocalBackend
from tests.fakes.slack_api import FakeSlack, Message
from tests.faults.conftest import sent_turns, sim_log
from tests.slack.conftest import TEAM, USER, payload
from tests.slack.test_slack_end_to_end import WAIT, World, world

_STAMPS = itertools.count(1)


def shown(message: Message) -> str:
    """A message as the user reads it: its blocks (the fallback text is for notifications),
    with `&lt;` back as `<`."""
    if not message.blocks:
        return html.unescape(message.text)
    parts = []
    for block in message.blocks:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        for item in block.get("fields", []) + block.get("elements", []):
            text = item.get("text") if isinstance(item, dict) else None
            parts.append(text.get("text", "") if isinstance(text, dict) else str(text or ""))
    return html.unescape("\n".join(parts))


@dataclass
class Talk:
    """One Slack thread, typed into by its user: the first message mentions the bot and opens
    the thread; later ones are plain replies once the bot owns it (else they mention it)."""

    w: World
    key: ThreadKey | None = None
    said: list[str] = field(default_factory=list)

    def _stamp(self) -> str:
        return f"{1_700_000_000 + next(_STAMPS) * 10}.000100"

    async def send(self, text: str) -> ThreadKey:
        """Send `text` into the thread without waiting for the answer."""
        ts = self._stamp()
        if self.key is None:
            self.key = await self.w.mention(text, ts=ts)
        elif await self.w.rt.engine.is_bot_thread(self.key):
            await self.w.reply(self.key, text, ts)
        else:  # a thread the bot does not own yet hears it only when mentioned
            event = payload("app_mention")["event"]
            event.update(text=f"<@U0JUPITER> {text}", ts=ts, event_ts=ts)
            event["thread_ts"] = self.key.thread
            assert (await self.w.app.event(event)).status_code == 200
        return self.key

    async def say(self, text: str) -> str:
        """Send `text`, wait until all it started is done; what the bot posted since."""
        seen = len(self.w.thread(self.key)) if self.key else 0
        key = await self.send(text)
        await self.w.rt.engine.idle(WAIT)
        answer = "\n".join(shown(m) for m in self.w.thread(key)[seen:])
        self.said.append(answer)
        return answer

    @property
    def messages(self) -> list[Message]:
        assert self.key is not None
        return self.w.thread(self.key)


@pytest.fixture
async def w(slack: FakeSlack, sim: LocalBackend, tmp_path: Path) -> AsyncIterator[World]:
    async with world(slack, sim, tmp_path) as value:
        yield value


@pytest.fixture
async def budgeted(slack: FakeSlack, sim: LocalBackend, tmp_path: Path) -> AsyncIterator[World]:
    async with world(slack, sim, tmp_path, user_daily_credits=300) as value:
        yield value


async def renders(sim: LocalBackend) -> list[dict[str, Any]]:
    return [e for e in await sim_log(sim.base_url) if e["path"] == "/api/render/proxy/lambda"]


async def seconds_of(url: str, tmp_path: Path) -> float:
    """The length of the MP4 at `url` (the local backend's own media server)."""
    async with httpx.AsyncClient() as http:
        data = (await http.get(url, timeout=10)).content
    path = tmp_path / "delivered.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        assert container.duration is not None
        return float(container.duration / 1e6)


def video_url(message: Message) -> str:
    """The link of a delivered video: its "Download MP4" button."""
    for block in message.blocks:
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("action_id") == "jupiter_open_video":
                return str(element["url"])
    raise AssertionError(f"no video link in {json.dumps(message.blocks)}")


async def session_of(w: World, key: ThreadKey) -> str:
    """The backend session the thread is in now."""
    row = await w.rt.store.get_thread(key)
    assert row is not None and row.session_id
    return row.session_id


async def two_versions(talk: Talk) -> None:
    assert 'Done! "Sunset Over Mountains" is ready' in await talk.say(
        "a 4-second sunset over mountains"
    )
    assert "Done: " in await talk.say("make it 6 seconds")  # an edit of the same video


# -- versions and `export vN` ---------------------------------------------------------------


async def test_versions_and_history_list_the_timeline_versions(w: World) -> None:
    talk = Talk(w)
    await two_versions(talk)
    listing = await talk.say("versions")
    lines = listing.splitlines()
    assert lines[0] == 'Versions in this conversation (say "export v2" to render one as it was):'
    assert '• v1: "a 4-second sunset over mountains" · 4 s, 3 tracks' in lines
    assert any(
        line.startswith("• v2: \"make it 6 seconds\" · Video 'sunset over mountains' now 0-6s")
        for line in lines
    )
    assert await talk.say("history") == listing  # the same list under its other name
    assert "Versions in this conversation" in talk.messages[-1].text  # the fallback text too
    chinese = (await talk.say("版本")).splitlines()
    assert chinese[0] == "本对话的版本（发送“导出 v2”可按当时的样子渲染）："
    assert '• v1: "a 4-second sunset over mountains" · 4 s, 3 tracks' in chinese
    assert await sent_turns(w.sim.base_url) == [
        "a 4-second sunset over mountains",
        "make it 6 seconds",
    ]  # listing costs no turn


async def test_export_v1_after_an_edit_renders_the_draft_v1_stored(
    w: World, tmp_path: Path
) -> None:
    talk = Talk(w)
    await two_versions(talk)
    assert talk.key is not None
    v1 = await w.rt.store.get_version(talk.key, 1)
    v2 = await w.rt.store.get_version(talk.key, 2)
    assert v1 is not None and v2 is not None and v1.draft_json != v2.draft_json
    turns = len(await sent_turns(w.sim.base_url))
    before = len(talk.messages)

    said = await talk.say("export v1")

    assert (await renders(w.sim))[-1]["json"]["draft"] == json.loads(v1.draft_json)
    assert len(await sent_turns(w.sim.base_url)) == turns  # a render takes a draft: no turn
    (video,) = [m for m in talk.messages[before:] if "Your video is ready" in m.all_text]
    assert 'Version v1: "a 4-second sunset over mountains"' in shown(video)
    assert "🎬 Rendered (100%)." in said  # the progress message, finished
    assert abs(await seconds_of(video_url(video), tmp_path) - 4.0) < 0.3  # v1's 4 s, not 6 s
    # the MP4 itself, shared in the thread (the Home's poster uploads stay private)
    (upload,) = [
        c for c in w.slack.calls("files.completeUploadExternal") if c.args.get("channel_id")
    ]
    assert upload.args["thread_ts"] == talk.key.thread

    again = await talk.say("export v1")  # delivered already: the same link, no second render
    assert f"v1 was delivered already, so here it is again: {video_url(video)}" in again
    assert len(await renders(w.sim)) == 1
    unknown = await talk.say("export v7")
    assert 'There is no v7 here. Say "versions" to list them.' in unknown


async def test_videos_lists_each_delivered_video_with_its_version_and_link(w: World) -> None:
    talk = Talk(w)
    assert "No videos delivered in this conversation yet" in await talk.say("videos")
    assert "本对话还没有导出过视频" in await talk.say("视频")
    talk = Talk(w)
    await two_versions(talk)
    assert talk.key is not None
    v1 = await w.rt.store.get_version(talk.key, 1)
    assert v1 is not None
    await talk.say("export")  # the current timeline: v2
    before = len(talk.messages)

    await talk.say("导出 v1")  # v1 in Chinese words: the video is told in Chinese

    assert (await renders(w.sim))[-1]["json"]["draft"] == json.loads(v1.draft_json)
    (chinese,) = [m for m in talk.messages[before:] if "视频已就绪" in m.all_text]
    assert "版本 v1：“a 4-second sunset over mountains”" in shown(chinese)
    (english,) = [m for m in talk.messages if "Your video is ready" in m.all_text]
    assert 'Version v2: "make it 6 seconds"' in shown(english)
    gallery = (await talk.say("videos")).splitlines()
    assert gallery[0] == "Videos delivered in this conversation:"
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    # newest first
    assert re.fullmatch(rf"• v1 · {when} · {re.escape(video_url(chinese))}", gallery[1])
    assert re.fullmatch(rf"• v2 · {when} · {re.escape(video_url(english))}", gallery[2])
    assert await talk.say("gallery") == "\n".join(gallery)
    assert (await talk.say("视频")).splitlines() == ["本对话已导出的视频：", *gallery[1:]]
    assert "这里没有 v9。发送“版本”查看列表。" in await talk.say("导出 v9")


# -- a fresh start --------------------------------------------------------------------------


async def test_new_start_over_and_chinese_each_begin_a_new_session_and_generation(
    w: World,
) -> None:
    talk = Talk(w)
    await talk.say("a 3-second city timelapse")
    assert talk.key is not None
    sessions = [await session_of(w, talk.key)]
    for words, told, prompt in (
        ("new", "🆕 Starting a new video in this conversation", "add lo-fi music at 35%"),
        ("start over", "🆕 Starting a new video in this conversation", "make it 6 seconds"),
        ("重新开始", "🆕 在这个对话里开始一个新视频", "make the title bigger"),
    ):
        assert told in await talk.say(words)
        # In the old session these words were an edit; in the new one they make a new video.
        answer = await talk.say(prompt)
        assert "Done! " in answer and "is ready" in answer and "Sure, editing" not in answer
        sessions.append(await session_of(w, talk.key))
    log = await sim_log(w.sim.base_url)
    assert len(set(sessions)) == 4
    assert len([e for e in log if "with-session" in e["path"]]) == 4
    assert [e["json"]["session_id"] for e in log if e["path"] == "/run_sse"] == sessions
    listing = (await talk.say("versions")).splitlines()
    assert listing[1].startswith('• v1: "a 3-second city timelapse"')
    assert listing[2] == listing[4] == listing[6] == "• — new video —"
    assert listing[3].startswith('• v2: "add lo-fi music at 35%" · ')
    assert listing[3].endswith(" tracks")  # a video's first version: its length and tracks


# -- per-user defaults ----------------------------------------------------------------------


async def test_settings_and_set_are_stored_and_shown_in_the_next_new_video(w: World) -> None:
    talk = Talk(w)
    shown_first = await talk.say("settings")
    assert "You have no defaults for new videos yet." in shown_first
    assert 'Change one with "set aspect 9:16", "set duration 15"' in shown_first
    assert await talk.say("set aspect 9:16") == (
        "✅ Saved: aspect 9:16. It applies to your next new video."
    )
    assert "✅ Saved: duration 15." in await talk.say("set duration 15")
    assert "Your defaults for new videos: 9:16, 15 s." in await talk.say("settings")
    stored = await w.rt.store.get_defaults("slack", TEAM, USER)
    assert (stored.aspect, stored.duration) == ("9:16", 15)

    video = Talk(w)  # a new conversation: its first prompt carries the defaults
    answer = await video.say("a sunset over the sea")
    assert "Using your defaults: 9:16, 15 s" in answer
    assert "a 15-second 9:16 video" in answer  # the backend made what the defaults asked
    assert (await sent_turns(w.sim.base_url))[-1] == (
        "a sunset over the sea (aspect ratio 9:16, 15 seconds long)"
    )
    await video.say("make the title bigger")  # an edit: the defaults are not added again
    assert (await sent_turns(w.sim.base_url))[-1] == "make the title bigger"
    assert "Using your defaults" not in video.said[-1]


async def test_chinese_settings_and_a_chosen_language(w: World) -> None:
    talk = Talk(w)
    assert "你还没有新视频的默认设置。" in await talk.say("设置")
    assert "✅ 已保存：比例 9:16。" in await talk.say("设置比例 竖屏")
    assert "✅ 已保存：时长 15。" in await talk.say("设置时长 15秒")
    assert "你的新视频默认设置：9:16, 15 s。" in await talk.say("设置")
    assert "⚠️ 时长 不能设为“永远”：请用 3 到 600 之间的秒数。" in await talk.say("设置时长 永远")
    assert "✅ Saved: language zh-CN." in await talk.say("set language zh")
    assert "还没有版本" in await talk.say("versions")  # English words, a Chinese reply now

    video = Talk(w)
    answer = await video.say("a sunset over the sea")
    assert "使用你的默认设置：9:16, 15 s, zh-CN" in answer
    posted = [c.args["text"] for c in w.slack.calls("chat.postMessage")]
    assert "连接中..." in posted and "Connecting..." not in posted
    assert (await sent_turns(w.sim.base_url))[-1] == (
        "a sunset over the sea (aspect ratio 9:16, 15 seconds long)"
    )


# -- the words that must not cost a turn ----------------------------------------------------


@pytest.mark.parametrize(
    ("words", "told"),
    [
        ("undo", 'say "versions" to list them and "export v2" to get one as it was'),
        ("撤销", "视频服务没有撤销功能，但每次修改都是一个版本"),
    ],
)
async def test_undo_explains_versions_and_costs_no_turn(w: World, words: str, told: str) -> None:
    talk = Talk(w)
    await talk.say("a 3-second city timelapse")
    runs = await sent_turns(w.sim.base_url)
    answer = await talk.say(words)
    assert told in answer
    assert "Connecting" not in answer and "连接" not in answer
    assert await sent_turns(w.sim.base_url) == runs
    assert await w.rt.store.spent_today("slack", TEAM, USER, utc_day()) == 100  # the prompt only


async def test_help_and_slash_help_answer_with_usage(w: World) -> None:
    for words, told in (
        ("help", "I turn descriptions into videos. Try:"),
        ("/help", "I turn descriptions into videos. Try:"),
        ("commands", "I turn descriptions into videos. Try:"),
        ("帮助", "我可以把文字描述变成视频。试试："),
    ):
        talk = Talk(w)
        answer = await talk.say(words)
        assert told in answer, (words, answer)
        assert "jupiter_export" in json.dumps(talk.messages[-1].blocks)  # with its buttons
    assert await sent_turns(w.sim.base_url) == []


# -- credits against a daily budget ---------------------------------------------------------


async def test_credits_show_todays_spend_against_the_daily_budget(budgeted: World) -> None:
    talk = Talk(budgeted)
    answer = await talk.say("credits")
    assert "Today you've spent about 0 of your 300 daily credits." in answer
    await talk.say("a 3-second waterfall")  # a new video: about 100
    answer = await talk.say("credits")
    assert re.search(r"Credits: [\d,.]+ available, [\d,.]+ frozen, [\d,.]+ total\.", answer)
    assert "Today you've spent about 100 of your 300 daily credits." in answer
    fields = [f["text"] for b in talk.messages[-1].blocks for f in b.get("fields", [])]
    assert [f.split("\n")[0] for f in fields] == ["*Available*", "*Frozen*", "*Total*"]
    for words in ("积分", "余额"):
        answer = await talk.say(words)
        assert "积分：可用" in answer and "你今天已使用约 100 / 300 每日积分。" in answer
    assert await sent_turns(budgeted.sim.base_url) == ["a 3-second waterfall"]


# -- a queued message -----------------------------------------------------------------------


async def waits_with(talk: Talk, prompt: str, queued: str) -> Message:
    """`prompt` runs slowly; `queued` is sent while it does. The queued notice."""
    talk.w.sim.set_faults({"turn_seconds": 0.6})
    seen = len(talk.messages) if talk.key else 0
    key = await talk.send(prompt)
    await talk.w.slack.wait_for(lambda: len(talk.w.thread(key)) > seen, WAIT)  # under way
    await talk.send(queued)
    notice: Message = await talk.w.slack.wait_for(
        lambda: next((m for m in talk.w.thread(key)[seen:] if "📥" in m.all_text), None), WAIT
    )
    talk.w.sim.set_faults({"turn_seconds": 0.25})  # the rest may run quickly
    return notice


async def test_a_queued_message_hears_its_position_and_an_estimate(w: World) -> None:
    talk = Talk(w)
    notice = await waits_with(talk, "a 4-second harbour at dawn", "make it 6 seconds")
    assert shown(notice) == (
        "📥 Got it. I'll start on this as soon as the current step finishes "
        "(1 ahead of you, about 1 min)."  # nothing measured yet: a minute a turn
    )
    await talk.send('change the title to "Dusk"')
    await w.slack.wait_for(lambda: "2 messages are waiting" in notice.all_text, WAIT)
    await w.rt.engine.idle(WAIT)
    assert [m for m in talk.messages if "📥" in m.all_text] == [notice]  # one, kept current
    assert shown(notice) == (
        "📥 Got it. 2 messages are waiting; the first starts as soon as the current step "
        "finishes (about 2 min)."
    )
    assert (await sent_turns(w.sim.base_url))[1:] == [
        "make it 6 seconds",
        'change the title to "Dusk"',
    ]

    await talk.say("make it 8 seconds")  # four quick turns measured: the estimate follows them
    chinese = await waits_with(talk, "make it 7 seconds", "把标题改成“黄昏”")
    assert chinese is not notice  # a new burst, a new notice
    assert shown(chinese) == (
        "📥 收到。当前步骤完成后我会马上处理这条消息（前面还有 1 条，不到一分钟）。"
    )
    await w.rt.engine.idle(WAIT)
    assert (await sent_turns(w.sim.base_url))[-1] == "把标题改成“黄昏”"  # and it ran, in turn
