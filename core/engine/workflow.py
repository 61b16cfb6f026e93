"""The video workflow around the agent: versions you can export, the gallery of delivered
videos, a fresh start in the same conversation, and per-user defaults for new videos.

A version is recorded by every agent turn that changed the draft (`record`); `export v2`
renders v2's stored draft in v2's own session: a render takes a draft, so no agent turn runs
and nothing is charged. `new` forgets the thread's backend session, so the next prompt is a
new generation; the versions before it stay listed, marked as another video.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from core.engine.context import Contexts, TurnContext
from core.intents import setting_change
from core.jsonio import json_text
from core.messages import Msg, supported
from core.models import Draft
from core.port import Action, ReplyKind
from core.store import Store
from core.store.base import Defaults, Version
from core.timeline import total_seconds

ASPECTS = ("16:9", "9:16", "1:1", "4:3", "4:5")
_ASPECT_WORDS = {"vertical": "9:16", "portrait": "9:16", "竖屏": "9:16", "horizontal": "16:9",
                 "landscape": "16:9", "横屏": "16:9", "square": "1:1", "方形": "1:1"}  # fmt: skip
MAX_STYLE = 40
QUOTED = 60  # characters of the message quoted in a version line
FIELD_NAMES = {
    "aspect": Msg.FIELD_ASPECT,
    "duration": Msg.FIELD_DURATION,
    "style": Msg.FIELD_STYLE,
    "language": Msg.FIELD_LANGUAGE,
}


def describe_defaults(d: Defaults) -> str:
    """ "9:16, 15 s, cinematic" (the parts that are set)."""
    parts = [d.aspect, f"{d.duration} s" if d.duration else None, d.style, d.language]
    return ", ".join(p for p in parts if p)


def prompt_with_defaults(text: str, d: Defaults) -> str:
    """The first prompt of a new video, with the user's defaults said in words the agent reads."""
    asks = []
    if d.aspect:
        asks.append(f"aspect ratio {d.aspect}")
    if d.duration:
        asks.append(f"{d.duration} seconds long")
    if d.style:
        asks.append(f"{d.style} style")
    return f"{text} ({', '.join(asks)})" if asks else text


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"


def version_line(version: Version, first_of_video: bool) -> str:
    """`v1: "a sunset over mountains" · 30 s, 3 tracks` or `v2: "add lo-fi" · BGM 'Lo-fi' at 35%`."""
    head = f'v{version.number}: "{_quote(version.message)}"'
    if first_of_video or not version.changes:
        draft = Draft.from_json(version.draft_json)
        seconds = round(total_seconds(draft))
        return f"{head} · {seconds} s, {len(draft.tracks)} tracks"
    return f"{head} · {version.changes}"


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class Workflow:
    def __init__(self, store: Store, contexts: Contexts) -> None:
        self.store = store
        self.contexts = contexts

    async def record(
        self, ctx: TurnContext, session_id: str, draft: Draft, message: str, changes: list[str]
    ) -> Version | None:
        """A version for a turn that changed the draft (no change, no version)."""
        if not changes or not draft.ready:
            return None
        return await self.store.add_version(
            ctx.key, session_id, json_text(draft.raw), message, "; ".join(changes)
        )

    async def versions(self, ctx: TurnContext) -> None:
        versions = await self.store.list_versions(ctx.key)
        if not versions:
            await ctx.post(ReplyKind.NOTICE, Msg.VERSIONS_NONE)
            return
        lines: list[str] = []
        session = None
        for version in versions:
            first = version.session_id != session
            if first and session is not None:
                lines.append(ctx.say(Msg.VERSIONS_NEW_VIDEO))
            session = version.session_id
            lines.append(version_line(version, first))
        text = ctx.say(Msg.VERSIONS_HEAD)
        await ctx.thread.post(
            ctx.reply(ReplyKind.TIMELINE, text, (Action.EXPORT,), details=tuple(lines))
        )

    async def videos(self, ctx: TurnContext) -> None:
        jobs = await self.store.posted_renders(ctx.key)
        if not jobs:
            await ctx.post(ReplyKind.NOTICE, Msg.VIDEOS_NONE)
            return
        lines = []
        for job in jobs:
            label = f"v{job.version}" if job.version else job.render_id
            lines.append(f"{label} · {_when(job.posted_at or job.created_at)} · {job.output_url}")
        await ctx.post(ReplyKind.NOTICE, Msg.VIDEOS_HEAD, details=tuple(lines))

    async def new(self, ctx: TurnContext) -> None:
        await self.store.forget_session(ctx.key)
        await ctx.post(ReplyKind.NOTICE, Msg.NEW_VIDEO)

    async def settings(self, ctx: TurnContext) -> None:
        mine = await self.store.get_defaults(ctx.key.platform, ctx.key.tenant, ctx.user)
        shown = describe_defaults(ctx.defaults)
        text = ctx.say(Msg.SETTINGS_SHOW, values=shown) if shown else ctx.say(Msg.SETTINGS_NONE)
        details = (ctx.say(Msg.SETTINGS_HINT),) if mine.empty or shown else ()
        await ctx.thread.post(ctx.reply(ReplyKind.NOTICE, text, details=details))

    async def set(self, ctx: TurnContext) -> None:
        change = setting_change(ctx.incoming.text)
        if change is None:
            await self.settings(ctx)
            return
        field, raw = change
        value, hint = parse_setting(field, raw)
        if value is None:
            await ctx.post(
                ReplyKind.ERROR,
                Msg.SETTING_BAD,
                value=raw[:80],
                field=ctx.say(FIELD_NAMES[field]),
                hint=ctx.say(hint),
            )
            return
        key = ctx.key
        mine = await self.store.get_defaults(key.platform, key.tenant, ctx.user)
        updated = with_setting(mine, field, value)
        await self.store.put_defaults(key.platform, key.tenant, ctx.user, updated)
        self.contexts.forget(key, ctx.user)
        name = ctx.say(FIELD_NAMES[field])
        await ctx.post(ReplyKind.NOTICE, Msg.SETTING_SAVED, field=name, value=value)

    async def undo(self, ctx: TurnContext) -> None:
        await ctx.post(ReplyKind.NOTICE, Msg.UNDO, (Action.STATUS,))

    async def quit(self, ctx: TurnContext) -> None:
        await ctx.post(ReplyKind.NOTICE, Msg.QUIT_CHAT)

    async def version_for(self, ctx: TurnContext, number: int) -> Version | None:
        version = await self.store.get_version(ctx.key, number)
        if version is None:
            await ctx.post(ReplyKind.NOTICE, Msg.VERSION_UNKNOWN, number=number)
        return version


def with_setting(d: Defaults, field: str, value: str | int) -> Defaults:
    if field == "duration":
        return dataclasses.replace(d, duration=int(value))
    if field == "aspect":
        return dataclasses.replace(d, aspect=str(value))
    if field == "style":
        return dataclasses.replace(d, style=str(value))
    return dataclasses.replace(d, language=str(value))


def parse_setting(field: str, raw: str) -> tuple[str | int | None, Msg]:
    """The stored value of `set FIELD RAW`, or None with the hint that explains what fits."""
    text = raw.strip().lower()
    if field == "aspect":
        text = _ASPECT_WORDS.get(text, text.replace("x", ":").replace("：", ":"))
        return (text if text in ASPECTS else None), Msg.HINT_ASPECT
    if field == "duration":
        match = re.fullmatch(r"(\d{1,3})\s*(s|sec|secs|seconds|秒)?", text)
        seconds = int(match.group(1)) if match else 0
        return (seconds if 3 <= seconds <= 600 else None), Msg.HINT_DURATION
    if field == "style":
        ok = 0 < len(text) <= MAX_STYLE and re.fullmatch(r"[\w\s\-]+", text) is not None
        return (text if ok else None), Msg.HINT_STYLE
    language = supported({"zh": "zh-CN", "中文": "zh-CN", "english": "en"}.get(text, text))
    return language, Msg.HINT_LANGUAGE


__all__ = ["FIELD_NAMES", "Workflow", "describe_defaults", "prompt_with_defaults"]
