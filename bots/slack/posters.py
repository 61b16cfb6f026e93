"""Posters on the Home tab: Block Kit shows an image from a public `image_url` or a Slack-hosted
file (`slack_file`), and a poster has no public URL, so each video's JPEG is uploaded to Slack
once per workspace and shown by its file id.

What must hold:
- a poster is uploaded once per workspace and video (`files_upload_v2`: files.getUploadURLExternal,
  the bytes POSTed to the returned URL, files.completeUploadExternal with no channel, so the file
  is private to the bot, who publishes the Home), its file id kept in the store and reused by
  every publish, by any replica;
- the Home never waits on Slack for it nor breaks over it: an upload that fails (an error code,
  an upload URL that answers 413, a network error) leaves that video without an image and is not
  tried again by this process; a workspace that refuses uploads altogether (no `files:write`,
  uploads disabled) is not asked again by this process; each is logged once, by Slack's error
  code or the exception's class, never a token;
- a view Slack refuses over a `slack_file` (`invalid_blocks` with a json-pointer to it: the file
  was deleted, or Slack is still processing a fresh upload) is published again without those
  images; a refused file older than `PROCESSING_GRACE_SECONDS` is forgotten, so the next publish
  uploads that poster again, while a fresher one is kept for the next publish to show.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
import re
import time
from collections.abc import Sequence
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from core.store import RenderJob

from .incoming import PLATFORM
from .thread import slack_error

log = logging.getLogger("jupiter.slack")

PROCESSING_GRACE_SECONDS = 60.0  # Slack processes an upload asynchronously; give it this long
FAILED_REMEMBERED = 10_000  # (workspace, video) pairs whose upload failed, before starting over
# Answers that mean this app may not upload in this workspace at all (not about one poster).
UPLOADS_REFUSED = frozenset(
    {
        "missing_scope",
        "not_allowed_token_type",
        "no_permission",
        "file_uploads_disabled",
        "team_access_not_granted",
        "restricted_action",
        "ekm_access_denied",
    }
)
_POINTER = re.compile(r"json-pointer:/blocks/(\d+)/(?:accessory/)?slack_file")


class PosterStore(Protocol):
    async def get_poster(self, job_id: int) -> str | None: ...

    async def poster_uploads(
        self, platform: str, tenant: str, render_ids: Sequence[str]
    ) -> dict[str, str]: ...

    async def put_poster_upload(
        self, platform: str, tenant: str, render_id: str, file_id: str, *, now: float | None = None
    ) -> str: ...

    async def forget_poster_uploads(
        self, platform: str, tenant: str, file_ids: Sequence[str], uploaded_before: float
    ) -> int: ...


class HomePosters:
    """The Slack file ids of videos' posters, uploading the missing ones; shared by publishes."""

    def __init__(
        self, store: PosterStore, *, grace_seconds: float = PROCESSING_GRACE_SECONDS
    ) -> None:
        self._store = store
        self._grace = grace_seconds
        self._refused: set[str] = set()  # workspaces that refuse uploads
        self._failed: set[tuple[str, str]] = set()  # (workspace, render id) not uploaded
        self._locks: dict[str, asyncio.Lock] = {}  # one uploader per workspace at a time

    async def file_ids(
        self, client: AsyncWebClient, tenant: str, videos: Sequence[RenderJob]
    ) -> dict[str, str]:
        """render id -> Slack file id for `videos`, uploading the posters not uploaded yet."""
        ids = [job.render_id for job in videos]
        known = await self._store.poster_uploads(PLATFORM, tenant, ids)
        if tenant in self._refused or all(
            job.render_id in known or (tenant, job.render_id) in self._failed for job in videos
        ):
            return known
        async with self._locks.setdefault(tenant, asyncio.Lock()):
            known = await self._store.poster_uploads(PLATFORM, tenant, ids)  # another's, meanwhile
            for job in videos:
                if tenant in self._refused:
                    break
                if job.render_id not in known and (tenant, job.render_id) not in self._failed:
                    file_id = await self._upload(client, tenant, job)
                    if file_id is not None:
                        known[job.render_id] = file_id
        return known

    async def _upload(self, client: AsyncWebClient, tenant: str, job: RenderJob) -> str | None:
        stored = await self._store.get_poster(job.id)
        if not stored:
            self._fail(tenant, job.render_id)  # no poster was made for it: nothing to show
            return None
        name = f"jupiter-{job.render_id}.jpg"
        try:
            answer = await client.files_upload_v2(
                file=base64.b64decode(stored), filename=name, title=name
            )
            file_id = str((answer.get("file") or {}).get("id") or "")
        except SlackApiError as exc:
            code = slack_error(exc)
            if code in UPLOADS_REFUSED:
                self._refused.add(tenant)
                log.info("posters not uploaded in this workspace, Home without images: %s", code)
            else:
                self._fail(tenant, job.render_id)
                log.info("poster not uploaded: %s", code, extra={"render": job.render_id})
            return None
        except Exception as exc:  # the upload POST (413, ...), the network: no image this time
            self._fail(tenant, job.render_id)
            log.info("poster not uploaded: %s", _why(exc), extra={"render": job.render_id})
            return None
        if not file_id:
            self._fail(tenant, job.render_id)
            return None
        return await self._store.put_poster_upload(PLATFORM, tenant, job.render_id, file_id)

    def _fail(self, tenant: str, render_id: str) -> None:
        if len(self._failed) >= FAILED_REMEMBERED:
            self._failed.clear()
        self._failed.add((tenant, render_id))

    async def publish(
        self, client: AsyncWebClient, tenant: str, user: str, view: dict[str, Any]
    ) -> None:
        """`views.publish`; a view refused over its posters goes out again without them."""
        try:
            await client.views_publish(user_id=user, view=view)
            return
        except SlackApiError as exc:
            refused = refused_files(exc, view)
            if not refused:
                raise
        log.info("home published without %d poster(s) Slack refused", len(refused))
        cutoff = time.time() - self._grace
        await self._store.forget_poster_uploads(PLATFORM, tenant, sorted(refused), cutoff)
        await client.views_publish(user_id=user, view=without_images(view, refused))


def _why(exc: BaseException) -> str:
    """What to log of a failed upload: the upload URL's HTTP status where slack_sdk gives one
    (its message also names the URL and the body), else the exception's class."""
    found = re.search(r"status: (\d+)", str(exc)) if isinstance(exc, SlackRequestError) else None
    return f"HTTP {found.group(1)}" if found else exc.__class__.__name__


def _image_file(block: dict[str, Any]) -> str | None:
    accessory = block.get("accessory") or {}
    if accessory.get("type") != "image":
        return None
    file_id = (accessory.get("slack_file") or {}).get("id")
    return str(file_id) if file_id else None


def refused_files(exc: SlackApiError, view: dict[str, Any]) -> set[str]:
    """The view's poster file ids Slack refused: those its `invalid_blocks` errors point at, or
    every poster when they point nowhere; empty when the refusal is not about a poster."""
    if slack_error(exc) != "invalid_blocks":
        return set()
    blocks: list[dict[str, Any]] = view.get("blocks") or []
    posters = {i: f for i, b in enumerate(blocks) if (f := _image_file(b)) is not None}
    errors = [str(e) for e in exc.response.get("errors") or []]
    pointed = {int(m.group(1)) for e in errors if (m := _POINTER.search(e))}
    chosen = {posters[i] for i in pointed if i in posters}
    return chosen or set(posters.values())


def without_images(view: dict[str, Any], file_ids: set[str]) -> dict[str, Any]:
    """A copy of `view` whose sections show none of `file_ids`."""
    clean = copy.deepcopy(view)
    for block in clean.get("blocks") or []:
        if _image_file(block) in file_ids:
            del block["accessory"]
    return clean
