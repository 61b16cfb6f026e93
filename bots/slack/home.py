"""The App Home: the Home tab (credits, the user's recent videos, how to start, Settings for
admins), the Settings modal, and suggested prompts on the Messages tab and new agent threads.

What must hold:
- only a workspace admin or owner (`users.info` `is_admin` / `is_owner`) sees Settings, and a
  submission is checked again on arrival (a modal's payload is not proof of anything): anyone
  else's is refused;
- the workspace's NemoVideo token is stored encrypted as the tenant's own token and never shown
  back (the input is always empty); an empty field keeps the stored one;
- each video is a section of its own, with its poster beside it (an image accessory showing a
  Slack-hosted file, `posters.py`) where one was uploaded; at most `HOME_VIDEOS` videos, so the
  view stays far below Slack's 100 blocks;
- everything here is best effort: a Home that cannot be drawn never breaks a turn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from core.messages import say
from core.models import Balance
from core.port import ThreadKey
from core.store import RenderJob
from core.store.base import Defaults
from core.store.preferences import WORKSPACE

from .incoming import PLATFORM
from .render import escape
from .words import SlackWords

log = logging.getLogger("jupiter.slack")

SETTINGS_ACTION = "jupiter_settings"
SETTINGS_VIEW = "jupiter_settings_view"
EXAMPLES = (
    "a 10-second sunset over mountains",
    "a 30-second cinematic city timelapse, 1080p",
    "a 15-second vertical video of ocean waves with lo-fi music",
)
ASPECTS = ("16:9", "9:16", "1:1")
HOME_VIDEOS = 10  # videos listed: 5 blocks around them, far below a view's 100
# render id -> Slack file id of the poster, for the videos listed (uploading what is missing)
PosterIds = Callable[[Sequence[RenderJob]], Awaitable[dict[str, str]]]


class HomeEngine(Protocol):
    """What the Home needs from the engine and its store (platform-free)."""

    async def balance(self, key: ThreadKey) -> Balance: ...

    async def task_link(self, key: ThreadKey) -> str | None: ...

    async def set_tenant_token(self, platform: str, tenant: str, token: str | None) -> None: ...


class HomeStore(Protocol):
    async def user_videos(
        self, platform: str, tenant: str, user: str, limit: int = 10
    ) -> list[RenderJob]: ...

    async def get_defaults(self, platform: str, tenant: str, user: str) -> Defaults: ...

    async def put_defaults(
        self, platform: str, tenant: str, user: str, value: Defaults
    ) -> None: ...


def suggested_prompts(language: str = "en") -> list[dict[str, str]]:
    return [{"title": text[:75], "message": text} for text in EXAMPLES]


async def is_admin(client: AsyncWebClient, user: str) -> bool:
    try:
        answer = await client.users_info(user=user)
    except Exception as exc:  # not proven an admin: no Settings
        log.info("users.info failed for the Home: %s", exc.__class__.__name__)
        return False
    info = answer.get("user") or {}
    return bool(info.get("is_admin") or info.get("is_owner"))


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _version(job: RenderJob) -> str:
    return f"v{job.version}" if job.version else job.render_id


def _video_line(job: RenderJob, language: str, task: str | None = None) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(job.posted_at or job.created_at))
    link = (
        f"<{escape(job.output_url)}|{say(SlackWords.OPEN_VIDEO, language)}>"
        if job.output_url
        else ""
    )
    project = f" · <{escape(task)}|{say(SlackWords.OPEN_PROJECT, language)}>" if task else ""
    return f"*{escape(_version(job))}* · {when} · {link}{project}"


def _video_section(
    job: RenderJob, language: str, task: str | None, poster: str | None
) -> dict[str, Any]:
    """One video; its poster beside it when Slack hosts a copy (`poster`: the file id)."""
    block = _section(_video_line(job, language, task))
    if poster:
        block["accessory"] = {
            "type": "image",
            "slack_file": {"id": poster},
            "alt_text": say(SlackWords.POSTER_OF, language, version=_version(job)),
        }
    return block


async def _poster_ids(posters: PosterIds | None, videos: Sequence[RenderJob]) -> dict[str, str]:
    if posters is None or not videos:
        return {}
    try:
        return await posters(videos)
    except Exception as exc:  # posters are a nicety on the Home: the videos stand without them
        log.info("no posters for the Home: %s", exc.__class__.__name__)
        return {}


async def _task_link(engine: HomeEngine, key: ThreadKey) -> str | None:
    try:
        return await engine.task_link(key)
    except Exception:  # a link is a nicety on the Home: the video line stands without it
        return None


async def home_view(
    engine: HomeEngine,
    store: HomeStore,
    key: ThreadKey,
    user: str,
    admin: bool,
    language: str,
    posters: PosterIds | None = None,
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [_section(f"*{say(SlackWords.HOME_TITLE, language)}*")]
    try:
        balance = await engine.balance(key)
        numbers = (balance.available, balance.frozen, balance.grand_total)
        words = (SlackWords.AVAILABLE, SlackWords.FROZEN, SlackWords.TOTAL)
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{say(w, language)}*\n{n:,.0f}"}
                    for w, n in zip(words, numbers, strict=True)
                ],
            }
        )
    except Exception as exc:
        log.info("no balance for the Home: %s", exc.__class__.__name__)
    blocks.extend(await _videos(engine, store, key, user, language, posters))
    blocks.append(_section(say(SlackWords.HOW_TO_START, language)))
    if admin:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": SETTINGS_ACTION,
                        "text": {"type": "plain_text", "text": say(SlackWords.SETTINGS, language)},
                    }
                ],
            }
        )
    return {"type": "home", "blocks": blocks}


async def _videos(
    engine: HomeEngine,
    store: HomeStore,
    key: ThreadKey,
    user: str,
    language: str,
    posters: PosterIds | None,
) -> list[dict[str, Any]]:
    """The heading and a section per recent video, each with its task link and poster."""
    heading = f"*{say(SlackWords.RECENT_VIDEOS, language)}*"
    videos = await store.user_videos(PLATFORM, key.tenant, user, HOME_VIDEOS)
    if not videos:
        return [_section(f"{heading}\n{say(SlackWords.NO_VIDEOS, language)}")]
    links = {job.key: await _task_link(engine, job.key) for job in videos}
    ids = await _poster_ids(posters, videos)
    return [_section(heading)] + [
        _video_section(job, language, links[job.key], ids.get(job.render_id)) for job in videos
    ]


def _input(block_id: str, label: str, element: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": _plain(label),
        "element": {"action_id": block_id, **element},
    }


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:75]}


def settings_view(defaults: Defaults, language: str) -> dict[str, Any]:
    """The modal; the token field is always empty (a stored token is never shown back)."""
    aspect: dict[str, Any] = {
        "type": "static_select",
        "options": [{"text": _plain(a), "value": a} for a in ASPECTS],
    }
    if defaults.aspect in ASPECTS:
        aspect["initial_option"] = {"text": _plain(defaults.aspect or ""), "value": defaults.aspect}
    duration: dict[str, Any] = {
        "type": "number_input",
        "is_decimal_allowed": False,
        "min_value": "1",
        "max_value": "600",
    }
    if defaults.duration:
        duration["initial_value"] = str(defaults.duration)
    style: dict[str, Any] = {"type": "plain_text_input", "max_length": 40}
    if defaults.style:
        style["initial_value"] = defaults.style
    return {
        "type": "modal",
        "callback_id": SETTINGS_VIEW,
        "title": _plain(say(SlackWords.SETTINGS, language)),
        "submit": _plain(say(SlackWords.SAVE, language)),
        "blocks": [
            _input(
                "token",
                say(SlackWords.API_TOKEN, language),
                {"type": "plain_text_input", "max_length": 500},
            ),
            _input("aspect", say(SlackWords.ASPECT, language), aspect),
            _input("duration", say(SlackWords.DURATION, language), duration),
            _input("style", say(SlackWords.STYLE, language), style),
        ],
    }


def read_settings(view: dict[str, Any]) -> tuple[str | None, Defaults]:
    """The submitted token (None: keep the stored one) and defaults, from `view.state`."""
    values = (view.get("state") or {}).get("values") or {}

    def field(name: str) -> Any:
        return (values.get(name) or {}).get(name) or {}

    token = str(field("token").get("value") or "").strip() or None
    aspect = (field("aspect").get("selected_option") or {}).get("value")
    raw_duration = str(field("duration").get("value") or "").strip()
    style = str(field("style").get("value") or "").strip() or None
    duration = int(raw_duration) if raw_duration.isdigit() else None
    return token, Defaults(aspect if aspect in ASPECTS else None, duration, style, None)


async def save_settings(
    engine: HomeEngine, store: HomeStore, tenant: str, view: dict[str, Any]
) -> None:
    token, chosen = read_settings(view)
    if token is not None:
        await engine.set_tenant_token(PLATFORM, tenant, token)
    old = await store.get_defaults(PLATFORM, tenant, WORKSPACE)
    await store.put_defaults(
        PLATFORM,
        tenant,
        WORKSPACE,
        Defaults(chosen.aspect, chosen.duration, chosen.style, old.language),
    )
