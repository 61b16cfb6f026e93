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


_EN: dict[StrEnum, str] = {
    ConsoleWords.WELCOME: (
        "Jupiter console: describe a video, then edit it, say 'export' for the MP4. Ctrl-D quits."
    ),
    ConsoleWords.SAVED: "💾 Saved the video to {path}",
    ConsoleWords.SAY: "  (say: {choices})",
}

_ZH: dict[StrEnum, str] = {
    ConsoleWords.WELCOME: "Jupiter 控制台：描述一个视频，然后修改它，说“导出”获取 MP4。Ctrl-D 退出。",
    ConsoleWords.SAVED: "💾 视频已保存到 {path}",
    ConsoleWords.SAY: "  （可以说：{choices}）",
}

register({"en": _EN, "zh-CN": _ZH})
