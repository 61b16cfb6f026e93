"""Slack payloads to `(ThreadKey, Incoming)`: who gets a turn, in which thread, with what."""

from __future__ import annotations

import copy

from bots.slack import incoming as events
from core.port import Action, Attachment, ThreadKey
from tests.slack.conftest import payload

BOT = "U0JUPITER"
ROOT = ThreadKey("slack", "T0TEAM", "C0VIDEO", "1700000000.000100")


def test_a_mention_starts_a_thread_on_itself_without_the_mention() -> None:
    routed = events.from_mention(payload("app_mention"), BOT)
    assert routed is not None
    assert routed.key == ROOT
    assert routed.incoming.text == "a sunset over mountains & a lake, 30-second cinematic"
    assert routed.incoming.user == "U0ALICE"
    assert routed.incoming.event_id == "slack:Ev0MENTION1"
    assert not routed.needs_owner


def test_a_mention_inside_a_thread_continues_that_thread() -> None:
    body = payload("app_mention")
    body["event"]["ts"] = "1700000099.000900"
    body["event"]["thread_ts"] = ROOT.thread
    routed = events.from_mention(body, BOT)
    assert routed is not None and routed.key == ROOT


def test_the_tenant_is_the_workspace() -> None:
    body = payload("app_mention")
    body["team_id"] = "T0OTHER"
    routed = events.from_mention(body, BOT)
    assert routed is not None and routed.key.tenant == "T0OTHER"


def test_a_plain_thread_reply_needs_the_bot_to_own_the_thread() -> None:
    routed = events.from_message(payload("message_thread_reply"), BOT)
    assert routed is not None
    assert routed.key == ROOT and routed.needs_owner
    assert routed.incoming.text == "make it warmer"


def test_a_thread_reply_that_mentions_the_bot_is_left_to_app_mention() -> None:
    body = payload("message_thread_reply")
    body["event"]["text"] = f"<@{BOT}> make it warmer"
    assert events.from_message(body, BOT) is None


def test_top_level_channel_chatter_is_ignored() -> None:
    body = payload("message_thread_reply")
    del body["event"]["thread_ts"]
    assert events.from_message(body, BOT) is None


def test_a_top_level_dm_starts_a_thread_on_itself() -> None:
    routed = events.from_message(payload("message_im"), BOT)
    assert routed is not None
    assert routed.key == ThreadKey("slack", "T0TEAM", "D0ALICE", "1700000100.000300")
    assert not routed.needs_owner


def test_a_dm_thread_reply_continues_that_thread_without_an_ownership_check() -> None:
    body = payload("message_im")
    body["event"]["thread_ts"] = "1700000100.000300"
    body["event"]["ts"] = "1700000200.000100"
    routed = events.from_message(body, BOT)
    assert routed is not None and routed.key.thread == "1700000100.000300"
    assert not routed.needs_owner


def test_edits_deletions_joins_and_bots_are_never_turns() -> None:
    assert events.from_message(payload("message_changed"), BOT) is None
    assert events.from_message(payload("bot_message"), BOT) is None
    for subtype in ("message_deleted", "channel_join", "channel_topic", "bot_message"):
        body = payload("message_thread_reply")
        body["event"]["subtype"] = subtype
        assert events.from_message(body, BOT) is None, subtype
    own = payload("message_thread_reply")
    own["event"]["user"] = BOT
    assert events.from_message(own, BOT) is None
    bot = payload("app_mention")
    bot["event"]["bot_id"] = "B0OTHER"
    assert events.from_mention(bot, BOT) is None


def test_files_become_attachments_from_the_event_alone() -> None:
    routed = events.from_message(payload("file_share"), BOT)
    assert routed is not None
    assert routed.incoming.attachments == (
        Attachment(
            filename="clip.mp4",
            size=1048576,
            source="https://files.slack.com/files-pri/T0TEAM-F0CLIP/download/clip.mp4",
            content_type="video/mp4",
        ),
    )
    body = payload("file_share")
    body["event"]["files"][0]["mode"] = "tombstone"
    routed = events.from_message(body, BOT)
    assert routed is not None and routed.incoming.attachments == ()


def test_wire_text_is_decoded_for_the_backend() -> None:
    text = "<@U0JUPITER> see <https://example.com/a?b=1&amp;c=2|this> &lt;3 <!here> <#C1|general> <@U2|bob>"
    assert events.plain_text(text, BOT) == (
        "see https://example.com/a?b=1&c=2 <3 @here #general @bob"
    )


def test_slash_command_usage_and_prompt() -> None:
    form = payload("command")
    command = events.from_command(form)
    assert command is not None and not command.wants_usage
    routed = command.routed("1700000300.000100")
    assert routed.key == ThreadKey("slack", "T0TEAM", "C0VIDEO", "1700000300.000100")
    assert routed.incoming.text == "a sunset over mountains, 30-second cinematic"
    assert routed.incoming.event_id == "slack:command:13345224609.738474920.8088930838d88f008e0"
    for text in ("", "help", "  HELP "):
        usage = events.from_command({**form, "text": text})
        assert usage is not None and usage.wants_usage


def test_a_button_click_routes_to_the_thread_in_its_value() -> None:
    routed = events.from_action(payload("block_actions"))
    assert routed is not None
    assert routed.key == ROOT
    assert routed.incoming.action is Action.EXPORT
    assert routed.incoming.event_id == "slack:action:1700000003.000800:U0ALICE"


def test_a_button_value_from_another_channel_falls_back_to_the_message_thread() -> None:
    body = copy.deepcopy(payload("block_actions"))
    body["actions"][0]["value"] = "slack:T0TEAM:C0ELSEWHERE:1.2"
    routed = events.from_action(body)
    assert routed is not None and routed.key == ROOT


def test_unknown_actions_are_ignored() -> None:
    body = payload("block_actions")
    body["actions"][0]["action_id"] = "jupiter_open_video"
    assert events.from_action(body) is None
    body["actions"][0]["action_id"] = "someone_else"
    assert events.from_action(body) is None


def test_thread_keys_survive_a_round_trip_through_a_button_value() -> None:
    assert events.parse_thread_key(str(ROOT)) == ROOT
    assert events.parse_thread_key("discord:1:2:3") is None
    assert events.parse_thread_key("slack:T:C") is None
