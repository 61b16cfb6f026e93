"""Reading a user's words the way the scripted agent needs: what to generate, what to change.

Pure functions over text, so the agent's behaviour is testable without a server. The parser is
forgiving on purpose: any text yields a usable generation (a subject falls back to "untitled clip").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MIN_SECONDS, MAX_SECONDS, DEFAULT_SECONDS = 1, 300, 10

GENRES = {
    "lo-fi": "Lo-fi",
    "lofi": "Lo-fi",
    "lo fi": "Lo-fi",
    "jazz": "Jazz",
    "piano": "Piano",
    "ambient": "Ambient",
    "cinematic": "Cinematic",
    "epic": "Epic",
    "acoustic": "Acoustic",
    "electronic": "Electronic",
    "upbeat": "Upbeat",
    "rock": "Rock",
    "classical": "Classical",
    "hip hop": "Hip-hop",
    "hip-hop": "Hip-hop",
    "chill": "Chill",
    "synthwave": "Synthwave",
    "爵士": "Jazz",
    "钢琴": "Piano",
    "氛围": "Ambient",
    "史诗": "Epic",
    "吉他": "Acoustic",
    "电子": "Electronic",
    "欢快": "Upbeat",
    "摇滚": "Rock",
    "古典": "Classical",
    "嘻哈": "Hip-hop",
    "轻松": "Chill",
}  # what users call a style -> the BGM track's name
DEFAULT_GENRES = ("Lo-fi", "Ambient", "Upbeat", "Cinematic", "Acoustic")

_WORD_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "five": 5,
    "ten": 10,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "sixty": 60,
    "ninety": 90,
}
_WORD_AMOUNTS = {"half a": 0.5, "a": 1.0, "an": 1.0, **_WORD_NUMBERS}
_UNIT = r"(seconds?|secs?|s|minutes?|mins?|m)"
_NUMERIC_DURATION = re.compile(rf"\b(\d+(?:\.\d+)?)\s*-?\s*{_UNIT}\b")
_WORD_DURATION = re.compile(
    rf"\b(half a|a|an|{'|'.join(_WORD_NUMBERS)})[\s-]+(seconds?|minutes?|min)\b"
)
# Chinese runs letters and digits together ("改成9:16", "音量35%"), so where a rule must also
# hold inside Chinese text it uses lookarounds on digits or Latin letters instead of \b.
_RATIO = re.compile(r"(?<![\d.])(9\s*[:：]\s*16|16\s*[:：]\s*9|1\s*[:：]\s*1)(?![\d.])")
_ORIENTATION = {
    "9:16": re.compile(
        r"\b(vertical|portrait|tiktok|reels?|shorts|stor(y|ies))\b|竖屏|竖版|竖向|纵向|竖的"
    ),
    "1:1": re.compile(r"\b(square)\b|正方形|方形|方屏"),
    "16:9": re.compile(r"\b(horizontal|landscape|widescreen|wide screen)\b|横屏|横版|横向|宽屏"),
}
_RESOLUTION = re.compile(
    r"(?<![a-z0-9])(2160p|4k|1440p|1080p|full hd|fhd|720p|hd|480p)(?![a-z0-9])"
)
_RESOLUTION_LINES = {
    "2160p": 2160,
    "4k": 2160,
    "1440p": 1440,
    "1080p": 1080,
    "full hd": 1080,
    "fhd": 1080,
    "720p": 720,
    "hd": 720,
    "480p": 480,
}
_PERCENT = re.compile(r"(?<![\d.])(\d{1,3})\s*(%|％|percent\b)")
_VOLUME_TO = re.compile(
    r"\bvolume\s*(?:to|at|of|=|:)?\s*(\d{1,3})\b"
    r"|音量\s*(?:调到|调成|调为|调至|改成|改为|改到|设为|设成|设置为|设置成|到|为|是)?\s*[:：]?\s*(\d{1,3})(?!\d)"
)
_ZH_DURATION = re.compile(r"(\d+(?:\.\d+)?|[零一二两三四五六七八九十半]+)\s*(秒钟?|分钟)")
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_ZH_DIGITS |= {"八": 8, "九": 9}
_QUOTED_TITLE = re.compile(
    r"\b(?:title[ds]?|called|named)\s*(?:to|as|:|=)?\s*[\"“'‘]([^\"”'’]+)[\"”'’]"
)
_BARE_TITLE = re.compile(r"\btitle\s+(?:to|as)\s+(.+?)\s*(?:[.!?;]|$)")
_ZH_TITLE = re.compile(
    r"标题(?:文字)?\s*(?:改成|改为|换成|换为|设为|设成|设置为|设置成|变成|写成|叫做?|为)\s*[:：]?\s*"
    r"[\"“「『'‘]?\s*([^\"”」』'’。！？!?；;，,\n]+?)\s*[\"”」』'’]?\s*(?:[。！？!?；;，,\n]|$)"
)
_NO_MUSIC = re.compile(
    r"\b(no|without)\s+(background\s+)?(music|sound|audio|bgm)\b|\bsilent\b"
    r"|(不要|没有|无)(背景)?(音乐|配乐)"
)
_REMOVE_MUSIC = re.compile(
    r"\b(remove|delete|drop|cut|lose)\s+(the\s+)?(background\s+)?(music|bgm|soundtrack|audio|song)\b"
    r"|(删除|删掉|删去|去掉|去除|移除|拿掉|关掉)(背景)?(音乐|配乐|bgm)"
)
_REMOVE_TITLE = re.compile(
    r"\b(remove|delete|drop|hide|lose)\s+(the\s+)?(title|text|caption)s?\b|\bno\s+title\b"
    r"|(删除|删掉|删去|去掉|去除|移除|拿掉|隐藏|不要)(标题|字幕)|无标题"
)
_MUSIC_WORD = re.compile(
    r"\b(music|song|soundtrack|beats?|bgm|tune|track)\b|音乐|配乐|音量|歌曲|声音"
)
_TITLE_WORD = re.compile(r"\btitle\b|标题")
_BIGGER = re.compile(
    r"\b(bigger|larger|huge|increase)\b|调大|放大|变大|加大|大一点|大一些|大些|更大"
)
_SMALLER = re.compile(r"\b(smaller|tiny|decrease)\b|调小|缩小|变小|小一点|小一些|小些|更小")
_LOUDER = re.compile(r"\b(louder|turn up|raise)\b|调大|调高|大声|提高|增大|大一点|响一点")
_QUIETER = re.compile(
    r"\b(quieter|softer|turn down|lower)\b|调小|调低|小声|降低|减小|小一点|轻一点"
)
_ADD = re.compile(r"\badd\b|加上|添加|加入|加点|加个|配上")
_GENERATE_REQUEST = re.compile(
    r"\b(make|create|generate|produce|render|give me|want|need|do)\s+(me\s+)?"
    r"(a|an|another|new|a new|one more)\b[^.?!]{0,40}?\b(video|clip|film|movie|animation)s?\b"
)
_CLAUSE = re.compile(r"[,.;:!?\n]|\s(?:with|set to|using|titled|called|named|and then|but)\s")
_MEDIUM = re.compile(
    r"\b(?:video|clip|film|movie|animation|reel|short)s?\s+(?:of|about|showing|featuring)\s+"
)
_FILLER = re.compile(
    r"^(?:please|pls|hey|hi|ok|okay|so|can you|could you|would you|will you|i want|i'd like|"
    r"i would like|give me|show me|make me|make|create|generate|produce|render|build|do|me|a|an|"
    r"the|some|new|another|quick|video|clip|film|movie|of|about|showing|featuring|in|at|for)\b\s*"
)

_PRONOUNS = {"it", "this", "that", "one", "something", "anything"}
_TRAILER = re.compile(r"\s*\b(?:in|at|for|with|of|a|an|the|and|to|on|please|video|clip)$")
_CHAT = re.compile(
    r"^(hi|hello|hey|yo|thanks|thank you|ok|okay|cool|nice|great|yes|no|help|how|what|why|when|"
    r"where|who|which|can you|could you|do you|does|is|are|export|download|preview|status)\b"
)


@dataclass(frozen=True)
class Generation:
    """What the first prompt of a session asks for."""

    subject: str
    title: str
    seconds: int
    size: tuple[int, int]
    music: str | None  # a genre the user named; None: the agent picks one
    volume: int
    with_music: bool

    @property
    def aspect(self) -> str:
        width, height = self.size
        return "16:9" if width > height else "9:16" if height > width else "1:1"


@dataclass(frozen=True)
class EditOp:
    """One `edit_multitrack` operation, as the tool call carries it."""

    op: str
    args: dict[str, Any] = field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        return {"op": self.op, **self.args}


def title_case(text: str) -> str:
    """Capitalises each word without str.title()'s "Don'T"."""
    return " ".join(word[:1].upper() + word[1:] for word in text.split())


def _zh_amount(text: str) -> float | None:
    """A number in digits or Chinese numerals up to 99 ("15", "十五", "三十", "半"), else None."""
    if text[0].isdigit():
        return float(text)
    if text == "半":
        return 0.5
    if any(char not in _ZH_DIGITS and char != "十" for char in text) or text.count("十") > 1:
        return None
    if "十" not in text:
        return float(_ZH_DIGITS[text]) if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return float((_ZH_DIGITS[tens] if tens else 1) * 10 + (_ZH_DIGITS[ones] if ones else 0))


def duration_seconds(text: str) -> int | None:
    """Seconds named in the words ("30-second", "30s", "1 minute", "15秒", "半分钟"), clamped."""
    lowered = text.lower()
    chinese = _ZH_DURATION.search(lowered)
    zh_amount = _zh_amount(chinese.group(1)) if chinese else None
    if found := _NUMERIC_DURATION.search(lowered):
        amount, unit = float(found.group(1)), found.group(2)
    elif chinese is not None and zh_amount is not None:
        amount, unit = zh_amount, "m" if chinese.group(2) == "分钟" else "s"
    else:
        # "a second video" is an ordinal, not a duration: "a"/"an" only go with minutes.
        worded = next(
            (
                match
                for match in _WORD_DURATION.finditer(lowered)
                if match.group(1) in _WORD_NUMBERS or match.group(2).startswith("m")
            ),
            None,
        )
        if worded is None:
            return None
        amount, unit = _WORD_AMOUNTS[worded.group(1)], worded.group(2)
    seconds = amount * 60 if unit.startswith("m") else amount
    return max(MIN_SECONDS, min(MAX_SECONDS, round(seconds)))


def _even(value: float) -> int:
    return 2 * round(value / 2)


def canvas(text: str, current: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """The frame size the words ask for, keeping what they leave unsaid from `current`."""
    lowered = text.lower()
    if found := _RATIO.search(lowered):
        ratio: str | None = re.sub(r"\s", "", found.group(1)).replace("：", ":")
    else:
        ratio = next((name for name, rule in _ORIENTATION.items() if rule.search(lowered)), None)
    found = _RESOLUTION.search(lowered)
    lines = _RESOLUTION_LINES[found.group(1)] if found else None
    if ratio is None and lines is None:
        return None
    width, height = current or (1920, 1080)
    if ratio is None:
        ratio = "16:9" if width > height else "9:16" if height > width else "1:1"
    short = lines or min(width, height)
    long = _even(short * 16 / 9)
    return {"16:9": (long, short), "9:16": (short, long), "1:1": (short, short)}[ratio]


def volume(text: str) -> int | None:
    lowered = text.lower()
    found = _VOLUME_TO.search(lowered)
    if found is None and (_MUSIC_WORD.search(lowered) or "volume" in lowered):
        found = _PERCENT.search(lowered)
    return min(100, int(next(g for g in found.groups() if g))) if found else None


def genre(text: str) -> str | None:
    lowered = text.lower()
    # Not \b: in "加上lo-fi音乐" the style touches Chinese letters, which are word characters too.
    return next(
        (name for key, name in GENRES.items() if re.search(rf"(?<![a-z]){key}(?![a-z])", lowered)),
        None,
    )


def quoted_title(text: str) -> str | None:
    found = _QUOTED_TITLE.search(text) or _BARE_TITLE.search(text) or _ZH_TITLE.search(text)
    return found.group(1).strip() if found else None


SUBJECT_SCAN_CHARS = 1000


def subject(text: str) -> str:
    """The clip's subject: "a 30s video of a sunset over mountains" -> "sunset over mountains"."""
    # The subject is in the first words; looking no further keeps absurd prompts cheap.
    lowered = _NO_MUSIC.sub(" ", _QUOTED_TITLE.sub(" ", text[:SUBJECT_SCAN_CHARS].lower()))
    for rule in (
        _RATIO,
        _NUMERIC_DURATION,
        _WORD_DURATION,
        _RESOLUTION,
        _PERCENT,
        *_ORIENTATION.values(),
    ):
        lowered = rule.sub(" ", lowered)
    for key in GENRES:
        lowered = re.sub(rf"\b{key}\s+(music|beats?|soundtrack|song|tune)s?\b", " ", lowered)
    for clause in _CLAUSE.split(lowered):
        medium = _MEDIUM.search(clause)
        words = clause[medium.end() :] if medium else clause
        words = re.sub(r"[\"“”'‘’()\[\]]", " ", words)
        words = re.sub(r"\s+", " ", words).strip(" -")
        while (cut := _TRAILER.sub("", _FILLER.sub("", words))) != words:
            words = cut.strip(" -")
        if any(char.isalnum() for char in words) and words not in _PRONOUNS:
            return " ".join(words.split()[:8])
    return "untitled clip"


def is_generation_request(text: str) -> bool:
    return bool(_GENERATE_REQUEST.search(text.lower()))


def generation(text: str) -> Generation:
    topic = subject(text)
    seconds = duration_seconds(text) or DEFAULT_SECONDS
    level = volume(text)
    return Generation(
        subject=topic,
        title=quoted_title(text) or title_case(topic),
        seconds=seconds,
        size=canvas(text) or (1920, 1080),
        music=genre(text),
        volume=100 if level is None else level,
        with_music=not _NO_MUSIC.search(text.lower()),
    )


def edits(text: str, current_canvas: tuple[int, int]) -> list[EditOp]:
    """Every change the words ask of an existing draft, in a stable order."""
    lowered = text.lower()
    ops: list[EditOp] = []
    if _REMOVE_MUSIC.search(lowered) or _NO_MUSIC.search(lowered):
        ops.append(EditOp("remove_music"))
    else:
        name, level = genre(text), volume(text)
        if re.search(r"\bunmute\b|取消静音", lowered):
            level = 100
        elif re.search(r"\bmute\b|静音", lowered):
            level = 0
        music = _MUSIC_WORD.search(lowered)
        if name is not None or level is not None:
            ops.append(EditOp("set_music", {"name": name, "volume": level}))
        elif music and _LOUDER.search(lowered):
            ops.append(EditOp("change_volume", {"delta": 25}))
        elif music and _QUIETER.search(lowered):
            ops.append(EditOp("change_volume", {"delta": -25}))
        elif music and _ADD.search(lowered):
            ops.append(EditOp("set_music", {"name": None, "volume": None}))
    if _REMOVE_TITLE.search(lowered):
        ops.append(EditOp("remove_title"))
    elif (title := quoted_title(text)) is not None:
        ops.append(EditOp("set_title", {"text": title}))
    elif _TITLE_WORD.search(lowered) and _BIGGER.search(lowered):
        ops.append(EditOp("scale_title", {"factor": 1.5}))
    elif _TITLE_WORD.search(lowered) and _SMALLER.search(lowered):
        ops.append(EditOp("scale_title", {"factor": 0.67}))
    seconds = duration_seconds(text)
    if seconds is not None and (
        not _TITLE_WORD.search(lowered)
        or re.search(
            r"\b(trim|shorten|extend|cut|length|long|make it)\b|时长|长度|缩短|延长|剪", lowered
        )
    ):
        ops.append(EditOp("set_duration", {"seconds": seconds}))
    size = canvas(text, current_canvas)
    if size is not None and size != current_canvas:
        ops.append(EditOp("set_canvas", {"width": size[0], "height": size[1]}))
    return ops


def is_chat(text: str) -> bool:
    """Greetings, questions and help requests: the agent answers with words only."""
    lowered = text.lower().strip()
    return not lowered or lowered.endswith("?") or bool(_CHAT.match(lowered))
