"""Turning a draft into a real, small MP4: H.264 video and an AAC tone, via PyAV and Pillow.

The point is a file any player and any MP4 check accept, with the draft's duration and aspect,
made in a few seconds: 320 px on the long side, 12 fps, x264's ultrafast preset, and a sine tone
per music track sliced from a precomputed one-second table (integer frequencies repeat exactly
every second), so no per-sample maths runs per frame.
"""

from __future__ import annotations

import hashlib
import math
import threading
from array import array
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

from core.sim import draft as drafts
from core.sim.draft import Json

LONG_SIDE = 320
FPS = 12
SAMPLE_RATE = 22_050
AUDIO_FRAME = 1024
TONE_LEVEL = 0.25
MAX_SECONDS = 1800


class RenderCancelled(Exception):
    """The render was cancelled while encoding."""


@dataclass(frozen=True)
class Shot:
    start: float
    end: float
    colour: tuple[int, int, int]
    name: str


@dataclass(frozen=True)
class Caption:
    start: float
    end: float
    text: str
    size: float  # in output pixels


@dataclass(frozen=True)
class Tone:
    start: float
    end: float
    hertz: int
    volume: int


@dataclass(frozen=True)
class Plan:
    width: int
    height: int
    seconds: float
    shots: tuple[Shot, ...]
    captions: tuple[Caption, ...]
    tones: tuple[Tone, ...]


def _rgb(value: object, name: str) -> tuple[int, int, int]:
    text = value if isinstance(value, str) else drafts.colour_for(name)
    try:
        return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)
    except (ValueError, IndexError):
        return _rgb(drafts.colour_for(name), name)


def plan(draft: Json) -> Plan:
    """What to draw and play, in output pixels and seconds; raises ValueError on a broken draft."""
    canvas_w, canvas_h = drafts.canvas_of(draft)
    if canvas_w <= 0 or canvas_h <= 0:
        raise ValueError(f"bad canvas {canvas_w}x{canvas_h}")
    scale = LONG_SIDE / max(canvas_w, canvas_h)
    width, height = (max(2, 2 * round(side * scale / 2)) for side in (canvas_w, canvas_h))
    seconds = (int(draft.get("d") or 0) or drafts.content_ms(draft)) / 1000
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(
            f"the draft lasts {seconds:g} s; the local renderer takes 0-{MAX_SECONDS} s"
        )
    shots, captions, tones = [], [], []
    for track in draft.get("t", []):
        for start, end, segment in drafts.spans(track):
            meta = segment.get("m", {})
            when = (start / 1000, end / 1000)
            if track.get("tt") == drafts.VIDEO:
                name = str(meta.get("name", "clip"))
                shots.append(Shot(*when, _rgb(meta.get("color"), name), name))
            elif track.get("tt") == drafts.TEXT:
                size = float(meta.get("size", drafts.DEFAULT_TITLE_SIZE)) * scale
                captions.append(Caption(*when, str(meta.get("text", "")), max(8.0, size)))
            elif track.get("tt") == drafts.AUDIO:
                name = str(meta.get("name", "music"))
                hertz = 220 + hashlib.sha256(name.encode()).digest()[0] % 220
                tones.append(Tone(*when, hertz, int(meta.get("volume", 100))))
    return Plan(width, height, seconds, tuple(shots), tuple(captions), tuple(tones))


class _Painter:
    """Draws frames: the current shot's colour with a light disc sweeping across, and titles."""

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._fonts: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}

    def _font(self, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        if size not in self._fonts:
            self._fonts[size] = ImageFont.load_default(size=size)
        return self._fonts[size]

    def frame(self, at: float) -> Image.Image:
        plan = self._plan
        shot = next((s for s in plan.shots if s.start <= at < s.end), None)
        image = Image.new("RGB", (plan.width, plan.height), shot.colour if shot else (0, 0, 0))
        draw = ImageDraw.Draw(image)
        if shot is not None:
            radius = min(plan.width, plan.height) // 5
            phase = (at - shot.start) / max(shot.end - shot.start, 0.001)
            x = int(-radius + phase * (plan.width + 2 * radius))
            y = plan.height // 2 + int(math.sin(at * 2) * plan.height / 8)
            glow = tuple(min(255, c + 70) for c in shot.colour)
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=glow)
        for caption in plan.captions:
            if caption.start <= at < caption.end and caption.text:
                self._caption(draw, caption)
        return image

    def _caption(self, draw: ImageDraw.ImageDraw, caption: Caption) -> None:
        size = int(caption.size)
        font = self._font(size)
        while size > 8 and draw.textlength(caption.text, font=font) > self._plan.width * 0.9:
            size = int(size * 0.85)
            font = self._font(size)
        centre = (self._plan.width / 2, self._plan.height / 2)
        draw.text(
            (centre[0] + 1, centre[1] + 1), caption.text, font=font, fill="black", anchor="mm"
        )
        draw.text(centre, caption.text, font=font, fill="white", anchor="mm")


class _Mixer:
    """16-bit mono PCM for [first, first + count) samples: the sum of the tones playing."""

    def __init__(self, tones: tuple[Tone, ...]) -> None:
        self._tones = tones
        self._tables: dict[tuple[int, int], array[int]] = {}

    def _table(self, tone: Tone) -> array[int]:
        key = (tone.hertz, tone.volume)
        if key not in self._tables:
            amplitude = 32767 * TONE_LEVEL * max(0, min(tone.volume, 100)) / 100
            step = 2 * math.pi * tone.hertz / SAMPLE_RATE
            second = array("h", (round(amplitude * math.sin(step * n)) for n in range(SAMPLE_RATE)))
            self._tables[key] = second + second
        return self._tables[key]

    def pcm(self, first: int, count: int) -> bytes:
        at = first / SAMPLE_RATE
        playing = [t for t in self._tones if t.start <= at < t.end and t.volume > 0]
        if not playing:
            return bytes(2 * count)
        offset = first % SAMPLE_RATE
        if len(playing) == 1:
            return self._table(playing[0])[offset : offset + count].tobytes()
        mixed = array("h", bytes(2 * count))
        for tone in playing:
            table = self._table(tone)
            for n in range(count):
                mixed[n] = max(-32768, min(32767, mixed[n] + table[offset + n]))
        return mixed.tobytes()


def encode(draft: Json, path: Path, cancelled: threading.Event | None = None) -> float:
    """Writes the MP4 for `draft` to `path`; returns its duration in seconds. Blocking."""
    sketch = plan(draft)
    frames = max(1, round(sketch.seconds * FPS))
    samples = round(sketch.seconds * SAMPLE_RATE)
    painter, mixer = _Painter(sketch), _Mixer(sketch.tones)
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = sketch.width, sketch.height, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "30"}
        audio = None
        if sketch.tones:
            audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
            audio.bit_rate = 48_000
        written = 0
        for index in range(frames):
            if cancelled is not None and cancelled.is_set():
                raise RenderCancelled("render cancelled")
            picture = av.VideoFrame.from_image(painter.frame(index / FPS))  # type: ignore[no-untyped-call]
            picture.pts = index
            picture.time_base = Fraction(1, FPS)
            container.mux(video.encode(picture))
            until = min(samples, round((index + 1) * SAMPLE_RATE / FPS))
            while audio is not None and written < until:
                count = min(AUDIO_FRAME, samples - written)
                chunk = av.AudioFrame(format="s16", layout="mono", samples=count)
                chunk.planes[0].update(mixer.pcm(written, count))
                chunk.sample_rate, chunk.pts = SAMPLE_RATE, written
                chunk.time_base = Fraction(1, SAMPLE_RATE)
                container.mux(audio.encode(chunk))
                written += count
        container.mux(video.encode(None))
        if audio is not None:
            container.mux(audio.encode(None))
    return frames / FPS
