"""`POST /api/upload-video/nemo_agent/me/<sid>`: files streamed to disk, or URLs taken by name.

Uploads may be up to 500 MB, so a multipart body is read chunk by chunk straight into a file and
counted as it goes; a declared Content-Length over the limit is refused before reading anything.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import av
from aiohttp import BodyPartReader, web
from PIL import Image

from core.sim import draft as drafts
from core.sim.accounts import Session
from core.sim.state import SESSION_ERROR, STATE, TOKEN_ERROR, SimState, fail, ok, unprocessable

MAX_UPLOAD_BYTES = 500 * 1024 * 1024
MULTIPART_MARGIN = 64 * 1024
CHUNK = 256 * 1024
KINDS = {
    **dict.fromkeys(("mp4", "mov", "avi", "webm", "mkv"), "video"),
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "webp"), "image"),
    **dict.fromkeys(("mp3", "wav", "m4a", "aac"), "audio"),
    **dict.fromkeys(("txt", "docx", "pdf"), "document"),
}
GUESSES: dict[str, dict[str, Any]] = {
    "video": {"duration": 10.0, "width": 1920, "height": 1080},
    "image": {"duration": None, "width": 1920, "height": 1080},
    "audio": {"duration": 30.0, "width": None, "height": None},
    "document": {"duration": None, "width": None, "height": None},
}

routes = web.RouteTableDef()


class UploadRefused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.body = {"code": code, "message": message}


def _kind(filename: str) -> str:
    extension = PurePosixPath(filename).suffix.lower().lstrip(".")
    if extension not in KINDS:
        accepted = " ".join(KINDS)
        raise UploadRefused(
            4001, f"unsupported file type .{extension or '?'} (accepted: {accepted})"
        )
    return KINDS[extension]


def _base_name(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).name


def _disk_name(filename: str) -> str:
    """The name stored and served: ASCII, no path, never hidden."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", _base_name(filename)).lstrip(".") or "upload"


def _too_large(limit: int) -> UploadRefused:
    return UploadRefused(4002, f"file too large: the limit is {limit // (1024 * 1024)} MB")


def probe(path: Path, kind: str) -> dict[str, Any]:
    """Duration and size read from the file's headers when it is a real one; else a guess."""
    facts = dict(GUESSES[kind])
    try:
        if kind == "image":
            with Image.open(path) as image:
                facts["width"], facts["height"] = image.size
        elif kind in ("video", "audio"):
            with av.open(str(path)) as container:
                if container.duration:
                    facts["duration"] = round(container.duration / 1_000_000, 3)
                if kind == "video" and container.streams.video:
                    stream = container.streams.video[0]
                    facts["width"], facts["height"] = stream.width, stream.height
    except Exception:  # anything unreadable keeps the plausible guess
        pass
    return facts


async def _receive(part: BodyPartReader, target: Path, limit: int) -> None:
    size = 0
    with target.open("wb") as sink:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            await asyncio.to_thread(sink.write, chunk)


async def _multipart(request: web.Request, state: SimState, limit: int) -> list[dict[str, Any]]:
    reader = await request.multipart()
    files: list[dict[str, Any]] = []
    folders: list[Path] = []
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != "files" or not part.filename:
                await part.release()
                continue
            kind = _kind(part.filename)
            upload_id = f"up_{state.count('upload') + 1}"
            name = _disk_name(part.filename)
            folders.append(state.media_dir / "uploads" / upload_id)
            folders[-1].mkdir(parents=True)
            await _receive(part, folders[-1] / name, limit)
            facts = await asyncio.to_thread(probe, folders[-1] / name, kind)
            url = state.media_url(request, f"uploads/{upload_id}/{name}")
            shown = _base_name(part.filename)
            files.append({"filename": shown, "file_type": kind, "cdn_url": url, **facts})
    except BaseException:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return files


def _from_urls(body: Any) -> list[dict[str, Any]]:
    urls = body.get("urls") if isinstance(body, dict) else None
    if (
        not isinstance(urls, list)
        or not urls
        or not all(
            isinstance(url, str) and urlsplit(url).scheme in ("http", "https") for url in urls
        )
    ):
        raise ValueError("urls must be a non-empty list of http(s) URLs")
    files = []
    for url in urls:
        name = unquote(PurePosixPath(urlsplit(url).path).name) or "download"
        kind = _kind(name)
        files.append({"filename": name, "file_type": kind, "cdn_url": url, **GUESSES[kind]})
    return files


def _apply(session: Session, files: list[dict[str, Any]]) -> None:
    """Uploaded videos join the timeline's video track; audio becomes background music."""
    for info in files:
        session.video_infos.append(info)
        duration = info.get("duration")
        stem = PurePosixPath(info["filename"]).stem
        if info["file_type"] == "video":
            if not session.draft["t"]:
                session.draft["m"].update(
                    width=info["width"] or 1920, height=info["height"] or 1080
                )
            drafts.append_clip(
                session.draft,
                name=stem,
                duration_ms=round((duration or 10) * 1000),
                source=info["cdn_url"],
            )
        elif info["file_type"] == "audio":
            drafts.add_music_file(
                session.draft,
                name=stem,
                duration_ms=round((duration or 30) * 1000),
                source=info["cdn_url"],
            )


@routes.post("/api/upload-video/nemo_agent/me/{session_id}")
async def upload(request: web.Request) -> web.Response:
    state = request.app[STATE]
    token = state.token_for(request)
    if token is None:
        return fail(TOKEN_ERROR)
    session = state.accounts.session(request.match_info["session_id"], token.user)
    if session is None:
        return fail(SESSION_ERROR)
    limit = state.max_upload_bytes
    try:
        if request.content_type == "multipart/form-data":
            if (request.content_length or 0) > limit + MULTIPART_MARGIN:
                raise _too_large(limit)
            files = await _multipart(request, state, limit)
        elif request.content_type == "application/json":
            try:
                files = _from_urls(await request.json())
            except ValueError as exc:
                return unprocessable(
                    [{"type": "value_error", "loc": ["body", "urls"], "msg": str(exc)}]
                )
        else:
            problem = "send multipart/form-data with field 'files', or JSON {'urls': [...]}"
            return unprocessable([{"type": "missing", "loc": ["body", "files"], "msg": problem}])
    except UploadRefused as refused:
        return fail(refused.body)
    if not files:
        return unprocessable(
            [{"type": "missing", "loc": ["body", "files"], "msg": "Field required"}]
        )
    _apply(session, files)
    return ok({"files": files, "session_state_applied": True})
