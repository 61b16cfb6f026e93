"""Short commands route to actions; everything else, long prompts included, is a turn."""

from __future__ import annotations

import pytest

from core.intents import Intent, classify, is_chinese, normalize

COMMANDS = [
    ("export", Intent.EXPORT),
    ("Export!", Intent.EXPORT),
    ("please export", Intent.EXPORT),
    ("export it please", Intent.EXPORT),
    ("download", Intent.EXPORT),
    ("send me the video", Intent.EXPORT),
    ("render it", Intent.EXPORT),
    ("ＥＸＰＯＲＴ", Intent.EXPORT),  # full width
    ("ex\u200bport", Intent.EXPORT),  # zero-width space
    ("credits", Intent.CREDITS),
    ("how many credits", Intent.CREDITS),
    ("what's my balance?", Intent.CREDITS),
    ("status", Intent.STATUS),
    ("show timeline", Intent.STATUS),
    ("tracks", Intent.STATUS),
    ("upload", Intent.UPLOAD),
    ("stop", Intent.STOP),
    ("cancel", Intent.STOP),
    ("help", Intent.HELP),
    ("?", Intent.HELP),
    ("", Intent.HELP),
    ("   ", Intent.HELP),
    ("导出", Intent.EXPORT),
    ("请导出", Intent.EXPORT),
    ("导出吧", Intent.EXPORT),
    ("下载视频", Intent.EXPORT),
    ("积分", Intent.CREDITS),
    ("余额", Intent.CREDITS),
    ("状态", Intent.STATUS),
    ("上传", Intent.UPLOAD),
    ("停止", Intent.STOP),
    ("取消", Intent.STOP),
    ("帮助", Intent.HELP),
    ("怎么用", Intent.HELP),
    ("？", Intent.HELP),
]

PROMPTS = [
    "make a 30-second video of a city at night with lo-fi music",
    "a video about a cat who wants to export his toys to mars",
    "create a clip showing the status of the stock market today",
    "a developer typing help into a terminal at night, neon light",
    "help me make a video of a dog surfing at sunset",
    "film a rocket that will never stop climbing into the stars",
    "帮我做一个视频，介绍如何导出和下载文件的教程",
    "做一个关于积分制度的城市宣传视频",
    "生成一段关于停止浪费粮食的公益短片",
]


@pytest.mark.parametrize(("text", "intent"), COMMANDS)
def test_commands(text: str, intent: Intent) -> None:
    assert classify(text) is intent


@pytest.mark.parametrize("text", PROMPTS)
def test_long_prompts_with_keywords_stay_turns(text: str) -> None:
    assert classify(text) is Intent.TURN


def test_files_make_an_upload_whatever_the_text() -> None:
    assert classify("export", has_files=True) is Intent.UPLOAD
    assert classify("", has_files=True) is Intent.UPLOAD
    assert classify(PROMPTS[0], has_files=True) is Intent.UPLOAD


def test_keywords_match_whole_words_only() -> None:
    assert classify("exporter") is Intent.TURN
    assert classify("stopwatch") is Intent.TURN
    assert classify("re-export") is Intent.TURN


def test_normalize() -> None:
    assert normalize("  Please   EXPORT now!! ") == "export"
    assert normalize("请导出吧。") == "导出"


def test_is_chinese() -> None:
    assert is_chinese("做一个视频")
    assert not is_chinese("make a video")


def test_edits_that_mention_keywords_reach_the_agent() -> None:
    from core.intents import Intent, classify

    for text in (
        "add subtitles to the timeline",
        "remove all tracks",
        "add end credits",
        "cancel the title",
    ):
        assert classify(text) is Intent.TURN, text
    for text in ("cancel it", "stop the render", "停止"):
        assert classify(text) is Intent.STOP, text
