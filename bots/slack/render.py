"""A `Reply` as Slack messages: Block Kit blocks plus the fallback text notifications show.

What must hold:
- every piece of text from users or the backend is escaped (`&`, `<`, `>`), so `<!channel>`,
  `<!here>` or `<@U123>` arrive as characters and never ping anyone;
- a section's text stays within Slack's 3,000 characters and a message within 50 blocks: long
  text is cut on paragraph, then line, then word boundaries, and always before escaping, so a cut
  never lands inside an `&amp;`;
- one reply is at most `MAX_MESSAGES` messages: its text and its detail lines are each cut to
  `TEXT_LIMIT` characters before they are split, and messages past the last are dropped with a
  "(cut)" note, so a flood from the backend costs a bounded, linear amount of work;
- buttons carry the thread key as their value, so a click is routed to its conversation even if
  the message it sits on is not the thread's root.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bots.base.split import split_text as base_split
from bots.base.words import LABELS
from core.messages import say
from core.port import Action, Reply, ReplyKind, ThreadKey
from core.redact import CUT_NOTE, cut

from .incoming import ACTION_PREFIX, ANSWER_PREFIX, OPEN_VIDEO_ACTION, answer_value
from .words import SlackWords

SECTION_LIMIT = 3000
BLOCK_LIMIT = 50
FALLBACK_LIMIT = 3000
BUTTON_URL_LIMIT = 3000
MAX_MESSAGES = 4  # messages one reply may become
TEXT_LIMIT = 200_000  # characters of a reply's text (and of its details) that are shown
MAX_CHOICE_BUTTONS = 25  # a question's options as buttons; more stay listed as text
CHOICE_LABEL_LIMIT = 75  # Slack's button text limit

_PROGRESS_CELLS = 20

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SlackMessage:
    text: str
    blocks: list[Block] = field(default_factory=list)


def escape(text: str) -> str:
    """Make text inert in mrkdwn: the only three characters Slack asks apps to escape."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ESCAPED = {"&": 5, "<": 4, ">": 4}  # a character's length once escaped, where it is not 1


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Cut raw text into pieces whose *escaped* form fits `limit`, on the softest boundary."""
    return base_split(text, limit, weights=_ESCAPED)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _sections(raw: str) -> list[Block]:
    return [_section(escape(piece)) for piece in split_text(raw)]


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _label(action: Action, language: str) -> str:
    word = LABELS.get(action)
    return say(word, language) if word is not None else action.value.title()


def _buttons(actions: tuple[Action, ...], key: ThreadKey, language: str = "en") -> Block:
    return {
        "type": "actions",
        "block_id": "jupiter_actions",
        "elements": [
            {
                "type": "button",
                "action_id": f"{ACTION_PREFIX}{action.value}",
                "text": {"type": "plain_text", "text": _label(action, language)},
                "value": str(key),
                **({"style": "primary"} if action is Action.EXPORT else {}),
            }
            for action in actions
        ],
    }


def _choices(reply: Reply, key: ThreadKey) -> list[Block]:
    """One button per option (Slack: 25 elements per actions block, 75 characters of button
    text); options past the buttons stay listed as text."""
    if not reply.choices or reply.question_id is None:
        return []
    shown = reply.choices[:MAX_CHOICE_BUTTONS]
    return [
        {
            "type": "actions",
            "block_id": f"jupiter_choices_{start}",
            "elements": [
                {
                    "type": "button",
                    "action_id": f"{ANSWER_PREFIX}{n}",
                    "text": {"type": "plain_text", "text": cut_label(choice.label)},
                    "value": answer_value(key, reply.question_id, n),
                }
                for n, choice in enumerate(shown[start : start + 25], start=start)
            ],
        }
        for start in range(0, len(shown), 25)
    ]


def cut_label(label: str, limit: int = CHOICE_LABEL_LIMIT) -> str:
    label = " ".join(label.split()) or "…"
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _progress_bar(progress: float) -> str:
    share = min(max(progress, 0.0), 100.0)
    filled = round(share / 100 * _PROGRESS_CELLS)
    return f"`{'█' * filled}{'░' * (_PROGRESS_CELLS - filled)}` {share:.0f}%"


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or any(c in url for c in " <>|"):
        return None
    return url


def _video_blocks(url: str, language: str = "en") -> list[Block]:
    link = f"<{escape(url)}|{say(SlackWords.OPEN_VIDEO, language)}>"
    blocks: list[Block] = [_section(f"🎬 {link}")]
    if len(url) <= BUTTON_URL_LIMIT:
        blocks.append(
            {
                "type": "actions",
                "block_id": "jupiter_video",
                "elements": [
                    {
                        "type": "button",
                        "action_id": OPEN_VIDEO_ACTION,
                        "text": {
                            "type": "plain_text",
                            "text": say(SlackWords.DOWNLOAD_MP4, language),
                        },
                        "url": url,
                    }
                ],
            }
        )
    return blocks


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _body(reply: Reply) -> tuple[str, list[Block]]:
    """The reply's own words (raw) and the blocks that come after them."""
    text, language = reply.text, reply.language
    extra: list[Block] = []
    if reply.kind is ReplyKind.ERROR and not text.lstrip().startswith("⚠"):
        text = f"⚠️ {text or say(SlackWords.SOMETHING_WRONG, language)}"
    if reply.kind is ReplyKind.STATUS and reply.progress is not None:
        extra.append(_context(_progress_bar(reply.progress)))
    details = reply.details
    if reply.choices and reply.question_id is not None:
        hidden = min(len(reply.choices), MAX_CHOICE_BUTTONS)  # those lines become buttons
        details = (
            reply.details[: len(reply.details) - len(reply.choices)]
            + reply.details[len(reply.details) - len(reply.choices) + hidden :]
        )
    if details:
        extra.extend(_sections(cut("\n".join(f"• {line}" for line in details), TEXT_LIMIT)))
    if reply.balance is not None:
        balance = reply.balance
        fields = (
            (SlackWords.AVAILABLE, balance.available),
            (SlackWords.FROZEN, balance.frozen),
            (SlackWords.TOTAL, balance.grand_total),
        )
        extra.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{say(word, language)}*\n{_number(value)}"}
                    for word, value in fields
                ],
            }
        )
    url = _safe_url(reply.video_url)
    if url is not None:
        extra.extend(_video_blocks(url, language))
    elif reply.video_url:  # not a link we can render: show it as inert text
        extra.extend(_sections(reply.video_url))
    return text, extra


def _fallback(raw: str, reply: Reply) -> str:
    words = raw or " ".join(reply.details) or reply.video_url or reply.kind.value
    if len(words) > FALLBACK_LIMIT:
        words = split_text(words, FALLBACK_LIMIT - 1)[0] + "…"
    return escape(words)


def render(reply: Reply, key: ThreadKey) -> list[SlackMessage]:
    """One message in nearly every case; very long text becomes several, buttons on the last."""
    raw, extra = _body(reply)
    raw = cut(raw, TEXT_LIMIT)
    blocks = _sections(raw) + extra
    if not blocks:
        blocks = [_section(escape(reply.kind.value))]
    tail = _choices(reply, key) + (
        [_buttons(reply.buttons, key, reply.language)] if reply.buttons else []
    )
    room = BLOCK_LIMIT - len(tail)
    chunks = [blocks[i : i + room] for i in range(0, len(blocks), room)]
    if len(chunks) > MAX_MESSAGES:
        chunks = chunks[:MAX_MESSAGES]
        chunks[-1] = [*chunks[-1][:-1], _context(escape(CUT_NOTE.strip()))]
    chunks[-1] = chunks[-1] + tail
    fallback = _fallback(raw, reply)
    messages = [SlackMessage(text=fallback, blocks=chunks[0])]
    for chunk in chunks[1:]:
        first = chunk[0].get("text", {}).get("text", "") if chunk[0]["type"] == "section" else ""
        messages.append(SlackMessage(text=first[:FALLBACK_LIMIT] or fallback, blocks=chunk))
    return messages


def root_message(prompt: str, user: str, language: str = "en") -> SlackMessage:
    """The channel message a `/video` command opens its thread under, quoting the prompt."""
    shown = (split_text(prompt, 2500) or [""])[0]
    quoted = "\n".join(f">{escape(line)}" for line in shown.splitlines())
    who = f"<@{user}>" if user.isalnum() else say(SlackWords.SOMEONE, language)
    text = say(SlackWords.ASKED, language, who=who, quoted=quoted)
    return SlackMessage(
        text=say(SlackWords.REQUEST, language, prompt=escape(prompt[:200])),
        blocks=[
            _section(text),
            _context(say(SlackWords.IN_THIS_THREAD, language)),
        ],
    )
