"""Replies as Block Kit: inert text, Slack's size limits, buttons that find their thread."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bots.slack.render import (
    BLOCK_LIMIT,
    SECTION_LIMIT,
    escape,
    render,
    root_message,
    split_text,
)
from core.models import Balance
from core.port import Action, Reply, ReplyKind, ThreadKey

KEY = ThreadKey("slack", "T0TEAM", "C0VIDEO", "1700000000.000100")


def _texts(blocks: list[dict]) -> list[str]:
    return [b["text"]["text"] for b in blocks if isinstance(b.get("text"), dict)]


def test_pings_and_markup_from_the_backend_arrive_as_characters() -> None:
    reply = Reply(ReplyKind.TEXT, "Done <!channel> <!here> <@U123> & <https://evil|click>")
    (message,) = render(reply, KEY)
    rendered = json.dumps([message.text, message.blocks])
    for raw in ("<!channel>", "<!here>", "<@U123>", "<https://evil"):
        assert raw not in rendered
    assert "&lt;!channel&gt;" in message.blocks[0]["text"]["text"]
    assert "&amp;" in message.text


def test_buttons_carry_the_thread_key() -> None:
    reply = Reply(ReplyKind.TEXT, "ok", (Action.EXPORT, Action.STATUS, Action.CREDITS))
    (message,) = render(reply, KEY)
    actions = message.blocks[-1]
    assert actions["type"] == "actions"
    assert [e["action_id"] for e in actions["elements"]] == [
        "jupiter_export",
        "jupiter_status",
        "jupiter_credits",
    ]
    assert [e["text"]["text"] for e in actions["elements"]] == ["Export", "Status", "Credits"]
    assert {e["value"] for e in actions["elements"]} == {str(KEY)}


def test_errors_are_flagged() -> None:
    (message,) = render(Reply(ReplyKind.ERROR, "the backend is down"), KEY)
    assert message.text.startswith("⚠️")
    assert _texts(message.blocks)[0].startswith("⚠️")


def test_a_video_gets_its_link() -> None:
    url = "https://cdn.example.com/v.mp4?sig=a&b=c"
    (message,) = render(Reply(ReplyKind.VIDEO, "ready", video_url=url), KEY)
    dumped = json.dumps(message.blocks)
    assert "https://cdn.example.com/v.mp4?sig=a&amp;b=c|Open the video" in dumped
    buttons = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["url"] == url and buttons[0]["action_id"] == "jupiter_open_video"


def test_a_link_that_is_not_http_is_not_made_clickable() -> None:
    (message,) = render(Reply(ReplyKind.VIDEO, "ready", video_url="javascript:alert(1)"), KEY)
    assert all("url" not in e for b in message.blocks for e in b.get("elements", []))


def test_progress_and_balance() -> None:
    (status,) = render(Reply(ReplyKind.STATUS, "Rendering", progress=45), KEY)
    assert "45%" in json.dumps(status.blocks, ensure_ascii=False)
    (credits,) = render(
        Reply(ReplyKind.CREDITS, "Credits", balance=Balance(available=10, frozen=2.5)), KEY
    )
    fields = credits.blocks[-1]["fields"]
    assert [f["text"] for f in fields] == ["*Available*\n10", "*Frozen*\n2.50", "*Total*\n12.50"]


def test_long_text_is_split_within_slack_limits() -> None:
    paragraph = ("word & <tag> " * 60).strip()
    text = "\n\n".join(f"{i}: {paragraph}" for i in range(200))
    messages = render(Reply(ReplyKind.TEXT, text, (Action.EXPORT,)), KEY)
    assert len(messages) > 1
    for message in messages:
        assert len(message.blocks) <= BLOCK_LIMIT
        for block_text in _texts(message.blocks):
            assert len(block_text) <= SECTION_LIMIT
    assert messages[-1].blocks[-1]["type"] == "actions"
    assert all(b["type"] != "actions" for m in messages[:-1] for b in m.blocks)
    joined = "".join(t for m in messages for t in _texts(m.blocks))
    assert joined.count("word") == text.count("word")


@given(st.text(alphabet="ab &<>\n", max_size=9000), st.integers(min_value=10, max_value=400))
def test_splitting_never_cuts_an_entity_and_loses_nothing(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    for piece in pieces:
        assert len(escape(piece)) <= limit
    assert "".join(pieces).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )


def test_the_command_root_quotes_the_prompt_inertly() -> None:
    message = root_message("line one <!channel>\nline two", "U0ALICE")
    section = message.blocks[0]["text"]["text"]
    assert "<@U0ALICE>" in section
    assert ">line one &lt;!channel&gt;\n>line two" in section
    assert "<!channel>" not in message.text


def test_a_chinese_reply_has_chinese_buttons_balance_and_link_words() -> None:
    reply = Reply(
        ReplyKind.VIDEO,
        "视频好了",
        (Action.EXPORT, Action.STATUS, Action.CREDITS),
        video_url="https://cdn.example/v.mp4",
        balance=Balance(available=5, frozen=0, grand_total=5),
        language="zh-CN",
    )
    (message,) = render(reply, KEY)
    labels = [
        e["text"]["text"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == ["下载 MP4", "导出", "状态", "积分"]
    dumped = json.dumps(message.blocks, ensure_ascii=False)
    assert "|打开视频>" in dumped and "*可用*" in dumped
    english = render(Reply(ReplyKind.TEXT, "done", (Action.EXPORT,)), KEY)[0]
    assert english.blocks[-1]["elements"][0]["text"]["text"] == "Export"


def test_the_root_message_speaks_the_requesters_language() -> None:
    message = root_message("山间日落", "U123", "zh-CN")
    assert message.text.startswith("🎬 视频请求：")
    assert "请 Jupiter 制作一个视频" in _texts(message.blocks)[0]
