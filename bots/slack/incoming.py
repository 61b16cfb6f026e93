"""Slack payloads in, `(ThreadKey, Incoming)` out: pure functions, no IO.

What must hold:
- one conversation is one Slack thread: the key's `thread` is the root's `ts` (a mention at the top
  level starts a thread on itself; a DM at the top level too);
- the tenant is the workspace (`team_id`), so one bot can serve many workspaces;
- nothing the bot itself posted, and no edit, deletion or join, ever becomes a turn;
- a channel message that mentions the bot arrives twice (`app_mention` and `message`): only the
  `app_mention` copy counts, so the same words never run two turns;
- a plain reply in a channel thread is a turn only if the bot owns that thread; this module cannot
  know that, so it says so (`Routed.needs_owner`) and the app asks the engine.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.port import Action, Answer, Attachment, Incoming, ThreadKey

PLATFORM = "slack"
ACTION_PREFIX = "jupiter_"
ANSWER_PREFIX = "jupiter_answer_"  # + the option's index: action ids are unique per block
OPEN_VIDEO_ACTION = "jupiter_open_video"

# Message subtypes that carry a person's words; everything else (message_changed, message_deleted,
# channel_join, bot_message, ...) is bookkeeping and never a turn.
_TURN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})

_USAGE_WORDS = frozenset({"", "help", "-h", "--help", "?", "usage"})

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")

Payload = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Routed:
    """A message for the engine; `needs_owner`: only a turn when the bot already owns the thread."""

    key: ThreadKey
    incoming: Incoming
    needs_owner: bool = False


def thread_key(team: str, channel: str, thread_ts: str) -> ThreadKey:
    return ThreadKey(PLATFORM, team, channel, thread_ts)


def parse_thread_key(value: str) -> ThreadKey | None:
    """Read back a key written into a button's value by `str(ThreadKey)`."""
    parts = value.split(":")
    if len(parts) != 4 or parts[0] != PLATFORM or not all(parts):
        return None
    return ThreadKey(*parts)


def plain_text(text: str, bot_user_id: str | None) -> str:
    """Slack's wire text as a person typed it: bot mention gone, links bare, entities decoded.

    Slack escapes `&`, `<`, `>` and wraps mentions and links in `<...>`; the backend should see
    `a < b & c`, `https://example.com` and `@here`, not the wire encoding.
    """

    def replace(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if bot_user_id and target == f"@{bot_user_id}":
            return ""
        if target.startswith("@"):  # another user: keep a readable reference
            return f"@{label}" if label else target
        if target.startswith("#"):
            return f"#{label}" if label else target
        if target.startswith("!"):  # <!here>, <!channel>, <!subteam^ID|@team>
            name = target[1:].split("^", 1)[0]
            return label if label else f"@{name}"
        return target  # a link: the URL itself, label dropped

    without = _LINK.sub(replace, text)
    return html.unescape(without).strip()


def mentions(text: str, bot_user_id: str | None) -> bool:
    return bool(bot_user_id) and (f"<@{bot_user_id}>" in text or f"<@{bot_user_id}|" in text)


def attachments(event: Payload) -> tuple[Attachment, ...]:
    """Files shared with the message, as the engine sees them (nothing downloaded yet)."""
    found: list[Attachment] = []
    for item in event.get("files") or ():
        if not isinstance(item, Mapping) or item.get("mode") in {"tombstone", "hidden_by_limit"}:
            continue
        source = item.get("url_private_download") or item.get("url_private")
        if not isinstance(source, str) or not source:
            continue
        size = item.get("size")
        found.append(
            Attachment(
                filename=str(item.get("name") or item.get("title") or item.get("id") or "file"),
                size=size if isinstance(size, int) else None,
                source=source,
                content_type=item.get("mimetype") or None,
            )
        )
    return tuple(found)


def org_wide(body: Payload) -> str | None:
    """The enterprise id when the app is installed org-wide (Enterprise Grid): the tenant."""
    flag = body.get("is_enterprise_install")
    enterprise = body.get("enterprise_id") or (body.get("enterprise") or {}).get("id")
    if flag in (True, "true") and enterprise:
        return str(enterprise)
    return None


def _team(body: Payload, event: Payload) -> str:
    return org_wide(body) or str(
        body.get("team_id") or event.get("team") or event.get("user_team") or ""
    )


def _is_from_a_bot(event: Payload, bot_user_id: str | None) -> bool:
    return bool(event.get("bot_id")) or (
        bot_user_id is not None and event.get("user") == bot_user_id
    )


def _incoming(body: Payload, event: Payload, bot_user_id: str | None) -> Incoming:
    return Incoming(
        text=plain_text(str(event.get("text") or ""), bot_user_id),
        attachments=attachments(event),
        user=str(event.get("user") or ""),
        locale=_locale(event),
        event_id=f"slack:{body['event_id']}" if body.get("event_id") else None,
    )


def _locale(payload: Payload) -> str | None:
    for holder in (payload, payload.get("user") if isinstance(payload, Mapping) else None):
        if isinstance(holder, Mapping) and isinstance(holder.get("locale"), str):
            return str(holder["locale"]) or None
    return None


def from_mention(body: Payload, bot_user_id: str | None) -> Routed | None:
    """`app_mention`: always a turn; the thread is the mention's thread, or starts on it."""
    event = body.get("event") or {}
    if event.get("type") != "app_mention" or _is_from_a_bot(event, bot_user_id):
        return None
    if event.get("subtype") not in _TURN_SUBTYPES:
        return None
    channel = str(event.get("channel") or "")
    if not channel or channel.startswith("D"):  # DMs arrive as `message` events; see from_message
        return None
    ts = str(event.get("thread_ts") or event.get("ts") or "")
    if not ts:
        return None
    return Routed(thread_key(_team(body, event), channel, ts), _incoming(body, event, bot_user_id))


def from_message(body: Payload, bot_user_id: str | None) -> Routed | None:
    """`message`: DMs (each DM thread a session) and plain replies in threads the bot owns."""
    event = body.get("event") or {}
    if event.get("type") != "message" or _is_from_a_bot(event, bot_user_id):
        return None
    if event.get("subtype") not in _TURN_SUBTYPES or event.get("hidden"):
        return None
    channel = str(event.get("channel") or "")
    ts = str(event.get("ts") or "")
    if not channel or not ts or not event.get("user"):
        return None
    thread_ts = event.get("thread_ts")
    direct = event.get("channel_type") == "im" or (
        event.get("channel_type") is None and channel.startswith("D")
    )
    if direct:
        key = thread_key(_team(body, event), channel, str(thread_ts or ts))
        return Routed(key, _incoming(body, event, bot_user_id))
    if not thread_ts or thread_ts == ts:
        return None  # top-level channel chatter: only a mention starts a conversation
    if mentions(str(event.get("text") or ""), bot_user_id):
        return None  # the app_mention copy of this message is the turn
    key = thread_key(_team(body, event), channel, str(thread_ts))
    return Routed(key, _incoming(body, event, bot_user_id), needs_owner=True)


@dataclass(frozen=True, slots=True)
class Command:
    """A `/video` invocation; its thread does not exist until the bot posts the root message."""

    team: str
    channel: str
    user: str
    prompt: str
    event_id: str | None
    locale: str | None = None

    @property
    def wants_usage(self) -> bool:
        return self.prompt.strip().lower() in _USAGE_WORDS

    def routed(self, root_ts: str) -> Routed:
        return Routed(
            thread_key(self.team, self.channel, root_ts),
            Incoming(
                text=self.prompt,
                user=self.user,
                locale=self.locale,
                event_id=self.event_id,
            ),
        )


def from_command(form: Payload) -> Command | None:
    """A slash command's form fields; `trigger_id` is unique per invocation, so it deduplicates."""
    channel = str(form.get("channel_id") or "")
    if not channel:
        return None
    trigger = form.get("trigger_id")
    return Command(
        team=org_wide(form) or str(form.get("team_id") or ""),
        channel=channel,
        user=str(form.get("user_id") or ""),
        prompt=plain_text(str(form.get("text") or ""), None),
        event_id=f"slack:command:{trigger}" if trigger else None,
        locale=_locale(form),
    )


def from_action(payload: Payload) -> Routed | None:
    """A click on Export/Status/Credits, mapped back to the thread the button was posted in."""
    actions = payload.get("actions") or ()
    if payload.get("type") != "block_actions" or not actions:
        return None
    clicked = actions[0]
    action_id = str(clicked.get("action_id") or "")
    if not action_id.startswith(ACTION_PREFIX):
        return None
    value = str(clicked.get("value") or "")
    answer: Answer | None = None
    action: Action | None = None
    if action_id.startswith(ANSWER_PREFIX):
        value, answer = _answer(value)
        if answer is None:
            return None
    else:
        try:
            action = Action(action_id.removeprefix(ACTION_PREFIX))
        except ValueError:
            return None
    user = payload.get("user") or {}
    team = org_wide(payload) or str(
        (payload.get("team") or {}).get("id") or user.get("team_id") or ""
    )
    if not team:
        return None  # whose thread it is cannot be told, and a button's value is not trusted
    channel = str(
        (payload.get("channel") or {}).get("id")
        or (payload.get("container") or {}).get("channel_id")
        or ""
    )
    key = parse_thread_key(value)
    if key is None or key.channel != channel or (team and key.tenant != team):
        message = payload.get("message") or {}
        container = payload.get("container") or {}
        root = message.get("thread_ts") or container.get("thread_ts") or message.get("ts")
        if not channel or not root:
            return None
        key = thread_key(team, channel, str(root))
    user_id = str(user.get("id") or "")
    stamp = clicked.get("action_ts") or payload.get("trigger_id")
    return Routed(
        key,
        Incoming(
            text=action.value if action is not None else "",
            user=user_id,
            locale=_locale(payload),
            event_id=f"slack:action:{stamp}:{user_id}" if stamp else None,
            action=action,
            answer=answer,
        ),
    )


def answer_value(key: ThreadKey, question_id: str, option: int) -> str:
    """A choice button's value: the thread, the question and the option's index."""
    return f"{key}|{question_id}|{option}"


def _answer(value: str) -> tuple[str, Answer | None]:
    """(the thread key part, the answer) of a choice button's value; None when malformed."""
    key, _, rest = value.partition("|")
    question, _, option = rest.partition("|")
    if not question or not option.isdigit() or len(option) > 4:
        return key, None
    return key, Answer(question, int(option))
