"""The local renderer draws the prompt (issue 14): aspect and size, a picture, title, music, mark.

Pictures are checked by colour, not by exact pixels: a sunset's sky is warm near the horizon, a
night sky is dark, the sky differs from the ground, and the title's white pixels are there.
"""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest
from PIL import Image

from core.sim import draft as drafts
from core.sim import prompts, render
from core.sim.agent import apply_edits
from core.sim.scene import HORIZON, PEAKS

SMALL = 320  # the long side for tests that need a picture, not the default size


LOFI = {"name": "Lo-fi", "volume": 35}


def _draft(
    subject: str,
    size: tuple[int, int] = (1920, 1080),
    *,
    title: str = "",
    ms: int = 2000,
    music: drafts.Json | None = LOFI,
) -> drafts.Json:
    return drafts.new_draft(subject=subject, title=title, duration_ms=ms, size=size, music=music)


def _first_frame(path: Path) -> Image.Image:
    with av.open(str(path)) as container:
        image: Image.Image = next(container.decode(video=0)).to_image()
    return image


def _pixels(image: Image.Image) -> list[tuple[int, ...]]:
    data = image.convert("RGB").tobytes()
    return [tuple(data[n : n + 3]) for n in range(0, len(data), 3)]


def _whites(image: Image.Image) -> int:
    return sum(1 for pixel in _pixels(image) if min(pixel) > 225)


def _mean(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, float, float]:
    pixels = _pixels(image.crop(box))
    red, green, blue = (sum(p[n] for p in pixels) / len(pixels) for n in range(3))
    return red, green, blue


def _encode(tmp_path: Path, draft: drafts.Json, long_side: int = SMALL) -> Path:
    path = tmp_path / "out.mp4"
    render.encode(draft, path, long_side=long_side)
    return path


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1920, 1080), (640, 360)), ((1080, 1920), (360, 640)), ((1080, 1080), (640, 640))],
)
def test_default_size_keeps_the_aspect_with_a_long_side_of_640(tmp_path, size, expected):
    path = _encode(tmp_path, _draft("sunset over mountains", size, ms=500), render.LONG_SIDE)
    with av.open(str(path)) as container:
        video = container.streams.video[0].codec_context
        assert (video.width, video.height) == expected
    assert max(expected) >= 640


def test_the_knob_renders_smaller_and_canvas_config_gives_the_aspect(tmp_path):
    draft = _draft("city at night", ms=500)
    del draft["m"]["width"], draft["m"]["height"]
    draft["canvas_config"] = {"width": 1080, "height": 1920}
    with av.open(str(_encode(tmp_path, draft, 160))) as container:
        video = container.streams.video[0].codec_context
        assert (video.width, video.height) == (90, 160)


def test_a_sunset_over_mountains_looks_like_one(tmp_path):
    frame = _first_frame(_encode(tmp_path, _draft("sunset over mountains")))
    width, height = frame.size
    sky_low = round(height * (HORIZON - PEAKS) - 4)  # just above the highest peak
    red, _, blue = _mean(frame, (0, sky_low - 6, width // 3, sky_low))
    assert red > blue + 30  # warm near the horizon
    top, low = _mean(frame, (0, 0, width, 8)), _mean(frame, (0, sky_low - 6, width, sky_low))
    assert sum(abs(a - b) for a, b in zip(top, low, strict=True)) > 60  # a gradient, not flat
    bottom = _mean(frame, (0, height - 30, width // 2, height - 20))
    assert sum(bottom) < sum(low) - 100  # the land is a dark silhouette under a bright horizon


def test_a_night_sky_is_dark_and_a_day_sky_is_blue(tmp_path):
    night = _first_frame(_encode(tmp_path, _draft("city skyline at night")))
    width, height = night.size
    sky = (0, 0, width // 2, height // 4)
    assert max(_mean(night, sky)) < 70
    day = _first_frame(_encode(tmp_path, _draft("a cat in a meadow")))
    red, _, blue = _mean(day, sky)
    assert blue > red + 40


def test_sea_and_forest_are_drawn_and_frames_move(tmp_path):
    path = _encode(tmp_path, _draft("sunrise over the sea", ms=3000))
    with av.open(str(path)) as container:
        frames = [frame.to_image() for frame in container.decode(video=0)]
    width, height = frames[0].size
    sea = (0, round(height * HORIZON) + 4, width, height - 24)
    assert frames[0].crop(sea).tobytes() != frames[-1].crop(sea).tobytes()  # the waves drift
    forest = _first_frame(_encode(tmp_path, _draft("pine forest")))
    plain = _first_frame(_encode(tmp_path, _draft("a meadow")))
    band = (0, round(height * 0.5), width, round(height * HORIZON))
    assert forest.crop(band).tobytes() != plain.crop(band).tobytes()


def test_title_at_its_size_and_position_and_the_local_preview_mark(tmp_path):
    draft = _draft("a meadow", title="HELLO")
    titled = _first_frame(_encode(tmp_path, draft))
    width, height = titled.size
    centre = titled.crop((width // 4, height // 3, 3 * width // 4, 2 * height // 3))
    assert _whites(centre) > 50  # white title pixels
    text = drafts.tracks_of(draft, drafts.TEXT)[0]["sg"][0]["m"]
    text.update({"position": "top", "size": 240})
    moved = _first_frame(_encode(tmp_path, draft))
    top = moved.crop((0, 0, width, height // 3))
    assert _whites(top) > 2 * _whites(titled.crop((0, 0, width, height // 3)))
    corner = (width - width // 4, height - height // 8, width, height)
    untitled = _first_frame(_encode(tmp_path, _draft("a meadow")))
    shades = sorted(sum(pixel) for pixel in _pixels(untitled.crop(corner)))
    assert shades[-1] - shades[len(shades) // 2] > 200  # light "local preview" letters on land


def _audio_peak(path: Path) -> int:
    with av.open(str(path)) as container:
        assert container.streams.audio, "the MP4 has an audio stream"
        peak = 0
        for frame in container.decode(audio=0):
            assert frame.format.name == "fltp"  # AAC decodes to planar floats
            samples = memoryview(bytes(frame.planes[0])).cast("f")[: frame.samples]
            peak = max(peak, max((abs(round(s * 32767)) for s in samples), default=0))
    return peak


def test_music_plays_at_its_volume_and_zero_is_silent(tmp_path):
    loud = _audio_peak(_encode(tmp_path, _draft("a meadow", music={"name": "Jazz", "volume": 80})))
    assert loud > 3000
    silent = _encode(tmp_path, _draft("a meadow", music={"name": "Jazz", "volume": 0}))
    assert _audio_peak(silent) < 50


def test_thirty_seconds_render_in_a_few_seconds(tmp_path):
    draft = _draft("sunset over the sea with mountains", ms=30_000, title="Dusk")
    started = time.perf_counter()
    render.encode(draft, tmp_path / "long.mp4")
    assert time.perf_counter() - started < 20  # a few seconds; generous on a shared machine


CHINESE_TWINS = [
    ("把标题改成 你好", 'change the title to "你好"'),
    ("标题改为春天", "title to 春天"),
    ("加上lo-fi音乐，音量35%", "add lo-fi music at 35% volume"),
    ("音量调到50%", "volume to 50"),
    ("改成15秒", "make it 15 seconds"),
    ("改成三十秒", "make it 30 seconds"),
    ("改成竖屏", "make it vertical"),
    ("改成9:16", "make it 9:16"),
    ("改成正方形", "make it square"),
    ("删除音乐", "remove the music"),
    ("删除标题", "remove the title"),
    ("把标题调大", "make the title bigger"),
    ("把标题调小", "make the title smaller"),
    ("把音乐调大一点", "make the music louder"),
    ("静音", "mute"),
]


@pytest.mark.parametrize(("chinese", "english"), CHINESE_TWINS)
def test_chinese_edits_change_the_draft_like_their_english_twins(chinese, english):
    zh, en = (
        _draft("sunset", title="Sunset", ms=10_000),
        _draft("sunset", title="Sunset", ms=10_000),
    )
    zh_ops = prompts.edits(chinese, drafts.canvas_of(zh))
    assert zh_ops, chinese
    assert zh_ops == prompts.edits(english, drafts.canvas_of(en))
    apply_edits(zh, zh_ops)
    apply_edits(en, prompts.edits(english, drafts.canvas_of(en)))
    assert zh == en
