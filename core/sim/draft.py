"""Timeline drafts in the wire format of NEMO_PROTOCOL.md §6, and the edits the agent makes.

A draft is kept as the plain JSON dict the protocol shows (`t` tracks, `tt` track type, `sg`
segments, `d` milliseconds, `m` metadata), so what the state endpoint returns is exactly what the
agent edited. Segment starts are implicit (sequential) unless a segment carries `s`.
"""

from __future__ import annotations

import colorsys
import hashlib
from collections.abc import Iterator
from typing import Any

Json = dict[str, Any]

VIDEO, AUDIO, TEXT = 0, 1, 7
DEFAULT_TITLE_MS = 3000
DEFAULT_TITLE_SIZE = 120


def empty_draft() -> Json:
    return {"t": [], "d": 0, "m": {}}


def colour_for(name: str) -> str:
    """A stable, pleasant colour for a clip name: the same subject always looks the same."""
    digest = hashlib.sha256(name.encode()).digest()
    red, green, blue = colorsys.hls_to_rgb(digest[0] / 255, 0.55, 0.65)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


def spans(track: Json) -> Iterator[tuple[int, int, Json]]:
    """(start ms, end ms, segment) for each segment, honouring explicit `s` offsets."""
    cursor = 0
    for segment in track.get("sg", []):
        start = int(segment.get("s", cursor))
        end = start + int(segment.get("d", 0))
        cursor = end
        yield start, end, segment


def tracks_of(draft: Json, track_type: int) -> list[Json]:
    return [track for track in draft.get("t", []) if track.get("tt") == track_type]


def content_ms(draft: Json) -> int:
    return max((end for track in draft.get("t", []) for _, end, _ in spans(track)), default=0)


def is_exportable(draft: Json) -> bool:
    """Ready to export when some track has a non-empty `sg` (NEMO_PROTOCOL.md §6)."""
    return any(track.get("sg") for track in draft.get("t", []) if isinstance(track, dict))


def canvas_of(draft: Json) -> tuple[int, int]:
    """The frame size: the draft's `width`/`height`, else a `canvas_config` (as the state endpoint
    shows it) on the draft or in its metadata, else 1920x1080."""
    meta = draft.get("m", {})
    config = meta.get("canvas_config") or draft.get("canvas_config") or {}
    if not isinstance(config, dict):
        config = {}
    width = meta.get("width", config.get("width", 1920))
    height = meta.get("height", config.get("height", 1080))
    return int(width), int(height)


def new_draft(
    *, subject: str, title: str, duration_ms: int, size: tuple[int, int], music: Json | None
) -> Json:
    """The draft a generation produces: the clip, its music and a 3-second title."""
    tracks: list[Json] = [
        {
            "tt": VIDEO,
            "sg": [{"d": duration_ms, "m": {"name": subject, "color": colour_for(subject)}}],
        }
    ]
    if music is not None:
        tracks.append({"tt": AUDIO, "sg": [{"d": duration_ms, "m": dict(music)}]})
    tracks.append(
        {"tt": TEXT, "sg": [{"d": min(DEFAULT_TITLE_MS, duration_ms), "m": {"text": title}}]}
    )
    width, height = size
    return {"t": tracks, "d": duration_ms, "m": {"title": title, "width": width, "height": height}}


def set_duration(draft: Json, duration_ms: int) -> None:
    """Trims or stretches to `duration_ms`: the last clip and the music grow, titles are clipped."""
    for track in draft["t"]:
        kept: list[tuple[int, Json]] = []
        for start, end, segment in spans(track):
            if start < duration_ms:
                segment["d"] = min(end, duration_ms) - start
                kept.append((start, segment))
        if track["tt"] in (VIDEO, AUDIO) and kept:
            last_start, last = kept[-1]
            last["d"] = duration_ms - last_start
        track["sg"] = [segment for _, segment in kept]
    draft["d"] = duration_ms


def music_track(draft: Json) -> Json | None:
    found = tracks_of(draft, AUDIO)
    return found[0] if found else None


def set_music(draft: Json, *, name: str | None, volume: int | None) -> None:
    """Changes the background music; with none, adds a track that covers the whole draft."""
    track = music_track(draft)
    if track is None or not track.get("sg"):
        meta = {"name": name or "Ambient", "volume": 100 if volume is None else volume}
        draft["t"].append({"tt": AUDIO, "sg": [{"d": max(draft["d"], 1000), "m": meta}]})
        return
    for segment in track["sg"]:
        if name is not None:
            segment["m"]["name"] = name
        if volume is not None:
            segment["m"]["volume"] = volume


def remove_tracks(draft: Json, track_type: int) -> bool:
    before = len(draft["t"])
    draft["t"] = [track for track in draft["t"] if track.get("tt") != track_type]
    return len(draft["t"]) != before


def set_title(draft: Json, text: str) -> None:
    """Replaces the title text, adding a 3-second title when there is none."""
    titles = tracks_of(draft, TEXT)
    if titles and titles[0].get("sg"):
        titles[0]["sg"][0]["m"]["text"] = text
    else:
        length = min(DEFAULT_TITLE_MS, max(draft["d"], 1000))
        draft["t"].append({"tt": TEXT, "sg": [{"d": length, "m": {"text": text}}]})
    draft["m"]["title"] = text


def scale_title(draft: Json, factor: float) -> int | None:
    """Grows or shrinks every title; returns the new size, or None when there is no title."""
    size: int | None = None
    for track in tracks_of(draft, TEXT):
        for segment in track.get("sg", []):
            size = max(12, round(segment["m"].get("size", DEFAULT_TITLE_SIZE) * factor))
            segment["m"]["size"] = size
    return size


def set_canvas(draft: Json, size: tuple[int, int]) -> None:
    draft["m"]["width"], draft["m"]["height"] = size


def append_clip(draft: Json, *, name: str, duration_ms: int, source: str) -> None:
    """Adds an uploaded video at the end of the first video track."""
    videos = tracks_of(draft, VIDEO)
    if not videos:
        videos = [{"tt": VIDEO, "sg": []}]
        draft["t"].insert(0, videos[0])
    meta = {"name": name, "color": colour_for(name), "source": source}
    videos[0]["sg"].append({"d": duration_ms, "m": meta})
    draft["d"] = max(draft.get("d", 0), content_ms(draft))


def add_music_file(draft: Json, *, name: str, duration_ms: int, source: str) -> None:
    """An uploaded audio file becomes a background-music track."""
    meta = {"name": name, "volume": 100, "source": source}
    draft["t"].append({"tt": AUDIO, "sg": [{"d": duration_ms, "m": meta}]})
    draft["d"] = max(draft.get("d", 0), content_ms(draft))


def summary(draft: Json) -> str:
    """The one-line timeline summary of NEMO_PROTOCOL.md §6, used in the agent's replies."""
    parts: list[str] = []
    for track in draft.get("t", []):
        for start, end, segment in spans(track):
            meta = segment.get("m", {})
            when = f"{start / 1000:g}-{end / 1000:g}s"
            if track["tt"] == VIDEO:
                parts.append(f"Video: {meta.get('name', 'clip')} ({when})")
            elif track["tt"] == AUDIO:
                parts.append(
                    f"BGM: {meta.get('name', 'music')} ({when}, {meta.get('volume', 100)}%)"
                )
            elif track["tt"] == TEXT:
                parts.append(f'Title: "{meta.get("text", "")}" ({when})')
    listed = " ".join(f"{n}. {part}" for n, part in enumerate(parts, 1))
    return f"Timeline ({len(draft.get('t', []))} tracks): {listed}".rstrip()
