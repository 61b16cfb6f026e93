"""The scripted agent: what a turn says, which tool it calls, and what it does to the draft.

`plan_turn` is pure given its random source: the same seed, session and words always give the
same script. The script is a list of steps that `turns.py` plays out over SSE; the draft changes
(and credits are charged) only when the tool result is sent, so a turn cut short before that
leaves the session as it was.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from core.sim import draft as drafts
from core.sim import prompts
from core.sim.accounts import Session
from core.sim.draft import Json

GENERATION_COST = 100
EDIT_COST = 50
GENERATE_TOOL = "generate_video_with_seedance"
EDIT_TOOL = "edit_multitrack"
GUI_TALK_SHARE = 0.35

GUI_TALK = {
    "export": (
        "Click the Export button to download your video.",
        "Click the Export button in the top-right corner to download your video.",
    ),
    "preview": (
        "Open the timeline panel to preview your video.",
        "Press Play in the preview window to watch it.",
    ),
    "title": ("You can drag the title to 0:05 on the timeline.",),
}
GUI_TALK_ZH = {
    "export": "点击导出按钮下载视频。",
    "preview": "打开时间线面板即可预览。",
    "title": "把标题拖到时间线的 0:05 处即可。",
}


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Call:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Work:
    seconds: float


@dataclass(frozen=True)
class Result:
    name: str
    result: dict[str, Any]
    commit: Callable[[Session], None]


Step = Say | Call | Work | Result


@dataclass(frozen=True)
class Turn:
    kind: Literal["generate", "edit", "chat"]
    cost: int
    steps: tuple[Step, ...]


def gui_talk(topic: str, language: str, rng: random.Random) -> str:
    """What the web agent says about its own buttons; the bot must translate it."""
    if language.lower().startswith("zh") or rng.random() < 0.2:
        return GUI_TALK_ZH[topic]
    return rng.choice(GUI_TALK[topic])


def plan_turn(
    text: str, session: Session, rng: random.Random, *, seconds: float, no_text_ratio: float
) -> Turn:
    has_draft = drafts.is_exportable(session.draft)
    wants_video = prompts.is_generation_request(text)
    if wants_video or not has_draft and not prompts.is_chat(text):
        return _generation(text, session, rng, seconds)
    ops = prompts.edits(text, drafts.canvas_of(session.draft)) if has_draft else []
    if ops:
        return _edit(ops, session, rng, seconds, quiet=rng.random() < no_text_ratio)
    return Turn("chat", 0, (Work(seconds / 3), Say(_answer(text, session, rng))))


def _generation(text: str, session: Session, rng: random.Random, seconds: float) -> Turn:
    wish = prompts.generation(text)
    music = None
    if wish.with_music:
        music = {"name": wish.music or rng.choice(prompts.DEFAULT_GENRES), "volume": wish.volume}
    duration_ms = wish.seconds * 1000
    new = drafts.new_draft(
        subject=wish.subject, title=wish.title, duration_ms=duration_ms, size=wish.size, music=music
    )
    media_id = f"vid_{rng.getrandbits(48):012x}"
    sound = f" with {music['name']} music" if music else ""
    if music and music["volume"] != 100:
        sound += f" at {music['volume']}%"
    args = {
        "prompt": text,
        "duration": wish.seconds,
        "aspect_ratio": wish.aspect,
        "resolution": f"{min(wish.size)}p",
        "music": music["name"] if music else None,
    }

    def commit(target: Session) -> None:
        target.draft = copy.deepcopy(new)
        target.generated_media.append(
            {
                "id": media_id,
                "type": "video",
                "prompt": text,
                "duration": float(wish.seconds),
                "model": "seedance",
            }
        )

    done = (
        f'Done! "{wish.title}" is ready: a {wish.seconds}-second {wish.aspect} video of '
        f"{wish.subject}{sound}, with the title shown for the first seconds. You can ask me to "
        "change the music, the title, the length or the aspect ratio."
    )
    if rng.random() < GUI_TALK_SHARE:
        done += " " + gui_talk(rng.choice(("export", "preview")), session.language, rng)
    result = {
        "status": "success",
        "video_id": media_id,
        "duration": float(wish.seconds),
        "width": wish.size[0],
        "height": wish.size[1],
        "tracks": len(new["t"]),
    }
    steps: tuple[Step, ...] = (
        Say(f"I'll generate a {wish.seconds}-second {wish.aspect} video of {wish.subject}{sound}."),
        Call(GENERATE_TOOL, args),
        Work(seconds * 0.8),
        Result(GENERATE_TOOL, result, commit),
        Work(seconds * 0.2),  # the second stage: the backend adds music, a title, effects
        Say(done),
    )
    return Turn("generate", GENERATION_COST, steps)


def apply_edits(target: Json, ops: list[prompts.EditOp]) -> list[str]:
    """Applies `ops` to a draft in place; returns what changed, in words."""
    changes: list[str] = []
    for op in ops:
        args = op.args
        if op.op == "set_music":
            drafts.set_music(target, name=args["name"], volume=args["volume"])
            track = drafts.music_track(target)
            meta = track["sg"][0]["m"] if track and track["sg"] else {}
            changes.append(f"music is {meta.get('name')} at {meta.get('volume')}%")
        elif op.op == "change_volume":
            track = drafts.music_track(target)
            current = track["sg"][0]["m"].get("volume", 100) if track and track["sg"] else 100
            level = max(0, min(100, current + args["delta"]))
            drafts.set_music(target, name=None, volume=level)
            changes.append(f"music volume is {level}%")
        elif op.op == "remove_music":
            removed = drafts.remove_tracks(target, drafts.AUDIO)
            changes.append("removed the music" if removed else "there was no music to remove")
        elif op.op == "set_title":
            drafts.set_title(target, args["text"])
            changes.append(f'the title reads "{args["text"]}"')
        elif op.op == "scale_title":
            size = drafts.scale_title(target, args["factor"])
            changes.append(f"title size is {size}" if size else "there is no title to resize")
        elif op.op == "remove_title":
            removed = drafts.remove_tracks(target, drafts.TEXT)
            changes.append("removed the title" if removed else "there was no title to remove")
        elif op.op == "set_duration":
            drafts.set_duration(target, args["seconds"] * 1000)
            changes.append(f"the video is {args['seconds']} seconds long")
        elif op.op == "set_canvas":
            drafts.set_canvas(target, (args["width"], args["height"]))
            changes.append(f"the frame is {args['width']}x{args['height']}")
    return changes


def _edit(
    ops: list[prompts.EditOp], session: Session, rng: random.Random, seconds: float, *, quiet: bool
) -> Turn:
    changes = apply_edits(copy.deepcopy(session.draft), ops)

    def commit(target: Session) -> None:
        apply_edits(target.draft, ops)

    said = "; ".join(changes)
    result = {"status": "success", "operations": len(ops), "changes": changes}
    call = Call(EDIT_TOOL, {"operations": [op.wire() for op in ops]})
    work_and_result: tuple[Step, ...] = (call, Work(seconds), Result(EDIT_TOOL, result, commit))
    if quiet:
        return Turn("edit", EDIT_COST, work_and_result)
    done = f"Done: {said}."
    if rng.random() < GUI_TALK_SHARE:
        done += " " + gui_talk("preview", session.language, rng)
    return Turn(
        "edit", EDIT_COST, (Say("Sure, editing the timeline."), *work_and_result, Say(done))
    )


def _answer(text: str, session: Session, rng: random.Random) -> str:
    lowered = text.lower()
    language = session.language
    if any(word in lowered for word in ("export", "download", "save", "render")):
        return gui_talk("export", language, rng)
    if any(word in lowered for word in ("preview", "watch", "play", "see it")):
        return gui_talk("preview", language, rng)
    if "title" in lowered and any(word in lowered for word in ("move", "drag", "when", "later")):
        return gui_talk("title", language, rng)
    if any(word in lowered for word in ("credit", "cost", "price")):
        return "A new clip costs about 100 credits and an edit about 50; exporting is free."
    if not drafts.is_exportable(session.draft):
        return (
            "Hi! Tell me what video to make, for example: a 30-second video of a sunset over "
            "mountains with lo-fi music."
        )
    return (
        f"Here is your timeline. {drafts.summary(session.draft)}. I can change the music, "
        "the title, the length or the aspect ratio."
    )
