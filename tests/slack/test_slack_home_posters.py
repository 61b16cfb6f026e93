"""Posters on Slack's Home tab, end to end over loopback: a delivered video's poster is uploaded
to (fake) Slack once per workspace, private to the bot, and shown beside the video by its
`slack_file` id; every way that can fail still publishes the Home, without the image."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bots.slack.app import serve
from core.sim import LocalBackend
from core.store import RenderJob
from tests.fakes.engine import RecordingEngine
from tests.fakes.slack_api import FakeSlack, Upload
from tests.slack.conftest import BOT_TOKEN, TEAM, USER, FakeRuntime, slack_settings
from tests.slack.test_slack_end_to_end import WAIT, World, world


@pytest.fixture
async def w(slack: FakeSlack, sim: LocalBackend, tmp_path: Path) -> AsyncIterator[World]:
    async with world(slack, sim, tmp_path) as value:
        yield value


def posters_in(view: dict[str, Any]) -> list[str]:
    """The slack_file ids of the images beside the view's sections, top to bottom."""
    return [
        b["accessory"]["slack_file"]["id"]
        for b in view.get("blocks", [])
        if (b.get("accessory") or {}).get("type") == "image"
    ]


def jpegs(slack: FakeSlack) -> list[Upload]:
    return [u for u in slack.uploads if u.filename.endswith(".jpg")]


async def deliver(w: World, prompt: str = "a 3-second video of a sunset") -> RenderJob:
    """A conversation, an export, and the video delivered; the Home refresh it sets off ran."""
    key = await w.mention(prompt)
    await w.settled(key)
    assert (await w.app.click("export", key)).status_code == 200
    await w.slack.wait_for(lambda: any("Your video is ready" in m.all_text for m in w.thread(key)))
    await w.rt.engine.idle(WAIT)
    await w.slack.wait_for(lambda: w.slack.views, WAIT)
    (job,) = await w.rt.store.user_videos("slack", TEAM, USER)
    return job


async def open_home(w: World) -> dict[str, Any]:
    """The Home tab opened; the view Slack took for it."""
    seen = len(w.slack.views)
    event = {"type": "app_home_opened", "user": USER, "channel": "D0HOME", "tab": "home"}
    assert (await w.app.event(event)).status_code == 200
    views: list[dict[str, Any]] = await w.slack.wait_for(lambda: w.slack.views[seen:], WAIT)
    return views[-1]


async def test_a_delivered_videos_home_entry_shows_its_poster_by_slack_file_id(w: World) -> None:
    job = await deliver(w)
    view = await w.slack.wait_for(lambda: [v for v in w.slack.views if posters_in(v)], WAIT)
    (file_id,) = posters_in(view[-1])
    (upload,) = jpegs(w.slack)
    assert upload.file_id == file_id
    stored = await w.rt.store.get_poster(job.id)
    assert stored and upload.data == base64.b64decode(stored)  # the poster the video keeps
    assert upload.data[:3] == b"\xff\xd8\xff"  # a JPEG
    assert upload.completed is not None and not upload.shared  # private: posted in no channel
    assert upload.uploader == BOT_TOKEN  # the bot's, who publishes the Home
    (section,) = [b for b in view[-1]["blocks"] if "accessory" in b]
    assert section["accessory"]["alt_text"] == f"Poster of v{job.version}"
    assert "Open the video" in section["text"]["text"]  # beside its own video's line
    assert await w.rt.store.poster_uploads("slack", TEAM, [job.render_id]) == {
        job.render_id: file_id
    }


async def test_publishing_the_home_twice_uploads_the_poster_once(w: World) -> None:
    await deliver(w)
    first = await w.slack.wait_for(lambda: [v for v in w.slack.views if posters_in(v)], WAIT)
    again = [await open_home(w), await open_home(w)]
    assert [posters_in(v) for v in again] == [posters_in(first[-1])] * 2
    assert len(jpegs(w.slack)) == 1
    calls = w.slack.calls("files.getUploadURLExternal")
    assert sorted(c.args["filename"].rsplit(".", 1)[-1] for c in calls) == ["jpg", "mp4"]


async def test_an_upload_slack_refuses_leaves_the_home_without_the_image_logged_once(
    w: World, caplog: pytest.LogCaptureFixture
) -> None:
    w.slack.upload_refusals[".jpg"] = 413
    with caplog.at_level(logging.INFO, logger="jupiter.slack"):
        await deliver(w)
        later = await open_home(w)
    assert all(posters_in(v) == [] for v in w.slack.views)
    assert "Open the video" in str(later)  # the video is listed all the same
    (refused,) = jpegs(w.slack)  # tried once, not again by the second publish
    assert refused.completed is None
    notes = [r.getMessage() for r in caplog.records if "poster not uploaded" in r.getMessage()]
    assert notes == ["poster not uploaded: HTTP 413"]
    assert BOT_TOKEN not in caplog.text


async def test_a_workspace_without_files_write_gets_a_home_without_posters(
    w: World, caplog: pytest.LogCaptureFixture
) -> None:
    w.slack.scopes.discard("files:write")
    with caplog.at_level(logging.INFO, logger="jupiter.slack"):
        await deliver(w)
        asked = len(w.slack.calls("files.getUploadURLExternal"))
        later = await open_home(w)
    assert posters_in(later) == [] and "Open the video" in str(later)
    assert len(w.slack.calls("files.getUploadURLExternal")) == asked  # not asked again
    notes = [r.getMessage() for r in caplog.records if "posters not uploaded" in r.getMessage()]
    assert notes == ["posters not uploaded in this workspace, Home without images: missing_scope"]


async def test_a_file_slack_no_longer_knows_falls_back_and_is_uploaded_again(w: World) -> None:
    job = await deliver(w)
    view = await w.slack.wait_for(lambda: [v for v in w.slack.views if posters_in(v)], WAIT)
    (old,) = posters_in(view[-1])
    w.slack.delete_file(old)  # an admin deleted it in Slack
    store = w.rt.store  # uploaded long ago: past the grace Slack gets to process a new file
    await store.forget_poster_uploads("slack", TEAM, [old], time.time() + 1)
    await store.put_poster_upload("slack", TEAM, job.render_id, old, now=time.time() - 3600)
    publishes = len(w.slack.calls("views.publish"))

    fallback = await open_home(w)
    assert posters_in(fallback) == [] and "Open the video" in str(fallback)
    refused, taken = w.slack.calls("views.publish")[publishes:]
    assert old in str(refused.args["view"])  # refused with it, published without it
    assert await store.poster_uploads("slack", TEAM, [job.render_id]) == {}  # forgotten

    (new,) = posters_in(await open_home(w))  # the next Home uploads the poster again
    assert new != old and len(jpegs(w.slack)) == 2


async def test_a_fresh_file_slack_refuses_is_kept_for_the_next_home(w: World) -> None:
    """Slack processes an upload asynchronously: a file refused within the grace is kept."""
    job = await deliver(w)
    await w.slack.wait_for(lambda: [v for v in w.slack.views if posters_in(v)], WAIT)
    (file_id,) = (await w.rt.store.poster_uploads("slack", TEAM, [job.render_id])).values()
    w.slack.delete_file(file_id)
    assert posters_in(await open_home(w)) == []
    assert await w.rt.store.poster_uploads("slack", TEAM, [job.render_id]) == {
        job.render_id: file_id
    }
    assert len(jpegs(w.slack)) == 1


async def test_an_unknown_file_id_in_the_store_falls_back(w: World) -> None:
    job = await deliver(w)
    await w.slack.wait_for(lambda: [v for v in w.slack.views if posters_in(v)], WAIT)
    store = w.rt.store
    await store.forget_poster_uploads("slack", TEAM, posters_in(w.slack.views[-1]), time.time() + 1)
    await store.put_poster_upload("slack", TEAM, job.render_id, "F0NOSUCH01", now=0)
    home = await open_home(w)
    assert posters_in(home) == [] and "Open the video" in str(home)
    assert [c for c in w.slack.calls("views.publish") if "F0NOSUCH01" in str(c.args["view"])]
    assert await store.poster_uploads("slack", TEAM, [job.render_id]) == {}  # forgotten


async def test_a_token_without_files_write_starts_and_is_warned_about(
    slack: FakeSlack, http: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    slack.scopes.discard("files:write")
    settings = slack_settings(
        slack, tmp_path, slack_signing_secret=None, slack_app_token=slack.app_token
    )
    rt = FakeRuntime(settings, http, RecordingEngine())
    with caplog.at_level(logging.WARNING, logger="jupiter.slack"):
        serving = asyncio.create_task(serve(rt, rt.settings))
        try:
            await slack.wait_for(lambda: slack.sockets, 10)  # serving: start-up went on
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
    (warning,) = [r.getMessage() for r in caplog.records if "lacks" in r.getMessage()]
    assert "files:write" in warning and "chat:write" not in warning
    assert BOT_TOKEN not in caplog.text
