"""No rendered Slack text carries a live `<!...>`, `<@...>` or `<#...>` that came from a user or
the backend: whatever a reply holds, the only angle brackets left are the bot's own video link."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bots.slack.render import escape, render, root_message
from core.models import Balance
from core.port import Action, Reply, ReplyKind, ThreadKey
from tests.faults.fuzz import SPECIAL_TEXTS

KEY = ThreadKey("slack", "T0TEAM", "C0VIDEO", "1700000000.000100")
ANGLED = re.compile(r"<[^<>]*>?")
HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0ALICE>",
    "<#C0VIDEO>",
    "<!subteam^S0TEAM>",
    "<https://evil.example|click>",
    "<mailto:a@b.c|mail>",
    "&lt;!channel&gt;",
    "<",
    ">",
    "&",
]

texts = st.one_of(
    st.text(max_size=300),
    st.sampled_from(SPECIAL_TEXTS + HOSTILE),
    st.lists(st.sampled_from(HOSTILE) | st.text(max_size=30), max_size=6).map("".join),
)
urls = st.one_of(
    st.none(),
    texts,
    st.builds(lambda tail: f"https://cdn.example/{tail}", st.text(max_size=40)),
    st.sampled_from(
        [
            "https://cdn.example/v.mp4?a=1&b=2",
            "https://cdn.example/v.mp4|<!channel>",
            "javascript:alert(1)",
            "https://cdn.example/<!here>.mp4",
            "https://" + "x" * 4000 + ".example/v.mp4",
        ]
    ),
)
replies = st.builds(
    Reply,
    kind=st.sampled_from(list(ReplyKind)),
    text=texts,
    buttons=st.lists(st.sampled_from(list(Action)), max_size=3, unique=True).map(tuple),
    video_url=urls,
    balance=st.none() | st.builds(Balance, available=st.floats(-1e12, 1e12)),
    progress=st.none() | st.floats(-50, 500),
    details=st.lists(texts, max_size=4).map(tuple),
)


def _mrkdwn(blocks: list[dict[str, object]]) -> list[str]:
    found: list[str] = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and text.get("type") == "mrkdwn":
            found.append(str(text["text"]))
        for key in ("fields", "elements"):
            items = block.get(key)
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and item.get("type") == "mrkdwn":
                    found.append(str(item["text"]))
    return found


@settings(max_examples=300, deadline=None)
@given(reply=replies)
def test_no_live_mention_in_any_rendered_reply(reply: Reply) -> None:
    own_link = f"<{escape(reply.video_url)}|Open the video>" if reply.video_url else None
    for message in render(reply, KEY):
        for text in [message.text, *_mrkdwn(message.blocks)]:
            for angled in ANGLED.findall(text):
                assert angled == own_link, (angled, reply)
        assert len(message.blocks) <= 50


@settings(max_examples=150, deadline=None)
@given(prompt=texts, user=st.sampled_from(["U0ALICE", "W123", "", "<!channel>", "U1 <!here>"]))
def test_no_live_mention_in_a_thread_root(prompt: str, user: str) -> None:
    message = root_message(prompt, user)
    allowed = {f"<@{user}>"} if user.isalnum() else set()
    for text in [message.text, *_mrkdwn(message.blocks)]:
        for angled in ANGLED.findall(text):
            assert angled in allowed, (angled, prompt, user)
