"""What the console says in its own words, in every catalogue language.

Keys are prefixed `console.` so they never meet the engine's `Msg` values; the tables are
registered with the catalogue when this module is imported.
"""

from __future__ import annotations

from enum import StrEnum

from core.messages import register


class ConsoleWords(StrEnum):
    WELCOME = "console.welcome"
    SAVED = "console.saved"
    SAY = "console.say"
    LOGS = "console.logs"
    UPLOAD_USAGE = "console.upload_usage"
    NOT_FOUND = "console.not_found"
    NOT_A_FILE = "console.not_a_file"
    UNREADABLE = "console.unreadable"


EN: dict[StrEnum, str] = {
    ConsoleWords.WELCOME: (
        "Jupiter console: describe a video, then edit it, say 'export' for the MP4. Ctrl-D quits."
    ),
    ConsoleWords.SAVED: "💾 Saved the video to {path}",
    ConsoleWords.SAY: "  (say: {choices})",
    ConsoleWords.LOGS: "(logs go to {path}; --verbose shows them here)",
    ConsoleWords.UPLOAD_USAGE: "Usage: upload PATH [PATH...] [what to do with them], "
    "e.g. upload ~/clip.mp4 use this as the intro",
    ConsoleWords.NOT_FOUND: "⚠️ There is no file at {path}.",
    ConsoleWords.NOT_A_FILE: "⚠️ {path} is a folder, not a file.",
    ConsoleWords.UNREADABLE: "⚠️ I can't read {path}: {reason}.",
}

ZH: dict[StrEnum, str] = {
    ConsoleWords.WELCOME: "Jupiter 控制台：描述一个视频，然后修改它，说“导出”获取 MP4。Ctrl-D 退出。",
    ConsoleWords.SAVED: "💾 视频已保存到 {path}",
    ConsoleWords.SAY: "  （可以说：{choices}）",
    ConsoleWords.LOGS: "（日志写入 {path}；加 --verbose 在这里显示）",
    ConsoleWords.UPLOAD_USAGE: "用法：上传 路径 [路径...] [要做什么]，例如：上传 ~/clip.mp4 用作片头",
    ConsoleWords.NOT_FOUND: "⚠️ {path} 不存在。",
    ConsoleWords.NOT_A_FILE: "⚠️ {path} 是文件夹，不是文件。",
    ConsoleWords.UNREADABLE: "⚠️ 无法读取 {path}：{reason}。",
}

register({"en": EN, "zh-CN": ZH})
