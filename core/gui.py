"""The agent speaks as if the user had its web editor open: "click Export", "open the panel",
"drag the title to 0:05". In chat there is no GUI, so such sentences become actions the bot
takes itself, and the rest of the text is forwarded unchanged.

    click/点击 Export, the Export button, 导出 -> export
    click anything else, open/打开 a panel    -> show the timeline
    preview in the timeline / 预览           -> show the timeline
    drag/拖拽/拖动 ...                        -> send it to the agent as an edit
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class GuiAction(StrEnum):
    EXPORT = "export"
    SHOW_STATE = "show_state"
    EDIT = "edit"


@dataclass(frozen=True, slots=True)
class Translation:
    text: str
    actions: tuple[tuple[GuiAction, str], ...]  # (action, argument) in order of appearance


# A sentence ends at punctuation followed by a space or the end, so URLs, file names and
# "2.5 s" stay whole; stray punctuation is matched too, so forwarded text loses nothing.
_SENTENCE = re.compile(
    r"(?:[^.!?。！？\n]|[.!?](?=[^\s.!?。！？]))+[.!?。！？]*\n?|[.!?。！？]+\n?|\n"
)
_EXPORT = re.compile(r"(export|download|导出|下载)", re.I)
_CLICK = re.compile(r"\b(click|tap|press|hit)\b|点击|单击|按下", re.I)
_OPEN = re.compile(r"\bopen\b.*\b(panel|tab|editor|sidebar|menu|timeline)\b|打开", re.I)
_PREVIEW = re.compile(r"\bpreview\b.*\btimeline\b|\btimeline\b.*\bpreview\b|预览", re.I)
_DRAG = re.compile(r"\b(drag|drop)\b|拖拽|拖动|拖到", re.I)
_LEAD = re.compile(r"^(you can|you may|simply|just|then|now|next,?)\s+", re.I)
_BUTTON = re.compile(r"\b(button|icon)\b|按钮", re.I)
# every word one of the patterns above needs to act: most sentences have none, and one search
# for them all is a fifth of the searches that find nothing
_ANY = re.compile(
    r"\b(drag|drop|click|tap|press|hit|button|icon|open|preview)\b"
    r"|拖拽|拖动|拖到|点击|单击|按下|按钮|打开|预览",
    re.I,
)


def translate(text: str) -> Translation:
    """Split agent text into what to forward and which GUI actions to perform instead."""
    kept: list[str] = []
    actions: list[tuple[GuiAction, str]] = []
    for sentence in _SENTENCE.findall(text):
        action = _action(sentence)
        if action is None:
            kept.append(sentence)
            continue
        argument = sentence.strip()
        if action is GuiAction.EDIT:
            argument = _LEAD.sub("", _DRAG.sub("move", argument)).rstrip(".。!！")
        if all(a != action or action is GuiAction.EDIT for a, _ in actions):
            actions.append((action, argument))
    return Translation("".join(kept).strip(), tuple(actions))


def _action(sentence: str) -> GuiAction | None:
    if not _ANY.search(sentence):
        return None
    if _DRAG.search(sentence):
        return GuiAction.EDIT
    clicked = _CLICK.search(sentence) or _BUTTON.search(sentence)
    if clicked and _EXPORT.search(sentence):
        return GuiAction.EXPORT
    if _PREVIEW.search(sentence) or _OPEN.search(sentence):
        return GuiAction.SHOW_STATE
    if clicked:
        return GuiAction.SHOW_STATE
    return None
