"""`DiscordThread`, the port the engine talks to, against the fake's REST API and CDN.

Threads come from the resolver the bot registers with the engine, exactly as a render resumed
after a restart would get them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from bots.base.downloads import AttachmentUnavailable
from bots.base.uploads import UploadTooLarge
from bots.discord.files import DiscordFiles
from core.port import Action, Attachment, ChatThread, Reply, ReplyKind, ThreadKey
from tests.discord.conftest import WAIT, RecordingEngine
from tests.fakes.discord_gateway import FakeDiscord

pytestmark = pytest.mark.usefixtures("bot")

MiB = 1024 * 1024


def resolve(engine: RecordingEngine, key: ThreadKey) -> ChatThread:
    return engine.resolvers["discord"](key)


async def video_thread(fake: FakeDiscord, engine: RecordingEngine) -> tuple[ChatThread, str]:
    first = await fake.post_message("a sunset", mention_bot=True)
    await engine.wait_handled()
    key = ThreadKey("discord", str(fake.guild_id), first["id"], first["id"])
    return resolve(engine, key), first["id"]


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def test_the_resolver_builds_a_working_thread_from_a_stored_key(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, thread_id = await video_thread(fake, engine)
    assert isinstance(thread, ChatThread)
    assert thread.upload_limit == 10 * MiB

    message_id = await thread.post(Reply(ReplyKind.STATUS, "Connecting..."))
    await thread.update(message_id, Reply(ReplyKind.STATUS, "⏳ Still working... (1s)"))

    (message,) = fake.sent_messages(thread_id)
    assert message["id"] == message_id
    assert message["content"] == "⏳ Still working... (1s)"
    assert message["edits"] == 1


async def test_the_upload_limit_follows_the_guild_boost_tier(tmp_path: Any) -> None:
    from tests.discord.conftest import FakeRuntime, discord_settings, running

    async with FakeDiscord(premium_tier=2) as fake:
        engine = RecordingEngine()
        async with running(FakeRuntime(discord_settings(fake, tmp_path), engine), fake):
            thread, _ = await video_thread(fake, engine)
            assert thread.upload_limit == 50 * MiB
            dm = fake.dm_channel()
            dm_key = ThreadKey("discord", f"dm-{fake.user['id']}", dm["id"], dm["id"])
            assert resolve(engine, dm_key).upload_limit == 10 * MiB


async def test_long_replies_are_split_and_buttons_ride_on_the_last_message(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, thread_id = await video_thread(fake, engine)
    text = "\n\n".join(f"Paragraph {i}: " + "words " * 60 for i in range(12))

    first_id = await thread.post(Reply(ReplyKind.TEXT, text, tuple(Action)))

    sent = fake.sent_messages(thread_id)
    assert len(sent) >= 3
    assert all(len(m["content"]) <= 2000 for m in sent)
    assert sent[0]["id"] == first_id  # the head: what `update` edits
    assert [m["components"] for m in sent[:-1]] == [[]] * (len(sent) - 1)
    ids = [b["custom_id"] for b in sent[-1]["components"][0]["components"]]
    assert ids == [f"jupiter:{a.value}:{thread_id}" for a in Action]
    joined = " ".join(m["content"] for m in sent)
    assert all(f"Paragraph {i}:" in joined for i in range(12))


async def test_an_update_too_long_for_one_message_continues_below(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, thread_id = await video_thread(fake, engine)
    status_id = await thread.post(Reply(ReplyKind.STATUS, "Connecting..."))

    await thread.update(status_id, Reply(ReplyKind.TEXT, "word " * 1000, (Action.EXPORT,)))

    first, *rest = fake.sent_messages(thread_id)
    assert first["id"] == status_id and first["content"].startswith("word")
    assert first["components"] == []
    assert rest and rest[-1]["components"][0]["components"][0]["label"] == "Export"


async def test_upload_streams_the_file_as_multipart(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, thread_id = await video_thread(fake, engine)
    data = bytes(range(256)) * 4096  # 1 MiB

    await thread.upload("jupiter-r1.mp4", len(data), chunks(data), Reply(ReplyKind.VIDEO, "ready"))

    (call,) = [c for c in fake.find("POST", f"/channels/{thread_id}/messages") if c.files]
    (part,) = call.files
    assert part.filename == "jupiter-r1.mp4"
    assert part.size == len(data)
    assert call.json["allowed_mentions"] == {"parse": []}
    assert fake.sent_messages(thread_id)[-1]["attachments"][0]["size"] == len(data)


async def test_upload_over_the_limit_is_refused_before_a_byte_moves(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, _ = await video_thread(fake, engine)

    async def never() -> AsyncIterator[bytes]:
        raise AssertionError("the stream must not be read")
        yield b""

    with pytest.raises(UploadTooLarge):
        await thread.upload("big.mp4", 11 * MiB, never(), Reply(ReplyKind.VIDEO, "ready"))
    # A size that lied: the stream grows past the limit while spooling.
    with pytest.raises(UploadTooLarge):
        await thread.upload(
            "liar.mp4", 10, chunks(b"x" * (10 * MiB + 1)), Reply(ReplyKind.VIDEO, "x")
        )
    assert not [c for c in fake.calls if c.files]


async def test_busy_shows_typing_until_cleared(fake: FakeDiscord, engine: RecordingEngine) -> None:
    thread, thread_id = await video_thread(fake, engine)

    await thread.set_busy("Working on your video...")
    await thread.set_busy("Working on your video...")  # a heartbeat re-asserts: still one loop
    await fake.wait_for(lambda: fake.find("POST", f"/channels/{thread_id}/typing"), WAIT)
    await thread.set_busy(None)

    assert len(fake.find("POST", f"/channels/{thread_id}/typing")) == 1


async def test_attachments_stream_from_the_cdn_with_the_signed_query_and_no_token(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, _ = await video_thread(fake, engine)
    data = b"\x01\x02" * 300_000
    payload = fake.attachment("clip.mp4", data)

    got = await read_all(
        thread.open_attachment(Attachment("clip.mp4", len(data), payload["url"], "video/mp4"))
    )

    assert got == data
    (call,) = fake.find("GET", "/attachments/*")
    assert {"ex", "is", "hm"} <= set(call.query)
    assert "Authorization" not in call.headers
    assert fake.token not in str(call.headers)


async def test_attachments_elsewhere_are_refused(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, _ = await video_thread(fake, engine)
    elsewhere = "http://localhost:1/evil.mp4"
    redirect = f"{fake.base_url}/redirect?to={elsewhere}"
    expired = fake.attachment("old.mp4", b"x")["url"].split("?")[0]  # signature dropped

    for url in ("https://example.com/a.mp4", elsewhere, redirect, expired):
        with pytest.raises(AttachmentUnavailable) as caught:
            await read_all(thread.open_attachment(Attachment("a.mp4", 1, url)))
        assert fake.token not in str(caught.value)
        assert "hm=" not in str(caught.value)


async def test_only_discord_cdn_hosts_and_the_api_host_are_allowed() -> None:
    async with httpx.AsyncClient() as http:
        cdn = DiscordFiles(http, "http://127.0.0.1:8080/api/v10").policy
    assert cdn.allows("https://cdn.discordapp.com/attachments/1/2/a.mp4?ex=1&is=2&hm=3")
    assert cdn.allows("https://media.discordapp.net/attachments/1/2/a.png")
    assert cdn.allows("http://127.0.0.1:8080/attachments/1/2/a.mp4")
    assert not cdn.allows("http://cdn.discordapp.com/attachments/1/2/a.mp4")  # no plain HTTP
    assert not cdn.allows("https://cdn.discordapp.com.evil.com/a.mp4")
    assert not cdn.allows("http://127.0.0.1:9999/a.mp4")
    assert not cdn.allows("https://discord.com/api/v10/users/@me")
    assert not cdn.allows("file:///etc/passwd")


async def test_a_delivery_is_found_in_the_channel_history(
    fake: FakeDiscord, engine: RecordingEngine
) -> None:
    thread, thread_id = await video_thread(fake, engine)
    assert not await thread.find_delivery("render_1")
    await thread.post(Reply(ReplyKind.TEXT, "words", (Action.STATUS,)))
    video = Reply(
        ReplyKind.VIDEO, "done", (Action.STATUS, Action.CREDITS), video_url="https://v/1.mp4"
    )
    await thread.post(replace(video, marker="render_1"))
    assert await thread.find_delivery("render_1")
    assert not await thread.find_delivery("render_2")
    assert fake.find("GET", f"/channels/{thread_id}/messages")
