"""What the console says in its own words, in every catalogue language.

Keys are prefixed `console.` so they never meet the engine's `Msg` values; the tables are
registered with the catalogue when this module is imported.
"""

from __future__ import annotations

from enum import StrEnum

from core.messages import register
from core.port import Action


class ConsoleWords(StrEnum):
    WELCOME = "console.welcome"
    SAVED = "console.saved"
    SAY = "console.say"
    SAY_EXPORT = "console.say_export"
    SAY_STATUS = "console.say_status"
    SAY_CREDITS = "console.say_credits"


_EN: dict[StrEnum, str] = {
    ConsoleWords.WELCOME: (
        "Jupiter console: describe a video, then edit it, say 'export' for the MP4. Ctrl-D quits."
    ),
    ConsoleWords.SAVED: "💾 Saved the video to {path}",
    ConsoleWords.SAY: "  (say: {choices})",
    ConsoleWords.SAY_EXPORT: "export",
    ConsoleWords.SAY_STATUS: "status",
    ConsoleWords.SAY_CREDITS: "credits",
}

_ZH: dict[StrEnum, str] = {
    ConsoleWords.WELCOME: "Jupiter 控制台：描述一个视频，然后修改它，说“导出”获取 MP4。Ctrl-D 退出。",
    ConsoleWords.SAVED: "💾 视频已保存到 {path}",
    ConsoleWords.SAY: "  （可以说：{choices}）",
    ConsoleWords.SAY_EXPORT: "导出",
    ConsoleWords.SAY_STATUS: "状态",
    ConsoleWords.SAY_CREDITS: "积分",
}

HINTS: dict[Action, ConsoleWords] = {
    Action.EXPORT: ConsoleWords.SAY_EXPORT,
    Action.STATUS: ConsoleWords.SAY_STATUS,
    Action.CREDITS: ConsoleWords.SAY_CREDITS,
}

register({"en": _EN, "zh-CN": _ZH})
