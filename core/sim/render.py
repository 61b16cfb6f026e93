"""Turning a draft into a real MP4 drawn from its words: H.264 video and AAC music, via PyAV.

What must hold (CONTRACT.md): the file has the draft's aspect ratio with its long side at least
640 px by default (`long_side`, the `render_long_side` knob, renders smaller for tests), shows a
picture made from the clip's words (see scene.py), the title at its size and position, the music
at its track's volume (0 is silence), and a "local preview" mark so nobody takes it for the real
service's output. And it is fast: each shot's picture is drawn once, only the sun, clouds and
waves move, in whole pixels, and a frame identical to the previous one is re-sent already
converted to YUV, so x264 (ultrafast) does most of the work. Music is a short melody per track
sliced from a precomputed loop, so no per-sample maths runs per frame.
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
from core.sim.faults import Faults
from core.sim.scene import MOTION_HZ, Backdrop, Scene

LONG_SIDE: int = Faults.model_fields["render_long_side"].default  # one default, the knob's
FPS = 24
SAMPLE_RATE = 22_050
AUDIO_FRAME = 1024
TONE_LEVEL = 0.25
MAX_SECONDS = 1800
MARK = "local preview"
NOTE_SECONDS = 0.375
PENTATONIC = (0, 2, 4, 7, 9, 12)  # semitones: any order of these sounds like a tune
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
TITLE_PLACES = {
    "top": 0.2,
    "upper": 0.3,
    "center": 0.5,
    "centre": 0.5,
    "middle": 0.5,
    "bottom": 0.8,
}

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


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
    x: float = 0.5  # the text's centre, as shares of the frame's width and height
    y: float = 0.5


@dataclass(frozen=True)
class Tone:
    start: float
    end: float
    hertz: int  # the melody's root note
    volume: int
    name: str = "music"


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


def _share(value: object, default: float) -> float:
    """A position given as a share of the frame (0..1); anything else keeps `default`."""
    if isinstance(value, str):
        return TITLE_PLACES.get(value.strip().lower(), default)
    if isinstance(value, int | float) and 0 <= value <= 1:
        return float(value)
    return default


def plan(draft: Json, long_side: int = LONG_SIDE) -> Plan:
    """What to draw and play, in output pixels and seconds; raises ValueError on a broken draft."""
    canvas_w, canvas_h = drafts.canvas_of(draft)
    if canvas_w <= 0 or canvas_h <= 0:
        raise ValueError(f"bad canvas {canvas_w}x{canvas_h}")
    scale = long_side / max(canvas_w, canvas_h)
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
                place = _share(meta.get("position"), 0.5)
                x, y = _share(meta.get("x"), 0.5), _share(meta.get("y"), place)
                text = str(meta.get("text", ""))
                captions.append(Caption(*when, text, max(8.0, size), x, y))
            elif track.get("tt") == drafts.AUDIO:
                name = str(meta.get("name", "music"))
                hertz = 220 + hashlib.sha256(name.encode()).digest()[0] % 110
                tones.append(Tone(*when, hertz, int(meta.get("volume", 100)), name))
    return Plan(width, height, seconds, tuple(shots), tuple(captions), tuple(tones))


def _font(size: int, text: str) -> Font:
    """A font that has the text's glyphs: a CJK one when the text needs it and one is installed."""
    if any(ord(char) >= 0x2E80 for char in text):
        for path in CJK_FONTS:
            if Path(path).exists():
                return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _label(text: str, size: int, fill: tuple[int, int, int, int], max_width: int) -> Image.Image:
    """Text with a drop shadow as an RGBA sprite, shrunk until it fits `max_width`."""
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    font = _font(size, text)
    while size > 8 and probe.textlength(text, font=font) > max_width:
        size = int(size * 0.85)
        font = _font(size, text)
    left, top, right, bottom = (round(edge) for edge in probe.textbbox((0, 0), text, font=font))
    shadow = max(1, size // 24)
    sprite = Image.new("RGBA", (right - left + 2 * shadow + 2, bottom - top + 2 * shadow + 2))
    draw = ImageDraw.Draw(sprite)
    origin = (1 - left, 1 - top)
    draw.text((origin[0] + shadow, origin[1] + shadow), text, font=font, fill=(0, 0, 0, 170))
    draw.text(origin, text, font=font, fill=fill)
    return sprite


def _yuv(image: Image.Image) -> av.VideoFrame:
    """The picture as the encoder's YUV frame; filling an RGB plane directly beats from_image."""
    frame = av.VideoFrame(image.width, image.height, "rgb24")
    if frame.planes[0].line_size == image.width * 3:
        frame.planes[0].update(image.tobytes())
    else:  # a padded row layout: let PyAV copy row by row
        frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
    return frame.reformat(format="yuv420p", interpolation="POINT")  # chroma: nearest is enough


class _Painter:
    """Frames as YUV `VideoFrame`s; an unchanged picture comes back as the same object."""

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._backdrops: dict[int, Backdrop] = {}
        self._sprites: dict[int, tuple[Image.Image, tuple[int, int]]] = {}
        unit = min(plan.width, plan.height)
        self._mark = _label(MARK, max(10, unit // 26), (255, 255, 255, 215), plan.width)
        margin = max(2, unit // 40)
        self._mark_at = (
            plan.width - self._mark.width - margin,
            plan.height - self._mark.height - margin,
        )
        self._last: tuple[object, av.VideoFrame] | None = None
        self._black = Image.new("RGB", (plan.width, plan.height))

    def _caption(self, index: int) -> tuple[Image.Image, tuple[int, int]]:
        if index not in self._sprites:
            caption, (width, height) = (
                self._plan.captions[index],
                (self._plan.width, self._plan.height),
            )
            sprite = _label(caption.text, int(caption.size), (255, 255, 255, 255), int(width * 0.9))
            x = round(caption.x * width - sprite.width / 2)
            y = round(caption.y * height - sprite.height / 2)
            x = max(0, min(width - sprite.width, x))
            y = max(0, min(height - sprite.height, y))
            self._sprites[index] = (sprite, (x, y))
        return self._sprites[index]

    def frame(self, at: float) -> av.VideoFrame:
        plan = self._plan
        shot = next((n for n, s in enumerate(plan.shots) if s.start <= at < s.end), None)
        captions = tuple(
            n for n, c in enumerate(plan.captions) if c.start <= at < c.end and c.text.strip()
        )
        if shot is None:
            moving: object = None
            picture = self._black
        else:
            if shot not in self._backdrops:
                found = plan.shots[shot]
                scene = Scene.of(found.name, found.colour)
                self._backdrops[shot] = Backdrop(scene, plan.width, plan.height, found.name)
            step = int(at * MOTION_HZ) / MOTION_HZ  # motion moves in steps; frames between repeat
            length = max(plan.shots[shot].end - plan.shots[shot].start, 0.001)
            phase = max(0.0, (step - plan.shots[shot].start) / length)
            moving, picture = self._backdrops[shot].frame(phase, step)
        key = (shot, moving, captions)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        image = picture.copy()
        for index in captions:
            sprite, where = self._caption(index)
            image.paste(sprite, where, sprite)
        image.paste(self._mark, self._mark_at, self._mark)
        converted = _yuv(image)
        self._last = (key, converted)
        return converted


class _Mixer:
    """16-bit mono PCM for [first, first + count) samples: the sum of the melodies playing."""

    def __init__(self, tones: tuple[Tone, ...]) -> None:
        self._tones = tones
        self._tables: dict[tuple[int, int, str], array[int]] = {}

    def _table(self, tone: Tone) -> array[int]:
        """Eight notes of a pentatonic tune, each faded in and out so the loop never clicks."""
        key = (tone.hertz, tone.volume, tone.name)
        if key not in self._tables:
            amplitude = 32767 * TONE_LEVEL * max(0, min(tone.volume, 100)) / 100
            digest = hashlib.sha256(tone.name.encode()).digest()
            note = round(NOTE_SECONDS * SAMPLE_RATE)
            fade = note // 8
            loop = array("h")
            for n in range(8):
                hertz = tone.hertz * 2 ** (PENTATONIC[digest[n + 1] % len(PENTATONIC)] / 12)
                step = 2 * math.pi * hertz / SAMPLE_RATE
                for i in range(note):
                    envelope = min(1.0, i / fade, (note - i) / fade)
                    loop.append(round(amplitude * envelope * math.sin(step * i)))
            self._tables[key] = loop + loop
        return self._tables[key]

    def pcm(self, first: int, count: int) -> bytes:
        at = first / SAMPLE_RATE
        playing = [t for t in self._tones if t.start <= at < t.end and t.volume > 0]
        if not playing:
            return bytes(2 * count)
        tables = [self._table(tone) for tone in playing]
        offset = first % (len(tables[0]) // 2)
        if len(playing) == 1:
            return tables[0][offset : offset + count].tobytes()
        mixed = array("h", bytes(2 * count))
        for table in tables:
            for n in range(count):
                mixed[n] = max(-32768, min(32767, mixed[n] + table[offset + n]))
        return mixed.tobytes()


def encode(
    draft: Json,
    path: Path,
    cancelled: threading.Event | None = None,
    *,
    long_side: int = LONG_SIDE,
) -> float:
    """Writes the MP4 for `draft` to `path`; returns its duration in seconds. Blocking."""
    sketch = plan(draft, long_side)
    frames = max(1, round(sketch.seconds * FPS))
    samples = round(sketch.seconds * SAMPLE_RATE)
    painter, mixer = _Painter(sketch), _Mixer(sketch.tones)
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = sketch.width, sketch.height, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "28", "tune": "stillimage"}
        audio = None
        if sketch.tones:
            audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
            audio.bit_rate = 48_000
        written = 0
        for index in range(frames):
            if cancelled is not None and cancelled.is_set():
                raise RenderCancelled("render cancelled")
            picture = painter.frame(index / FPS)
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
