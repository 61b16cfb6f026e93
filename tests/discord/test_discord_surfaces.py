"""Forum channels, user installs, the conversation commands and the settings form, driven
through real discord.py against the fake Discord (the engine only records)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bots.discord.buttons import ChoiceButton
from bots.discord.followups import DM_PREFIX, FollowUpThread
from core.models import Choice
from core.port import Action, Answer, Reply, ReplyKind, ThreadKey
from core.store.base import Defaults
from tests.discord.conftest import WAIT, RecordingEngine
from tests.fakes.discord_gateway import EPHEMERAL, FakeDiscord, buttons_of, shown_text

pytestmark = pytest.mark.usefixtures("bot")

MANAGE_GUILD = 1 << 5


def guild_key(fake: FakeDiscord, thread_id: str | int) -> ThreadKey:
    return ThreadKey("discord", str(fake.guild_id), str(thread_id), str(thread_id))


async def open_thread(fake: FakeDiscord, engine: RecordingEngine) -> str:
    first = await fake.post_message("a sunset", mention_bot=True)
    await engine.wait_handled()
    return str(first["id"])


# -- forums ---------------------------------------------------------------------------------


async def test_slash_video_in_a_forum_opens_a_tagged_post_named_after_the_prompt(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    forum = await fake.add_forum()
    await fake.wait_for(lambda: fake.find("GET", "/users/@me"), WAIT)  # connected long since

    interaction = await fake.slash(
        "video", {"prompt": "a cat on the moon"}, channel_id=int(forum["id"])
    )

    (incoming,) = await engine.wait_handled()
    (call,) = fake.find("POST", f"/channels/{forum['id']}/threads")
    assert call.json["name"] == "a cat on the moon"
    assert "a cat on the moon" in call.json["message"]["content"]
    assert call.json["applied_tags"] == [fake.tag_id(forum, "working")]
    post_id = call.answer["id"]
    assert engine.keys() == [guild_key(fake, post_id)]
    assert incoming.text == "a cat on the moon"
    await fake.wait_for(lambda: fake.followups(interaction), WAIT)
    assert f"<#{post_id}>" in fake.followups(interaction)[0]["content"]


async def test_a_delivery_in_a_forum_post_swaps_working_for_ready(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    forum = await fake.add_forum(tags=("Working", "Ready", "cats"))
    await fake.slash("video", {"prompt": "a cat"}, channel_id=int(forum["id"]))
    await engine.wait_handled()
    post_id = fake.find("POST", f"/channels/{forum['id']}/threads")[0].answer["id"]
    thread = engine.resolvers["discord"](guild_key(fake, post_id))

    await thread.post(
        Reply(ReplyKind.VIDEO, "✅ ready", (Action.STATUS,), video_url="https://v/1.mp4")
    )

    (edit,) = fake.find("PATCH", f"/channels/{post_id}")
    assert edit.json["applied_tags"] == [fake.tag_id(forum, "Ready")]
    assert fake.channels[int(post_id)]["applied_tags"] == [fake.tag_id(forum, "Ready")]


async def test_a_forum_without_state_tags_gets_an_untagged_post(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    forum = await fake.add_forum(tags=("cats",))
    await fake.slash("video", {"prompt": "a cat"}, channel_id=int(forum["id"]))
    await engine.wait_handled()
    (call,) = fake.find("POST", f"/channels/{forum['id']}/threads")
    assert call.json.get("applied_tags", []) == []


async def test_a_users_forum_post_that_mentions_the_bot_is_a_conversation(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    forum = await fake.add_forum()
    await fake.user_post(forum, "just chatting")  # no mention: not the bot's business
    post = await fake.user_post(forum, "a fox in the snow", mention_bot=True)

    (incoming,) = await engine.wait_handled()
    assert engine.keys() == [guild_key(fake, post["id"])]
    assert incoming.text == "a fox in the snow"
    assert not fake.find("POST", "/channels/*/messages/*/threads")  # the post is the thread


# -- user installs --------------------------------------------------------------------------


async def test_a_user_install_where_the_bot_cannot_post_runs_on_followups(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    interaction = await fake.slash("video", {"prompt": "a sunset"}, user_install=True)

    (incoming,) = await engine.wait_handled()
    thread, _ = engine.handled[0]
    assert isinstance(thread, FollowUpThread)
    assert thread.key == ThreadKey(
        "discord", f"dm-{fake.user['id']}", str(fake.channel_id), f"u{fake.user['id']}"
    )
    assert not fake.find("POST", f"/channels/{fake.channel_id}/messages")  # never posts there
    note = await fake.wait_for(lambda: fake.followups(interaction), WAIT)
    assert "by DM" in note[0]["content"]

    said = await thread.post(Reply(ReplyKind.STATUS, "Connecting..."))
    await thread.update(said, Reply(ReplyKind.TEXT, "Here is the plan"))
    (followup,) = [m for m in fake.followups(interaction) if m["id"] == said]
    assert followup["content"] == "Here is the plan" and followup["flags"] & EPHEMERAL


async def test_a_followup_conversations_video_reaches_the_user_by_dm(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    await fake.slash("video", {"prompt": "a sunset"}, user_install=True)
    await engine.wait_handled()
    key = engine.keys()[0]
    # After a restart (or the token's end) the resolver rebuilds it: DM only.
    thread = engine.resolvers["discord"](key)
    video = Reply(
        ReplyKind.VIDEO,
        "✅ Your video is ready",
        (Action.STATUS, Action.CREDITS),
        video_url="https://v/1.mp4",
        marker="render_9",
    )

    message_id = await thread.post(video)
    data = b"\x00" * 2048

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await thread.upload("jupiter-render_9.mp4", len(data), chunks(), video)

    dm = fake.dm_channel()
    assert message_id == DM_PREFIX + fake.sent_messages(dm["id"])[0]["id"]
    (card,) = fake.sent_messages(dm["id"])
    assert "https://v/1.mp4" in shown_text(card)
    assert card["attachments"][0]["size"] == len(data)
    assert [b["custom_id"].split(":")[1] for b in buttons_of(card)] == ["credits"]
    assert await thread.find_delivery("render_9")


async def test_a_private_channel_context_is_a_followup_conversation(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    friends = fake.dm_channel(fake.other_user)  # a DM between two people: context 2
    await fake.slash("video", {"prompt": "a sunset"}, channel_id=int(friends["id"]), context=2)
    await engine.wait_handled()
    assert isinstance(engine.handled[0][0], FollowUpThread)


async def test_commands_in_a_followup_conversation_answer_there(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    await fake.slash("video", {"prompt": "a sunset"}, user_install=True)
    await engine.wait_handled()
    engine.owned.add(engine.keys()[0])

    interaction = await fake.slash("versions", user_install=True)

    incomings = await engine.wait_handled(2)
    assert incomings[1].text == "versions"
    assert engine.keys()[1] == engine.keys()[0]
    assert interaction.responses[0]["data"]["flags"] & EPHEMERAL


# -- conversation commands ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "options", "text", "action"),
    [
        ("versions", None, "versions", None),
        ("videos", None, "videos", None),
        ("new", None, "new", None),
        ("export", {"version": 2}, "export v2", None),
        ("export", None, "export", Action.EXPORT),
    ],
)
async def test_conversation_commands_send_the_engine_its_own_words(
    fake: FakeDiscord,
    engine: RecordingEngine,
    command: str,
    options: dict[str, str | int] | None,
    text: str,
    action: Action | None,
) -> None:
    thread_id = await open_thread(fake, engine)

    interaction = await fake.slash(command, options, channel_id=int(thread_id))

    incomings = await engine.wait_handled(2)
    assert incomings[1].text == text and incomings[1].action is action
    assert engine.keys()[1] == guild_key(fake, thread_id)
    assert interaction.responses[0]["type"] == 4


async def test_conversation_commands_outside_a_conversation_answer_privately(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    interaction = await fake.slash("videos")
    await fake.wait_for(lambda: interaction.responses, WAIT)
    (response,) = interaction.responses
    assert "`/videos`" in response["data"]["content"]
    assert response["data"]["flags"] & EPHEMERAL
    assert engine.handled == []


# -- the settings form ----------------------------------------------------------------------


async def test_settings_opens_a_prefilled_form_and_saves_the_users_defaults(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    tenant, user = str(fake.guild_id), fake.user["id"]
    engine.saved_defaults[("discord", tenant, user)] = Defaults(aspect="16:9")

    opened = await fake.slash("settings")
    await fake.wait_for(lambda: opened.responses, WAIT)
    (modal,) = opened.responses
    assert modal["type"] == 9
    boxes = [row["components"][0] for row in modal["data"]["components"]]
    assert [b["label"] for b in boxes] == [
        "Aspect ratio",
        "Duration (seconds)",
        "Style",
        "Language",
    ]
    assert boxes[0]["value"] == "16:9"

    submitted = await fake.submit(
        opened, {"Aspect ratio": "9:16", "Duration (seconds)": "15", "Style": "Cinematic"}
    )
    await fake.wait_for(lambda: submitted.responses, WAIT)
    assert engine.saved_defaults[("discord", tenant, user)] == Defaults(
        aspect="9:16", duration=15, style="cinematic"
    )
    assert "9:16, 15 s, cinematic" in submitted.responses[0]["data"]["content"]


async def test_a_wrong_value_saves_nothing_and_says_what_fits(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    opened = await fake.slash("settings")
    await fake.wait_for(lambda: opened.responses, WAIT)
    submitted = await fake.submit(opened, {"Aspect ratio": "sideways", "Duration (seconds)": "15"})
    await fake.wait_for(lambda: submitted.responses, WAIT)
    assert engine.saved_defaults == {}
    assert "16:9" in submitted.responses[0]["data"]["content"]


async def test_a_wrong_value_is_explained_in_the_users_language(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    opened = await fake.slash("settings", locale="zh-CN")
    await fake.wait_for(lambda: opened.responses, WAIT)
    submitted = await fake.submit(opened, {"画面比例": "sideways"})
    await fake.wait_for(lambda: submitted.responses, WAIT)
    content = submitted.responses[0]["data"]["content"]
    assert engine.saved_defaults == {}
    assert "比例" in content and "aspect" not in content  # the field named in Chinese too


async def test_server_defaults_need_manage_server(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    refused = await fake.slash("settings", {"scope": "server"})
    await fake.wait_for(lambda: refused.responses, WAIT)
    assert "Manage Server" in refused.responses[0]["data"]["content"]

    everything = str(2248473465835073 | MANAGE_GUILD)
    opened = await fake.slash("settings", {"scope": "server"}, permissions=everything)
    await fake.wait_for(lambda: opened.responses, WAIT)
    assert opened.responses[0]["data"]["title"] == "This server's defaults for new videos"
    submitted = await fake.submit(opened, {"Aspect ratio": "1:1"})
    await fake.wait_for(lambda: submitted.responses, WAIT)
    assert engine.saved_defaults[("discord", str(fake.guild_id), "")] == Defaults(aspect="1:1")


async def test_a_user_who_takes_no_dms_gets_the_link_in_the_followup(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    interaction = await fake.slash("video", {"prompt": "a sunset"}, user_install=True)
    await engine.wait_handled()
    thread, _ = engine.handled[0]
    fake.closed_dms.add(fake.user["id"])

    await thread.post(Reply(ReplyKind.VIDEO, "✅ Your video is ready", video_url="https://v/2.mp4"))

    (refused,) = fake.find("POST", f"/channels/{fake.dm_channel()['id']}/messages")
    assert refused.status == 403 and refused.answer["code"] == 50007
    last = fake.followups(interaction)[-1]
    assert "https://v/2.mp4" in last["content"] and "DM" in last["content"]


async def test_a_users_forum_post_wears_working_while_the_bot_works(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    forum = await fake.add_forum()
    post = await fake.user_post(forum, "a fox in the snow", mention_bot=True)
    await engine.wait_handled()
    await fake.wait_for(lambda: fake.find("PATCH", f"/channels/{post['id']}"), WAIT)
    assert fake.channels[int(post["id"])]["applied_tags"] == [fake.tag_id(forum, "working")]


# -- questions as buttons ---------------------------------------------------------------------


async def test_a_questions_options_are_buttons_and_a_click_is_the_answer(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread_id = await open_thread(fake, engine)
    thread = engine.resolvers["discord"](guild_key(fake, thread_id))
    labels = [f"Style {n}" for n in range(1, 23)] + ["x" * 120]
    question = Reply(
        ReplyKind.TEXT,
        "Which style?",
        (Action.STATUS,),
        details=tuple(f"{n}. {label}" for n, label in enumerate(labels, 1)),
        choices=tuple(Choice(label) for label in labels),
        question_id="q_7",
    )

    message_id = await thread.post(question)

    (message,) = [m for m in fake.sent_messages(thread_id) if m["id"] == message_id]
    rows = message["components"]
    assert len(rows) == 5 and all(len(r["components"]) <= 5 for r in rows)
    answers = [b for b in buttons_of(message) if ":answer:" in b["custom_id"]]
    assert len(answers) == 20  # the action row leaves four rows of five
    assert answers[0]["label"] == "Style 1"
    assert answers[0]["custom_id"] == f"jupiter:answer:{thread_id}:q_7:0"
    assert "21. Style 21" in message["content"] and "23. " + "x" * 20 in message["content"]
    assert "1. Style 1" not in message["content"]

    click = await fake.click(message, answers[2]["custom_id"])

    incomings = await engine.wait_handled(2)
    assert incomings[1].answer == Answer("q_7", 2)
    assert engine.keys()[1] == guild_key(fake, thread_id)
    assert click.responses == [{"type": 6}]


def test_a_long_option_label_is_cut_to_discords_80_characters() -> None:
    button = ChoiceButton(1, "q_1", 0, "y" * 200)
    assert len(button.item.label or "") == 80
