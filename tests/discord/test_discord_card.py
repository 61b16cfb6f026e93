"""The delivered-video card (Components V2) as the fake Discord receives and validates it.

The fake refuses what Discord refuses: content or embeds beside the V2 flag, component types out
of place, `attachment://` media without the file, more than 4,000 characters of text. So a card
that reaches `sent_messages` is one Discord would have taken.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.base.uploads import UploadTooLarge
from bots.discord.card import CARD_TEXT_LIMIT, card_texts
from core.port import Action, Reply, ReplyKind, ThreadKey
from tests.discord.conftest import RecordingEngine
from tests.fakes.discord_gateway import (
    CONTAINER,
    IS_COMPONENTS_V2,
    MEDIA_GALLERY,
    SECTION,
    TEXT_DISPLAY,
    THUMBNAIL,
    FakeDiscord,
    buttons_of,
    shown_text,
)

pytestmark = pytest.mark.usefixtures("bot")

URL = "https://cdn.test/renders/r1.mp4"
CLAIM = "Task detail: https://nemovideo.com/workspace/claim?ct=clm_abc"


def delivery(**overrides: Any) -> Reply:
    values: dict[str, Any] = {
        "kind": ReplyKind.VIDEO,
        "text": f"✅ Your video is ready: {URL}",
        "buttons": (Action.STATUS, Action.CREDITS),
        "video_url": URL,
        "details": ("Timeline (2 tracks): video 0-5 s", CLAIM),
        "marker": "render_1",
    }
    values.update(overrides)
    return Reply(**values)


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def card_thread(fake: FakeDiscord, engine: RecordingEngine) -> tuple[Any, str]:
    first = await fake.post_message("a sunset", mention_bot=True)
    await engine.wait_handled()
    key = ThreadKey("discord", str(fake.guild_id), first["id"], first["id"])
    return engine.resolvers["discord"](key), first["id"]


def gallery_urls(message: dict[str, Any]) -> list[str]:
    (container,) = [c for c in message["components"] if c["type"] == CONTAINER]
    return [
        item["media"]["url"]
        for c in container["components"]
        if c["type"] == MEDIA_GALLERY
        for item in c["items"]
    ]


async def test_a_delivery_is_one_v2_card_with_player_texts_and_buttons(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, thread_id = await card_thread(fake, engine)

    message_id = await thread.post(delivery())

    (card,) = [m for m in fake.sent_messages(thread_id) if m["id"] == message_id]
    assert card["flags"] & IS_COMPONENTS_V2
    assert card["content"] == "" and card["embeds"] == []
    (container, row) = card["components"]
    assert container["type"] == CONTAINER and row["type"] == 1
    kinds = [c["type"] for c in container["components"]]
    assert kinds == [TEXT_DISPLAY, MEDIA_GALLERY, TEXT_DISPLAY]
    assert gallery_urls(card) == [URL]
    text = shown_text(card)
    assert text.count(URL) == 1 and CLAIM in text and "Timeline (2 tracks)" in text
    assert [b["custom_id"] for b in buttons_of(card)] == [
        f"jupiter:status:{thread_id}:render_1",
        f"jupiter:credits:{thread_id}:render_1",
    ]


async def test_the_mp4_is_attached_into_the_card_and_played_from_there(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, thread_id = await card_thread(fake, engine)
    reply = delivery()
    message_id = await thread.post(reply)
    data = b"\x00" * 4096

    await thread.upload("jupiter-render_1.mp4", len(data), chunks(data), reply)

    (call,) = [c for c in fake.calls if c.files]
    assert call.matches("PATCH", f"/channels/{thread_id}/messages/{message_id}")
    (card,) = [m for m in fake.sent_messages(thread_id) if m["id"] == message_id]
    assert gallery_urls(card) == ["attachment://jupiter-render_1.mp4"]
    assert card["attachments"][0]["size"] == len(data)
    assert shown_text(card).count(URL) == 1  # the link stays, once
    assert len(buttons_of(card)) == 2
    assert len(fake.sent_messages(thread_id)) == 1  # the card alone: nothing reposted


async def test_an_upload_discord_refuses_with_413_leaves_the_link_posted_once(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, thread_id = await card_thread(fake, engine)
    fake.upload_refusal_limit = 1024  # Discord's ceiling is lower than the guild said
    reply = delivery()
    message_id = await thread.post(reply)
    before = len(fake.sent_messages(thread_id))

    with pytest.raises(UploadTooLarge):
        await thread.upload("jupiter-render_1.mp4", 4096, chunks(b"\x00" * 4096), reply)

    (refused,) = [c for c in fake.calls if c.files]
    assert refused.status == 413 and refused.answer["code"] == 40005
    assert len(fake.sent_messages(thread_id)) == before
    (card,) = [m for m in fake.sent_messages(thread_id) if m["id"] == message_id]
    assert gallery_urls(card) == [URL] and shown_text(card).count(URL) == 1
    assert await thread.find_delivery("render_1")


async def test_a_plain_file_refused_with_413_is_upload_too_large(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, _ = await card_thread(fake, engine)
    fake.upload_refusal_limit = 10

    with pytest.raises(UploadTooLarge):
        await thread.upload("x.mp4", 100, chunks(b"x" * 100), Reply(ReplyKind.TEXT, "x"))


def test_card_text_stays_within_discords_4000_characters() -> None:
    head, details = card_texts(delivery(text="word " * 2000, details=("line " * 900,) * 3))
    assert len(head) + len(details) <= CARD_TEXT_LIMIT
    assert URL in head


async def test_the_poster_is_the_cards_thumbnail_and_stays_when_the_mp4_arrives(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, thread_id = await card_thread(fake, engine)
    reply = delivery(poster=b"\xff\xd8\xff\xe0 a jpeg")

    message_id = await thread.post(reply)

    (card,) = [m for m in fake.sent_messages(thread_id) if m["id"] == message_id]
    (container, _) = card["components"]
    section = container["components"][0]
    assert section["type"] == SECTION and section["accessory"]["type"] == THUMBNAIL
    assert section["accessory"]["media"]["url"] == "attachment://poster.jpg"
    assert [a["filename"] for a in card["attachments"]] == ["poster.jpg"]

    await thread.upload("jupiter-render_1.mp4", 10, chunks(b"\x00" * 10), reply)

    (card,) = [m for m in fake.sent_messages(thread_id) if m["id"] == message_id]
    assert [a["filename"] for a in card["attachments"]] == ["poster.jpg", "jupiter-render_1.mp4"]
    assert gallery_urls(card) == ["attachment://jupiter-render_1.mp4"]
    assert shown_text(card).count(URL) == 1
