"""`ChatThread` for a Discord thread or DM channel: the one class the engine talks to.

A thread is addressed by channel id alone (a `PartialMessageable`), so the same object can be
built from a stored `ThreadKey` after a restart without asking Discord anything. Every send
and edit carries `AllowedMentions.none()`: text from users or the backend can never ping
@everyone, a role or a user.

A delivered video is one card (`card.video_card`), and the MP4 the engine offers afterwards is
attached into that same card by an edit, so the link is in the thread exactly once whatever
Discord does with the file; the object remembers its cards for that (the engine hands the same
thread object to the post and to the upload).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import tempfile
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import discord

from bots.base.downloads import AttachmentUnavailable
from bots.base.uploads import UploadTooLarge, check_fits, within_limit
from bots.discord.buttons import button_view, carries
from bots.discord.card import custom_ids, video_card
from bots.discord.endpoints import current_webhooks, webhooks_via
from bots.discord.files import DiscordFiles
from bots.discord.forum import ForumTags, PostState
from bots.discord.render import Outgoing, render
from bots.discord.words import DiscordWords
from core.messages import say
from core.port import Attachment, Reply, ReplyKind, ThreadKey

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
DEFAULT_UPLOAD_LIMIT = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES  # 10 MiB
TYPING_SECONDS = 8.0  # Discord shows "typing" for 10 s after each trigger
DELIVERY_LOOKBACK = 100  # recent messages read looking for a delivery left mid-post
TOO_LARGE_CODE = 40005  # "Request entity too large" (HTTP 413)
POSTER = "poster.jpg"  # the card's thumbnail, attached with it


def _poster_of(reply: Reply) -> str | None:
    return f"attachment://{POSTER}" if reply.poster else None


def too_large(exc: discord.HTTPException) -> bool:
    """Discord refused the file for its size: the link in the card stands alone."""
    return exc.status == 413 or exc.code == TOO_LARGE_CODE


class TypingIndicators:
    """One typing loop per channel, shared by every `DiscordThread` made for that channel."""

    def __init__(self, interval: float = TYPING_SECONDS) -> None:
        self.interval = interval
        self._loops: dict[int, asyncio.Task[None]] = {}

    def start(self, channel: discord.abc.Messageable, channel_id: int) -> None:
        task = self._loops.get(channel_id)
        if task is None or task.done():
            self._loops[channel_id] = asyncio.create_task(
                self._keep_typing(channel), name=f"discord-typing-{channel_id}"
            )

    async def stop(self, channel_id: int) -> None:
        task = self._loops.pop(channel_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        for channel_id in list(self._loops):
            await self.stop(channel_id)

    async def _keep_typing(self, channel: discord.abc.Messageable) -> None:
        while True:
            try:
                await channel.typing()
            except discord.HTTPException as exc:
                log.warning("typing indicator failed: HTTP %s", exc.status)
            await asyncio.sleep(self.interval)


class DiscordThread:
    def __init__(
        self,
        key: ThreadKey,
        channel: discord.PartialMessageable,
        *,
        upload_limit: int,
        typing: TypingIndicators,
        files: DiscordFiles,
        online: asyncio.Event,
        tags: ForumTags | None = None,
    ) -> None:
        self.key = key
        self._tags = tags
        self._channel = channel
        self._upload_limit = upload_limit
        self._typing = typing
        self._files = files
        self._online = online
        self._cards: dict[str, discord.Message] = {}  # video URL -> its card, for `upload`

    @property
    def upload_limit(self) -> int:
        return self._upload_limit

    async def post(self, reply: Reply) -> str:
        """Send the reply (several messages when long); the id is the first one's."""
        await self._online.wait()
        if reply.kind is ReplyKind.VIDEO and reply.video_url:
            card = await self._post_card(reply)
            if self._tags is not None:  # a forum post shows it is ready
                await self._tags.mark(self._channel.id, PostState.READY)
            return str(card)
        first, *rest = render(reply)
        message_id = str((await self._send(first, reply.marker)).id)
        for outgoing in rest:
            await self._send(outgoing, reply.marker)
        return message_id

    async def find_delivery(self, marker: str) -> bool:
        """Reads the channel's recent messages (a delivery is among the newest) for a button
        carrying the marker."""
        await self._online.wait()
        async for message in self._channel.history(limit=DELIVERY_LOOKBACK):
            if any(carries(found, marker) for found in custom_ids(message.components)):
                return True
        return False

    async def update(self, message_id: str, reply: Reply) -> None:
        """Edit in place; a reply too long for one message continues in new messages."""
        await self._online.wait()
        first, *rest = render(reply)
        await self._channel.get_partial_message(int(message_id)).edit(
            content=first.content,
            view=button_view(
                first.buttons,
                self._channel.id,
                language=first.language,
                choices=first.choices,
                question_id=first.question_id,
            ),
            allowed_mentions=NO_MENTIONS,
        )
        for outgoing in rest:
            await self._send(outgoing)

    async def upload(
        self, filename: str, size: int, chunks: AsyncIterator[bytes], reply: Reply
    ) -> None:
        """Attach the file under the reply already posted (the link), without repeating it.

        The stream is spooled to a temporary file, never held in memory, and file IO runs in
        worker threads so the event loop keeps serving the gateway.
        """
        check_fits(filename, size, self._upload_limit, "Discord", reply.language)
        await self._online.wait()
        spool: io.BufferedRandom = await asyncio.to_thread(tempfile.TemporaryFile)
        try:
            async for chunk in within_limit(chunks, filename, self._upload_limit, reply.language):
                await asyncio.to_thread(spool.write, chunk)
            await asyncio.to_thread(spool.seek, 0)
            file = discord.File(spool, filename=filename)
            card = self._cards.get(reply.video_url or "")
            if card is not None:
                await self._attach_to_card(card, file, reply)
            else:
                await self._send_file(file, reply)
        finally:
            await asyncio.to_thread(spool.close)

    async def _post_card(self, reply: Reply) -> int:
        """The video card, playing from the URL until `upload` attaches the file; the poster
        (a frame of the video, where one was made) rides along as its thumbnail."""
        files = [discord.File(io.BytesIO(reply.poster), POSTER)] if reply.poster else []
        sent = await self._channel.send(
            view=video_card(reply, self._channel.id, poster=_poster_of(reply)),
            files=files,
            allowed_mentions=NO_MENTIONS,
        )
        self._cards[reply.video_url or ""] = sent
        return sent.id

    async def _attach_to_card(
        self, card: discord.Message, file: discord.File, reply: Reply
    ) -> None:
        """The file goes into the card's gallery in place: the card is still the one message
        with the link, whether Discord takes the file or refuses it (413, code 40005)."""
        view = video_card(
            reply,
            self._channel.id,
            media=f"attachment://{file.filename}",
            poster=_poster_of(reply),
        )
        try:
            await self._channel.get_partial_message(card.id).edit(
                view=view, attachments=[*card.attachments, file], allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            if too_large(exc):
                raise UploadTooLarge(exc.text) from None
            raise

    async def _send_file(self, file: discord.File, reply: Reply) -> None:
        try:
            await self._channel.send(file=file, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            if too_large(exc):
                raise UploadTooLarge(exc.text) from None
            raise

    async def set_busy(self, text: str | None) -> None:
        if text is None:
            await self._typing.stop(self._channel.id)
        else:
            self._typing.start(self._channel, self._channel.id)

    def open_attachment(self, attachment: Attachment, language: str = "en") -> AsyncIterator[bytes]:
        return self._files.stream(attachment.source, attachment.filename, language)

    async def _send(self, outgoing: Outgoing, marker: str | None = None) -> discord.Message:
        return await self._channel.send(
            content=outgoing.content,
            view=button_view(
                outgoing.buttons,
                self._channel.id,
                marker=marker,
                language=outgoing.language,
                choices=outgoing.choices,
                question_id=outgoing.question_id,
            ),
            allowed_mentions=NO_MENTIONS,
        )


class InteractionThread:
    """A `ChatThread` over an interaction's followups: private answers outside video threads.

    Only for quick answers (credits): followups die with the interaction token after 15 min,
    and the buttons are left off because they act on a video thread.
    """

    def __init__(self, key: ThreadKey, interaction: discord.Interaction[Any]) -> None:
        self.key = key
        self._interaction = interaction
        self._webhooks = current_webhooks()  # made in the bot's tasks: its API base

    @property
    def upload_limit(self) -> int:
        return 0

    async def post(self, reply: Reply) -> str:
        """Followups, one per piece; the id is the first one's."""
        message_id = ""
        with webhooks_via(self._webhooks):
            for outgoing in render(reply):
                sent = await self._interaction.followup.send(
                    outgoing.content, ephemeral=True, allowed_mentions=NO_MENTIONS, wait=True
                )
                message_id = message_id or str(sent.id)
        return message_id

    async def update(self, message_id: str, reply: Reply) -> None:
        first, *rest = render(reply)
        with webhooks_via(self._webhooks):
            await self._interaction.followup.edit_message(
                int(message_id), content=first.content, allowed_mentions=NO_MENTIONS
            )
            for outgoing in rest:
                await self._interaction.followup.send(
                    outgoing.content, ephemeral=True, allowed_mentions=NO_MENTIONS
                )

    async def upload(
        self, filename: str, size: int, chunks: AsyncIterator[bytes], reply: Reply
    ) -> None:
        raise UploadTooLarge(say(DiscordWords.PRIVATE_NO_UPLOAD, reply.language))

    async def set_busy(self, text: str | None) -> None:
        return None

    def open_attachment(self, attachment: Attachment, language: str = "en") -> AsyncIterator[bytes]:
        refuse_files(attachment, language)

    async def find_delivery(self, marker: str) -> bool:
        return False  # videos are never delivered as private answers


def refuse_files(attachment: Attachment, language: str) -> NoReturn:
    """Interactions carry no files the bot could stream: a private answer takes none."""
    raise AttachmentUnavailable(
        say(DiscordWords.PRIVATE_NO_FILES, language, filename=repr(attachment.filename))
    )
