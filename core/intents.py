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
    NEW = "new"  # a fresh video (a new backend session) in the same conversation
    VERSIONS = "versions"
    VIDEOS = "videos"
    SETTINGS = "settings"  # show the user's defaults
    SET = "set"  # change one default: "set aspect 9:16"
    UNDO = "undo"  # explains versions and `export vN` (there is no backend undo)
    QUIT = "quit"  # the console ends; elsewhere a word that must not cost a turn
    RETRY = "retry"  # re-send the message a lost turn could not finish ("Try again")


# Whole-message phrases only: "new", "videos" inside a prompt ("a new video of cats") stay prompts.
_EXACT: dict[str, Intent] = {
    phrase: intent
    for intent, phrases in (
        (
            Intent.NEW,
            ("new", "new video", "start over", "start again", "重新开始", "从头开始", "新视频"),
        ),
        (
            Intent.VERSIONS,
            ("versions", "version", "history", "list versions", "show versions", "版本", "历史"),
        ),
        (Intent.VIDEOS, ("videos", "my videos", "gallery", "show videos", "视频", "我的视频")),
        (Intent.SETTINGS, ("settings", "my settings", "defaults", "设置", "我的设置")),
        (Intent.UNDO, ("undo", "go back", "revert", "撤销", "撤回")),
        (Intent.QUIT, ("quit", "exit", "bye", "退出")),
        (Intent.RETRY, ("retry", "try again", "重试", "再试一次")),
        (Intent.HELP, ("/help", "commands")),
    )
    for phrase in phrases
}
_SET = re.compile(
    r"^(?:set|设置)\s*(aspect|ratio|duration|length|style|language|lang|比例|时长|风格|语言)\s*(?:to|=|为|:)?\s*(\S.*)$"
)
_EXPORT_VERSION = re.compile(
    r"^(?:export|render|download|导出|下载)\s*(?:version\s*|版本\s*|v)(\d{1,6})$"
)
_SET_FIELDS = {
    "aspect": "aspect",
    "ratio": "aspect",
    "比例": "aspect",
    "duration": "duration",
    "length": "duration",
    "时长": "duration",
    "style": "style",
    "风格": "style",
    "language": "language",
    "lang": "language",
    "语言": "language",
}


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
    if not (text.isascii() and text.isprintable()):  # (printable ASCII is its own NFKC form)
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
    if norm in _EXACT:
        return _EXACT[norm]
    if _SET.match(norm):
        return Intent.SET
    if _EXPORT_VERSION.match(norm):
        return Intent.EXPORT
    words = norm.split(" ")
    # Chinese has no spaces between words: count characters there, words elsewhere
    short = len(norm) <= 8 if is_chinese(norm) else len(words) <= _MAX_COMMAND_WORDS
    edit = _EDIT_VERB.match(norm) is not None
    for intent, exact, whole_word, chinese in _MATCHERS:
        if norm in exact:
            return intent
        if not short or edit or intent is Intent.HELP:
            continue
        if intent is Intent.STOP and not _STOP_PHRASE.match(norm):
            continue  # "cancel the title" is an edit, "cancel it" is a stop
        if whole_word.search(norm) or any(keyword in norm for keyword in chinese):
            return intent
    return Intent.TURN


def _matcher(
    intent: Intent, keywords: tuple[str, ...]
) -> tuple[Intent, frozenset[str], re.Pattern[str], tuple[str, ...]]:
    """An intent's keywords as one test each way: the whole message, one of them as a whole
    word (one search for all), or a Chinese one anywhere (Chinese has no spaces to bound it)."""
    chinese = tuple(k for k in keywords if is_chinese(k))
    words = "|".join(re.escape(k) for k in sorted(set(keywords) - set(chinese), key=len)[::-1])
    pattern = re.compile(rf"(?<![\w-])(?:{words})(?![\w-])" if words else r"(?!)")
    return intent, frozenset(keywords), pattern, chinese


_MATCHERS = tuple(_matcher(intent, keywords) for intent, keywords in _TABLE)


def export_version(text: str) -> int | None:
    """The version an export names (`export v2`, `导出 v2`), or None for the current timeline."""
    match = _EXPORT_VERSION.match(normalize(text))
    return int(match.group(1)) if match else None


def setting_change(text: str) -> tuple[str, str] | None:
    """(field, value) of `set aspect 9:16`, `set duration 15`, `设置风格 电影感`; field is one of
    aspect, duration, style, language."""
    match = _SET.match(normalize(text))
    if match is None:
        return None
    return _SET_FIELDS[match.group(1)], match.group(2).strip()
