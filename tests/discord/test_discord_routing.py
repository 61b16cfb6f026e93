"""Which Discord events reach the engine, as what: through discord.py's own gateway dispatch.

The fake sends MESSAGE_CREATE / INTERACTION_CREATE over the websocket; the real client parses
them and calls the adapter; `RecordingEngine` shows what the engine would have been asked.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.models import Balance
from core.port import Action, Reply, ReplyKind, ThreadKey
from tests.discord.conftest import WAIT, RecordingEngine
from tests.fakes.discord_gateway import EPHEMERAL, FakeDiscord

pytestmark = pytest.mark.usefixtures("bot")


def thread_calls(fake: FakeDiscord) -> list[Any]:
    return fake.find("POST", "/channels/*/messages/*/threads")


def guild_key(fake: FakeDiscord, thread_id: int | str) -> ThreadKey:
    return ThreadKey("discord", str(fake.guild_id), str(thread_id), str(thread_id))


async def test_a_mention_opens_a_thread_named_after_the_prompt(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    message = await fake.post_message(
        "a 30-second **sunset** over <#1> mountains", mention_bot=True
    )

    (incoming,) = await engine.wait_handled()

    (call,) = thread_calls(fake)
    assert call.path == f"/channels/{fake.channel_id}/messages/{message['id']}/threads"
    assert call.json["name"] == "a 30-second sunset over #channel mountains"
    assert engine.keys() == [guild_key(fake, message["id"])]
    assert incoming.text == "a 30-second **sunset** over #channel mountains"
    assert incoming.event_id == message["id"]
    assert incoming.user == fake.user["id"]
    assert incoming.attachments == ()


async def test_a_long_prompt_names_the_thread_within_100_characters(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    prompt = "a cinematic journey " * 20 + "\n@everyone <@&42> `code`"
    await fake.post_message(prompt, mention_bot=True)
    await engine.wait_handled()

    name = thread_calls(fake)[0].json["name"]
    assert 1 <= len(name) <= 100
    assert name.endswith("…") and "\n" not in name


async def test_thread_messages_are_next_turns_without_a_mention(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    first = await fake.post_message("a sunset", mention_bot=True)
    await engine.wait_handled()
    thread_id = int(first["id"])

    second = await fake.post_message("make the title bigger", channel_id=thread_id)
    incomings = await engine.wait_handled(2)

    assert incomings[1].text == "make the title bigger"
    assert incomings[1].event_id == second["id"]
    assert engine.keys()[1] == guild_key(fake, thread_id)
    assert len(thread_calls(fake)) == 1


async def test_channel_chatter_everyone_pings_bots_and_webhooks_are_ignored(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    await fake.post_message("just chatting, no mention")
    await fake.post_message("@everyone look at this")  # mentions everyone, not the bot
    await fake.post_message(
        "another bot", author={**fake.other_user, "bot": True}, mention_bot=True
    )
    await fake.post_message("a webhook", webhook_id=fake.snowflake(), mention_bot=True)
    await fake.post_message("pinned", message_type=6, mention_bot=True)
    marker = await fake.post_message("the real one", mention_bot=True)

    (incoming,) = await engine.wait_handled()
    assert incoming.event_id == marker["id"]
    assert len(thread_calls(fake)) == 1


async def test_the_bots_own_messages_are_ignored(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    first = await fake.post_message("a sunset", mention_bot=True)
    await engine.wait_handled()
    thread = engine.handled[0][0]
    # The bot's post comes back as MESSAGE_CREATE (Discord echoes it), mention and all.
    await thread.post(Reply(ReplyKind.TEXT, f"<@{fake.bot['id']}> echo"))
    marker = await fake.post_message("next", channel_id=int(first["id"]))
    incomings = await engine.wait_handled(2)
    assert [i.event_id for i in incomings] == [first["id"], marker["id"]]


async def test_threads_the_bot_does_not_own_are_ignored_unless_the_store_knows_them(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    starter = await fake.post_message("a human starts a thread")
    # A thread created by a user (owner is alice), announced to the bot.
    thread_id = int(starter["id"])
    fake.channels[thread_id] = {
        **fake.channels[fake.channel_id],
        "id": str(thread_id),
        "type": 11,
        "parent_id": str(fake.channel_id),
        "owner_id": fake.user["id"],
        "name": "humans only",
        "message_count": 0,
        "member_count": 1,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": starter["timestamp"],
            "locked": False,
        },
    }
    await fake.dispatch("THREAD_CREATE", {**fake.channels[thread_id], "newly_created": True})
    await fake.post_message("not for the bot", channel_id=thread_id, mention_bot=True)
    marker = await fake.post_message("events arrive in order", mention_bot=True)
    await engine.wait_handled()

    engine.owned.add(guild_key(fake, thread_id))  # from now on the store says it is ours
    known = await fake.post_message("now it is", channel_id=thread_id)

    incomings = await engine.wait_handled(2)
    assert [i.event_id for i in incomings] == [marker["id"], known["id"]]


async def test_a_dm_is_its_own_session_with_the_user_as_tenant(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    dm = fake.dm_channel()
    message = await fake.post_message(
        f"<@{fake.bot['id']}> a sunset", channel_id=int(dm["id"]), mentions=[fake.bot]
    )

    (incoming,) = await engine.wait_handled()
    assert engine.keys() == [ThreadKey("discord", f"dm-{fake.user['id']}", dm["id"], dm["id"])]
    assert incoming.text == "a sunset"
    assert incoming.event_id == message["id"]
    assert thread_calls(fake) == []


async def test_slash_video_in_a_dm_runs_in_the_dm(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    dm = fake.dm_channel()
    interaction = await fake.slash("video", {"prompt": "a sunset"}, channel_id=int(dm["id"]))

    (incoming,) = await engine.wait_handled()
    await fake.wait_for(lambda: fake.followups(interaction), WAIT)
    assert engine.keys() == [ThreadKey("discord", f"dm-{fake.user['id']}", dm["id"], dm["id"])]
    assert incoming.text == "a sunset"
    assert thread_calls(fake) == []


async def test_attachments_become_attachment_values_with_the_signed_url(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    clip = fake.attachment("clip.mp4", b"\x00" * 1024, content_type="video/mp4")
    await fake.post_message("use this", mention_bot=True, attachments=[clip])

    (incoming,) = await engine.wait_handled()
    (attachment,) = incoming.attachments
    assert attachment.filename == "clip.mp4"
    assert attachment.size == 1024
    assert attachment.content_type == "video/mp4"
    assert attachment.source == clip["url"]
    assert "hm=" in attachment.source and "ex=" in attachment.source


async def test_a_redelivered_mention_reaches_the_engine_with_the_same_event_id(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    message = await fake.post_message("a sunset", mention_bot=True)
    await engine.wait_handled()
    await fake.redeliver(message)

    incomings = await engine.wait_handled(2)
    # Discord refuses a second thread (160004); the adapter still lands in the same thread,
    # and the engine deduplicates by event id.
    assert [c.status for c in thread_calls(fake)] == [201, 400]
    assert engine.keys() == [guild_key(fake, message["id"])] * 2
    assert incomings[0].event_id == incomings[1].event_id == message["id"]


async def test_slash_video_defers_opens_a_thread_and_links_it(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    interaction = await fake.slash(
        "video", {"prompt": "a cat on the moon @everyone"}, locale="zh-CN"
    )

    (incoming,) = await engine.wait_handled()
    followups = await fake.wait_for(lambda: fake.followups(interaction), WAIT)

    assert interaction.responses[0]["type"] == 5  # deferred, within the 3-second window
    assert interaction.responses[0]["data"]["flags"] == EPHEMERAL
    starter = fake.find("POST", f"/channels/{fake.channel_id}/messages")[0]
    assert "a cat on the moon" in starter.json["content"]
    assert starter.json["allowed_mentions"] == {"parse": []}
    thread_id = thread_calls(fake)[0].path.split("/")[4]
    assert engine.keys() == [guild_key(fake, thread_id)]
    assert incoming.text == "a cat on the moon @everyone"
    assert incoming.locale == "zh-CN"
    assert incoming.event_id == str(interaction.id)
    assert f"<#{thread_id}>" in followups[0]["content"]


async def test_slash_status_and_export_outside_a_video_thread_answer_privately(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    for name in ("status", "export"):
        interaction = await fake.slash(name)
        await fake.wait_for(lambda i=interaction: i.responses, WAIT)
        (response,) = interaction.responses
        assert response["type"] == 4
        assert response["data"]["flags"] == EPHEMERAL
        assert "inside a video thread" in response["data"]["content"]
        assert response["data"]["allowed_mentions"] == {"parse": []}
    assert engine.handled == []


async def test_slash_status_in_a_video_thread_is_a_status_action_there(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    first = await fake.post_message("a sunset", mention_bot=True)
    await engine.wait_handled()

    interaction = await fake.slash("status", channel_id=int(first["id"]))
    incomings = await engine.wait_handled(2)

    assert incomings[1].action is Action.STATUS
    assert engine.keys()[1] == guild_key(fake, first["id"])
    assert interaction.responses[0]["data"]["flags"] == EPHEMERAL


async def test_slash_credits_outside_a_thread_answers_in_a_private_followup(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    interaction = await fake.slash("credits")
    await engine.wait_handled()
    thread, incoming = engine.handled[0]
    assert incoming.action is Action.CREDITS
    assert interaction.responses[0]["type"] == 5

    await thread.post(
        Reply(ReplyKind.CREDITS, "Credits: 100 available", balance=Balance(available=100))
    )
    (followup,) = fake.followups(interaction)
    assert followup["content"] == "Credits: 100 available"
    assert followup["flags"] == EPHEMERAL


async def with_buttons(fake: FakeDiscord, engine: RecordingEngine) -> dict[str, Any]:
    """A video thread and the bot's reply in it carrying Export / Status / Credits."""
    first = await fake.post_message("a sunset", mention_bot=True)
    await engine.wait_handled()
    thread = engine.handled[0][0]
    await thread.post(Reply(ReplyKind.TEXT, "Done!", tuple(Action)))
    return fake.sent_messages(first["id"])[-1]


async def test_a_button_click_is_an_action_in_its_own_thread(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    message = await with_buttons(fake, engine)
    thread_id = message["channel_id"]
    export = message["components"][0]["components"][0]
    assert export["custom_id"] == f"jupiter:export:{thread_id}"

    interaction = await fake.click(message, export["custom_id"], locale="de")
    incomings = await engine.wait_handled(2)

    assert incomings[1].action is Action.EXPORT
    assert incomings[1].locale == "de"
    assert engine.keys()[1] == guild_key(fake, thread_id)
    assert interaction.responses == [{"type": 6}]  # deferred update: no extra message


async def test_a_button_from_another_thread_is_refused(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    message = await with_buttons(fake, engine)
    message["components"][0]["components"][1]["custom_id"] = "jupiter:status:123456"

    interaction = await fake.click(message, "jupiter:status:123456")
    await fake.wait_for(lambda: interaction.responses, WAIT)

    (response,) = interaction.responses
    assert response["type"] == 4 and response["data"]["flags"] == EPHEMERAL
    assert "another video thread" in response["data"]["content"]
    assert len(engine.handled) == 1


async def test_without_thread_permission_the_user_is_told_so(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    fake.forbid_threads = True
    message = await fake.post_message("a sunset", mention_bot=True)

    reply = await fake.wait_for(lambda: fake.sent_messages(fake.channel_id), WAIT)
    assert "Create Public Threads" in reply[0]["content"]
    assert str(reply[0]["message_reference"]["message_id"]) == message["id"]
    assert engine.handled == []


async def test_every_send_and_edit_disables_mentions(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    await fake.post_message("a sunset", mention_bot=True)
    await fake.slash("video", {"prompt": "a cat"})
    await engine.wait_handled(2)
    thread = engine.handled[0][0]
    message_id = await thread.post(Reply(ReplyKind.STATUS, "@everyone <@&1> <@2> hi"))
    await thread.update(message_id, Reply(ReplyKind.TEXT, "@here done", (Action.EXPORT,)))

    writes = [
        c
        for c in fake.calls
        if c.method in ("POST", "PATCH")
        and ("/messages" in c.path or c.path.startswith("/webhooks/"))
        and not c.path.endswith("/threads")
    ]
    assert len(writes) >= 4
    for call in writes:
        assert call.json["allowed_mentions"] == {"parse": []}, call.path


async def test_a_chinese_user_is_told_in_chinese_to_use_a_video_thread(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    interaction = await fake.slash("status", locale="zh-CN")
    await fake.wait_for(lambda: interaction.responses, WAIT)
    (response,) = interaction.responses
    assert "请在视频线程里使用 `/status`" in response["data"]["content"]
    assert engine.handled == []
