"""Uploads (§4) and renders (§7): streamed multipart, URL uploads, real MP4 exports."""

from __future__ import annotations

import asyncio

import av
import httpx
import pytest

from core.sim import Faults, LocalBackend
from core.sim.render import encode
from tests.sim.conftest import ATTRIBUTION

OUTPUT = {"format": "mp4", "quality": "high"}

CHUNK = b"\0" * 65536


async def _chunks(total: int):
    sent = 0
    while sent < total:
        piece = CHUNK[: min(len(CHUNK), total - sent)]
        sent += len(piece)
        yield piece


async def _multipart(files: list[tuple[str, object]], boundary: str = "simboundary"):
    """A multipart body produced piece by piece, so nothing large is held in memory."""
    for name, payload in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        yield head.encode()
        if isinstance(payload, bytes):
            yield payload
        else:
            async for piece in payload:  # type: ignore[attr-defined]
                yield piece
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def _headers(nemo, token, boundary="simboundary"):
    return nemo.auth(token, **{"Content-Type": f"multipart/form-data; boundary={boundary}"})


async def test_streamed_upload_of_a_real_video(nemo, http, tmp_path):
    token, session = await nemo.start()
    clip = tmp_path / "beach.mp4"
    draft = {"t": [{"tt": 0, "sg": [{"d": 4000, "m": {"name": "x"}}]}], "d": 4000, "m": {}}
    await asyncio.to_thread(lambda: encode(draft, clip, long_side=320))
    body = _multipart([("beach.mp4", clip.read_bytes()), ("notes.txt", _chunks(300_000))])
    url = f"/api/upload-video/nemo_agent/me/{session}"
    reply = await http.post(url, headers=_headers(nemo, token), content=body)
    data = reply.json()["data"]
    assert data["session_state_applied"] is True
    video, notes = data["files"]
    assert (video["filename"], video["file_type"]) == ("beach.mp4", "video")
    assert video["duration"] == pytest.approx(4.0, abs=0.1)
    assert (video["width"], video["height"]) == (320, 180)
    assert notes["file_type"] == "document" and notes["duration"] is None
    served = await http.get(video["cdn_url"])
    assert served.status_code == 200 and served.content == clip.read_bytes()

    state = await nemo.state(token, session)
    assert [info["filename"] for info in state["video_infos"]] == ["beach.mp4", "notes.txt"]
    segment = state["draft"]["t"][0]["sg"][0]
    assert state["draft"]["t"][0]["tt"] == 0 and segment["d"] == pytest.approx(4000, abs=100)


async def test_audio_upload_becomes_music(nemo, http):
    token, session = await nemo.start()
    body = _multipart([("../Chanson d'été.mp3", b"not really an mp3")])
    url = f"/api/upload-video/nemo_agent/me/{session}"
    file = (await http.post(url, headers=_headers(nemo, token), content=body)).json()["data"]
    assert file["files"][0]["filename"] == "Chanson d'été.mp3"
    assert file["files"][0]["file_type"] == "audio" and file["files"][0]["duration"] > 0
    served = await http.get(file["files"][0]["cdn_url"])
    assert served.content == b"not really an mp3"
    draft = (await nemo.state(token, session))["draft"]
    assert [track["tt"] for track in draft["t"]] == [1]


async def test_unsupported_type_is_4001(nemo, http):
    token, session = await nemo.start()
    body = _multipart([("virus.exe", b"MZ")])
    url = f"/api/upload-video/nemo_agent/me/{session}"
    reply = await http.post(url, headers=_headers(nemo, token), content=body)
    assert reply.json()["code"] == 4001 and "unsupported" in reply.json()["message"]
    state = await nemo.state(token, session)
    assert state["video_infos"] == []


async def test_too_large_is_4002_while_streaming():
    async with LocalBackend(seed=1, max_upload_bytes=1_000_000) as backend:
        async with httpx.AsyncClient(
            base_url=backend.base_url, timeout=20, headers=ATTRIBUTION
        ) as http:
            token = (
                await http.post("/api/auth/anonymous-token", headers={"X-Client-Id": "big"})
            ).json()["data"]["token"]
            auth = {"Authorization": f"Bearer {token}"}
            session = (
                await http.post("/api/tasks/me/with-session/nemo_agent", headers=auth, json={})
            ).json()["data"]["session_id"]
            url = f"/api/upload-video/nemo_agent/me/{session}"
            headers = {**auth, "Content-Type": "multipart/form-data; boundary=simboundary"}
            body = _multipart([("huge.mp4", _chunks(1_500_000))])  # chunked: no Content-Length
            reply = await http.post(url, headers=headers, content=body)
            assert reply.json()["code"] == 4002
            declared = {**headers, "Content-Length": str(5_000_000)}
            early = await http.post(url, headers=declared, content=b"x" * 5_000_000)
            assert early.json()["code"] == 4002
            small = _multipart([("ok.png", b"png")])
            assert (await http.post(url, headers=headers, content=small)).json()["code"] == 0


async def test_url_upload_takes_name_and_type_from_the_url(nemo, http):
    token, session = await nemo.start()
    url = f"/api/upload-video/nemo_agent/me/{session}"
    body = {"urls": ["https://cdn.example.test/a/My%20Clip.mov?sig=1"], "source_type": "url"}
    file = (await http.post(url, headers=nemo.auth(token), json=body)).json()["data"]["files"][0]
    assert (file["filename"], file["file_type"]) == ("My Clip.mov", "video")
    assert file["cdn_url"].startswith("https://cdn.example.test/")
    bad = await http.post(url, headers=nemo.auth(token), json={"urls": ["https://x.test/a.exe"]})
    assert bad.json()["code"] == 4001
    empty = await http.post(url, headers=nemo.auth(token), json={"urls": []})
    assert empty.status_code == 422


async def test_export_produces_a_real_mp4(nemo, http, tmp_path):
    token, session = await nemo.start(await nemo.api_token())
    await nemo.turn(token, session, "a 12-second video of a sunset over mountains, music at 35%")
    draft = (await nemo.state(token, session))["draft"]
    started = await nemo.export(token, session, "render_100")
    assert started.json() == {
        "success": True,
        "data": {"id": "render_100", "status": "pending", "progress": 5},
    }
    seen = await nemo.wait_render(token, "render_100")
    final = seen[-1]
    assert nemo.render_status(final) == "completed"
    statuses = [nemo.render_status(body) for body in seen]
    assert statuses[-1] == "completed" and set(statuses) <= {"pending", "processing", "completed"}
    # both layouts: poll again to see the other one
    again = (await http.get("/api/render/proxy/lambda/render_100", headers=nemo.auth(token))).json()
    layouts = {"data" in final, "data" in again}
    assert layouts == {True, False}
    flat = again if "output" in again else final
    assert flat["progress"] == 100 and flat["output"]["duration"] == pytest.approx(12.0, abs=0.1)

    url = nemo.render_url(final)
    assert url == f"{http.base_url}/_sim/media/render_100.mp4".replace("//_sim", "/_sim")
    video = await http.get(url)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert len(video.content) == flat["output"]["size"]
    part = await http.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100

    path = tmp_path / "out.mp4"
    path.write_bytes(video.content)
    with av.open(str(path)) as container:
        assert "mp4" in container.format.name
        streams = {stream.type: stream for stream in container.streams}
        assert streams["video"].codec_context.name == "h264"
        assert streams["audio"].codec_context.name == "aac"
        assert container.duration / 1_000_000 == pytest.approx(draft["d"] / 1000, abs=0.1)
        width, height = streams["video"].codec_context.width, streams["video"].codec_context.height
        assert width == 320 and height == 180


async def test_export_errors(nemo, http):
    token, session = await nemo.start(await nemo.api_token())
    empty = await nemo.export(token, session, "render_empty")
    assert empty.status_code == 400 and empty.json()["success"] is False
    assert "empty" in empty.json()["error"]

    await nemo.turn(token, session, "a sunset over mountains")
    draft = (await nemo.state(token, session))["draft"]
    bare = {"id": "render_bare", "sessionId": session, "draft": draft}
    anonymous, _ = await nemo.token("anonymous-exporter")  # no render scope
    blocked = await http.post("/api/render/proxy/lambda", headers=nemo.auth(anonymous), json=bare)
    assert blocked.status_code == 402 and blocked.json()["code"] == 402

    assert (await nemo.export(token, session, "render_dup")).json()["success"] is True
    duplicate = await nemo.export(token, session, "render_dup")
    assert duplicate.status_code == 409
    assert duplicate.json() == {"success": False, "error": "duplicate render id"}

    endless = {**draft, "d": 10_000_000}
    too_long = {"id": "render_long", "sessionId": session, "draft": endless, "output": OUTPUT}
    headers = nemo.auth(token, **nemo.ATTRIBUTION)
    assert (await http.post("/api/render/proxy/lambda", headers=headers, json=too_long)).json()[
        "success"
    ]
    failed = (await nemo.wait_render(token, "render_long"))[-1]
    assert nemo.render_status(failed) == "failed"
    assert "1800" in failed.get("data", failed)["error"]

    missing = await http.get("/api/render/proxy/lambda/render_nope", headers=nemo.auth(token))
    assert missing.status_code == 404 and missing.json() == {"detail": "Render not found"}
    assert (await http.get("/_sim/media/render_nope.mp4")).status_code == 404


async def test_render_fail_and_cancel(nemo, http, backend):
    token, session = await nemo.start(await nemo.api_token())
    await nemo.turn(token, session, "a sunset over mountains")
    await nemo.faults(render_fail=True)
    await nemo.export(token, session, "render_bad")
    final = (await nemo.wait_render(token, "render_bad"))[-1]
    assert nemo.render_status(final) == "failed"
    assert "fail" in (final.get("data", final)).get("error", "")

    await nemo.faults(render_fail=False, render_seconds=30)
    await nemo.export(token, session, "render_cancel")
    cancelled = await http.post(
        "/api/render/proxy/lambda/render_cancel/cancel", headers=nemo.auth(token)
    )
    assert cancelled.json()["success"] is True
    assert cancelled.json()["data"]["status"] == "failed" and cancelled.json()["data"]["error"]
    final = (await nemo.wait_render(token, "render_cancel"))[-1]
    assert nemo.render_status(final) == "failed"


async def test_media_survives_in_a_given_media_dir(tmp_path, nemo_class):
    faults = Faults(turn_seconds=0, render_seconds=0)
    async with LocalBackend(seed=2, faults=faults, media_dir=tmp_path) as backend:
        async with httpx.AsyncClient(base_url=backend.base_url, headers=ATTRIBUTION) as http:
            nemo = nemo_class(http)
            token, session = await nemo.start(await nemo.api_token())
            await nemo.turn(token, session, "a short video of waves")
            await nemo.export(token, session, "render_keep")
            await nemo.wait_render(token, "render_keep")
    assert (tmp_path / "render_keep.mp4").stat().st_size > 1000


async def test_api_tokens_are_registered_users(nemo_class):
    faults = Faults(turn_seconds=0, render_seconds=0)
    async with LocalBackend(seed=4, faults=faults, api_tokens=["nmv_usr_deploy"]) as backend:
        async with httpx.AsyncClient(base_url=backend.base_url, headers=ATTRIBUTION) as http:
            nemo = nemo_class(http)
            token, session = await nemo.start("nmv_usr_deploy")
            assert (await nemo.balance(token))["available"] == 10_000
            await nemo.turn(token, session, "a sunset over mountains")
            draft = (await nemo.state(token, session))["draft"]
            body = {"id": "render_paid", "sessionId": session, "draft": draft, "output": OUTPUT}
            plain = await http.post("/api/render/proxy/lambda", headers=nemo.auth(token), json=body)
            assert plain.json()["success"] is True  # an API token carries the render scope
