"""Every workflow command in the terminal console, English and Chinese: `bots.console.chat`
reads a script from stdin (piped: one line at a time, each line's work done before the next;
typed: lines as they come) against the real engine and the local backend, and what it prints
is what the user reads."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import av
import pytest

from bots.console import chat
from core.sim import LocalBackend
from tests.conftest import RuntimeFactory
from tests.faults.conftest import sent_turns

PROMPT = "a 4-second sunset over mountains"


@pytest.fixture(autouse=True)
def funded(sim: LocalBackend) -> None:
    sim.set_faults({"credits": 100_000})  # every anonymous chat may make a few videos


async def console(
    runtime: RuntimeFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lines: list[str],
    *,
    interactive: bool = False,
    **settings: Any,
) -> str:
    """Run the console over `lines` until it ends; everything it printed."""
    script = tmp_path / "stdin.txt"
    script.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    async with runtime(**settings) as rt:
        with script.open(encoding="utf-8") as stdin:
            monkeypatch.setattr(sys, "stdin", stdin)
            assert await chat(rt, tmp_path / "videos", interactive=interactive) == 0
    return capsys.readouterr().out


CASES = {
    "versions, history, export v1, videos": (
        [PROMPT, "make it 6 seconds", "versions", "history", "export v1", "videos"],
        [
            'Versions in this conversation (say "export v2" to render one as it was):',
            f'  v1: "{PROMPT}" · 4 s, 3 tracks',
            "  v2: \"make it 6 seconds\" · Video 'sunset over mountains' now 0-6s",
            f'  Version v1: "{PROMPT}"',
            "💾 Saved the video to",
            "Videos delivered in this conversation:\n  v1 · ",
        ],
        2,
    ),
    "Chinese: 版本, 导出 v1, 视频": (
        [PROMPT, "make it 6 seconds", "版本", "导出 v1", "视频", "导出 v1", "导出 v9"],
        [
            "本对话的版本（发送“导出 v2”可按当时的样子渲染）：",
            f"  版本 v1：“{PROMPT}”",
            "💾 视频已保存到",
            "本对话已导出的视频：\n  v1 · ",
            "✅ v1 已经导出过，这是同一个视频：",
            "这里没有 v9。发送“版本”查看列表。",
        ],
        2,
    ),
    "new, start over, 重新开始": (
        [
            "a 3-second city timelapse",
            "new",
            "add lo-fi music at 35%",
            "start over",
            "make it 6 seconds",
            "重新开始",
            "versions",
        ],
        [
            "🆕 Starting a new video in this conversation: describe what you want.",
            "🆕 在这个对话里开始一个新视频",
            # a new video of its own (the default 10 s), not the city with music added
            '  — new video —\n  v2: "add lo-fi music at 35%" · 10 s, 3 tracks',
            "  — new video —\n  v3: ",
        ],
        3,
    ),
    "settings and set, then a new video": (
        ["settings", "set aspect 9:16", "set duration 15", "settings", "a sunset over the sea"],
        [
            "You have no defaults for new videos yet.\n  Change one with",
            "✅ Saved: aspect 9:16. It applies to your next new video.",
            "✅ Saved: duration 15. It applies to your next new video.",
            "Your defaults for new videos: 9:16, 15 s.",
            "Using your defaults: 9:16, 15 s",
            "a 15-second 9:16 video",
        ],
        1,
    ),
    "Chinese: 设置, and set language zh": (
        ["设置", "设置比例 竖屏", "设置时长 15秒", "设置", "set language zh", "versions"],
        [
            "你还没有新视频的默认设置。",
            "✅ 已保存：比例 9:16。将用于你的下一个新视频。",
            "✅ 已保存：时长 15。",
            "你的新视频默认设置：9:16, 15 s。",
            "✅ Saved: language zh-CN.",
            "还没有版本：先描述一个视频来生成 v1。",  # the chosen language answers
        ],
        0,
    ),
    "undo, help, /help and their Chinese": (
        ["undo", "撤销", "help", "/help", "帮助"],
        [
            'There\'s no undo on the video service, but every change is a version: say "versions"',
            "视频服务没有撤销功能",
            "I turn descriptions into videos. Try:",
            "我可以把文字描述变成视频。试试：",
        ],
        0,
    ),
}


@pytest.mark.parametrize(("lines", "shown", "turns"), CASES.values(), ids=CASES.keys())
async def test_a_command_in_the_console(
    runtime: RuntimeFactory,
    sim: LocalBackend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lines: list[str],
    shown: list[str],
    turns: int,
) -> None:
    out = await console(runtime, tmp_path, monkeypatch, capsys, lines)
    for fragment in shown:
        assert fragment in out, f"{fragment!r} not shown:\n{out}"
    assert len(await sent_turns(sim.base_url)) == turns  # the commands cost no turn
    assert "Traceback" not in out


async def test_export_v1_saves_the_video_v1_was(
    runtime: RuntimeFactory,
    sim: LocalBackend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await console(
        runtime, tmp_path, monkeypatch, capsys, [PROMPT, "make it 6 seconds", "export v1"]
    )
    (saved,) = (tmp_path / "videos").glob("*.mp4")
    with av.open(str(saved)) as container:
        assert container.duration is not None
        assert abs(container.duration / 1e6 - 4.0) < 0.3  # v1's 4 seconds, not v2's 6
    assert saved.with_suffix(".jpg").read_bytes()[:2] == b"\xff\xd8"  # its poster beside it


async def test_credits_show_the_days_spend_against_the_budget(
    runtime: RuntimeFactory,
    sim: LocalBackend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = ["credits", "a 3-second waterfall", "credits", "积分"]
    out = await console(runtime, tmp_path, monkeypatch, capsys, lines, user_daily_credits=300)
    assert "  Today you've spent about 0 of your 300 daily credits." in out
    assert "  Today you've spent about 100 of your 300 daily credits." in out
    assert "  你今天已使用约 100 / 300 每日积分。" in out
    assert await sent_turns(sim.base_url) == ["a 3-second waterfall"]


async def test_lines_typed_during_a_turn_hear_their_place_in_the_queue(
    runtime: RuntimeFactory,
    sim: LocalBackend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim.set_faults({"turn_seconds": 0.6})
    lines = [PROMPT, "make it 6 seconds", '把标题改成"黄昏"']  # typed at once
    out = await console(runtime, tmp_path, monkeypatch, capsys, lines, interactive=True)
    assert (
        "📥 Got it. I'll start on this as soon as the current step finishes "
        "(1 ahead of you, about 1 min)." in out
    )
    assert "📥 收到。共有 2 条消息在排队，当前步骤完成后依次处理（大约 2 分钟）。" in out
    assert await sent_turns(sim.base_url) == [PROMPT, "make it 6 seconds", '把标题改成"黄昏"']
