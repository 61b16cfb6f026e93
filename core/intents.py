"""What a chat message asks for: a pure function over a keyword table, English and Chinese.

Keyword intents fire only for short, command-like messages ("export", "send me the video",
"状态"), so a long prompt that happens to contain "status" still reaches the agent.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Intent(StrEnum):
    TURN = "turn"
    EXPORT = "export"
    CREDITS = "credits"
    STATUS = "status"
    UPLOAD = "upload"
    STOP = "stop"
    HELP = "help"


_TABLE: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    (Intent.STOP, ("stop", "cancel", "abort", "停止", "取消")),
    (Intent.HELP, ("help", "帮助", "怎么用", "?", "？")),
    (
        Intent.EXPORT,
        (
            "export",
            "导出",
            "download",
            "下载",
            "send me the video",
            "render",
            "render it",
            "give me the video",
            "give me the mp4",
            "send the video",
            "i want the video",
        ),
    ),
    (Intent.CREDITS, ("credits", "credit", "积分", "balance", "余额", "how many credits")),
    (
        Intent.STATUS,
        (
            "status",
            "状态",
            "show tracks",
            "tracks",
            "timeline",
            "show timeline",
            "show the timeline",
        ),
    ),
    (Intent.UPLOAD, ("upload", "上传")),
)

_MAX_COMMAND_WORDS = 5
# A message that starts like an edit ("add end credits", "remove all tracks") is for the agent.
_EDIT_VERB = re.compile(
    r"^(add|remove|delete|make|change|set|put|move|replace|use|turn|trim|cut|swap|insert|"
    r"drop|mute|increase|decrease|raise|lower|shorten|lengthen|create|generate|edit|"
    r"添加|加上|加|删除|去掉|移除|改|修改|换|替换|调|把|生成|制作|做)"
)
_STOP_PHRASE = re.compile(
    r"^(stop|cancel|abort)( (it|that|this|now|everything|all|the render|rendering|render|"
    r"the export|export|the turn|generation|the generation|please))?$|^(停止|取消)"
)
_FILLER = re.compile(
    r"^(please|pls|ok|okay|now|can you|could you|jupiter|hey|请|帮我|现在)\s*|\s*(please|pls|now|thanks|thank you|吧|了|谢谢)$"
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc") or ch in "\n\t"
    )
    text = re.sub(r"[!！。.,，~～]+$", "", text.strip().lower())
    previous = None
    while previous != text:
        previous = text
        text = _FILLER.sub("", text).strip()
    return re.sub(r"\s+", " ", text)


def is_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def classify(text: str, has_files: bool = False) -> Intent:
    """The intent of one message; attachments make it an upload (their text runs after)."""
    if has_files:
        return Intent.UPLOAD
    norm = normalize(text)
    if not norm:
        return Intent.HELP
    words = norm.split(" ")
    # Chinese has no spaces between words: count characters there, words elsewhere
    short = len(norm) <= 8 if is_chinese(norm) else len(words) <= _MAX_COMMAND_WORDS
    edit = _EDIT_VERB.match(norm) is not None
    for intent, keywords in _TABLE:
        for keyword in keywords:
            if norm == keyword:
                return intent
            if not short or edit or intent is Intent.HELP:
                continue
            if intent is Intent.STOP and not _STOP_PHRASE.match(norm):
                continue  # "cancel the title" is an edit, "cancel it" is a stop
            if _contains(norm, keyword):
                return intent
    return Intent.TURN


def _contains(text: str, keyword: str) -> bool:
    if is_chinese(keyword):
        return keyword in text
    return re.search(rf"(?<![\w-]){re.escape(keyword)}(?![\w-])", text) is not None
