"""The console's own sentences, in the product's catalogue (`core.messages`), one table per
language, so they are translated and checked like the engine's."""

from __future__ import annotations

from enum import StrEnum

from core.messages import register


class ConsoleMsg(StrEnum):
    WELCOME = "console_welcome"
    LOGS = "console_logs"
    SAY = "console_say"
    SAVED = "console_saved"
    UPLOAD_USAGE = "console_upload_usage"
    NOT_FOUND = "console_not_found"
    NOT_A_FILE = "console_not_a_file"
    UNREADABLE = "console_unreadable"


EN: dict[StrEnum, str] = {
    ConsoleMsg.WELCOME: "Jupiter console: describe a video, then edit it, say 'export' for the MP4. "
    "Ctrl-D quits.",
    ConsoleMsg.LOGS: "(logs go to {path}; --verbose shows them here)",
    ConsoleMsg.SAY: "(say: {options})",
    ConsoleMsg.SAVED: "💾 Saved the video to {path}",
    ConsoleMsg.UPLOAD_USAGE: "Usage: upload PATH [PATH...] [what to do with them], "
    "e.g. upload ~/clip.mp4 use this as the intro",
    ConsoleMsg.NOT_FOUND: "⚠️ There is no file at {path}.",
    ConsoleMsg.NOT_A_FILE: "⚠️ {path} is a folder, not a file.",
    ConsoleMsg.UNREADABLE: "⚠️ I can't read {path}: {reason}.",
}

ZH: dict[StrEnum, str] = {
    ConsoleMsg.WELCOME: "Jupiter 控制台：描述一个视频，然后修改它，发送“导出”获取 MP4。Ctrl-D 退出。",
    ConsoleMsg.LOGS: "（日志写入 {path}；加 --verbose 在这里显示）",
    ConsoleMsg.SAY: "（可以说：{options}）",
    ConsoleMsg.SAVED: "💾 视频已保存到 {path}",
    ConsoleMsg.UPLOAD_USAGE: "用法：上传 路径 [路径...] [要做什么]，例如：上传 ~/clip.mp4 用作片头",
    ConsoleMsg.NOT_FOUND: "⚠️ {path} 不存在。",
    ConsoleMsg.NOT_A_FILE: "⚠️ {path} 是文件夹，不是文件。",
    ConsoleMsg.UNREADABLE: "⚠️ 无法读取 {path}：{reason}。",
}

register({"en": EN, "zh-CN": ZH})
