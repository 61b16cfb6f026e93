"""A picture drawn from a clip's words: sky by time of day, sun or moon, land, sea, city, trees.

The local renderer must show something a person recognises as the prompt ("a sunset over
mountains" looks like one) yet stay cheap: everything that does not move is drawn once per shot
(`Backdrop`), and a frame is the sky with the sun or moon pasted in, the drifting clouds, the static
foreground and the drifting waves. Moving parts advance in whole pixels, so consecutive frames
with the same `Backdrop.key` are identical and the encoder can reuse them.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw

Rgb = tuple[int, int, int]
TimeOfDay = Literal["sunrise", "sunset", "night", "day"]

HORIZON = 0.62  # the horizon's height as a share of the frame, from the top
PEAKS = 0.28  # mountains rise at most this share of the frame above the horizon
MOTION_HZ = 8  # the moving parts step this often: frames between steps are reused as they are

_TIMES: tuple[tuple[TimeOfDay, re.Pattern[str]], ...] = (
    ("night", re.compile(r"night|midnight|moon|stars?\b|starry|nocturn|夜|月|星")),
    ("sunset", re.compile(r"sunset|sundown|dusk|evening|twilight|golden hour|黄昏|日落|夕阳|傍晚")),
    ("sunrise", re.compile(r"sunrise|dawn|daybreak|morning|日出|清晨|早晨|黎明")),
)
_MOUNTAINS = re.compile(r"mountain|peak|alps|hill|ridge|volcano|summit|himalaya|山")
_SEA = re.compile(r"\bsea|ocean|beach|wave|coast|shore|lake|bay\b|island|surf|海|湖|浪|沙滩")
_CITY = re.compile(r"city|skyline|town|street|downtown|urban|building|tokyo|york|paris|城|街|楼")
_FOREST = re.compile(r"forest|tree|wood|jungle|pine|grove|森林|树|林")

# Sky colours from the top of the frame to the horizon, as (share of height, colour) stops.
_SKIES: dict[TimeOfDay, tuple[tuple[float, Rgb], ...]] = {
    "sunset": ((0.0, (44, 24, 84)), (0.33, (176, 64, 112)), (HORIZON, (255, 152, 62))),
    "sunrise": ((0.0, (70, 96, 168)), (0.35, (226, 140, 156)), (HORIZON, (255, 196, 118))),
    "night": ((0.0, (4, 6, 22)), (HORIZON, (22, 32, 72))),
    "day": ((0.0, (52, 116, 206)), (HORIZON, (176, 214, 246))),
}


def _mix(a: Rgb, b: Rgb, share: float) -> Rgb:
    """`share` of the way from `a` to `b`."""
    r, g, bl = (round(x + (y - x) * share) for x, y in zip(a, b, strict=True))
    return r, g, bl


@dataclass(frozen=True)
class Scene:
    """What the words ask to see; anything unnamed falls back to a day sky over rolling hills."""

    time: TimeOfDay
    mountains: bool
    sea: bool
    city: bool
    forest: bool
    palette: Rgb  # the subject's colour; it tints the land so each subject looks its own

    @classmethod
    def of(cls, words: str, palette: Rgb) -> Scene:
        lowered = words.lower()
        time: TimeOfDay = next((name for name, rule in _TIMES if rule.search(lowered)), "day")
        return cls(
            time=time,
            mountains=bool(_MOUNTAINS.search(lowered)),
            sea=bool(_SEA.search(lowered)),
            city=bool(_CITY.search(lowered)),
            forest=bool(_FOREST.search(lowered)),
            palette=palette,
        )


def _gradient(width: int, height: int, stops: tuple[tuple[float, Rgb], ...]) -> Image.Image:
    """A vertical gradient through `stops`, drawn as one column and stretched (cheap)."""
    column = Image.new("RGB", (1, height))
    colours: list[Rgb] = []
    for y in range(height):
        at = y / max(height - 1, 1)
        below = max((s for s in stops if s[0] <= at), key=lambda s: s[0], default=stops[0])
        above = min((s for s in stops if s[0] > at), key=lambda s: s[0], default=below)
        span = above[0] - below[0]
        colours.append(_mix(below[1], above[1], (at - below[0]) / span if span else 0.0))
    column.putdata(colours)
    return column.resize((width, height), Image.Resampling.NEAREST)


def _glow(radius: int, core: Rgb, halo: Rgb) -> Image.Image:
    """A disc with a soft halo, as an RGBA sprite pasted at each frame."""
    size = radius * 4
    sprite = Image.new("RGBA", (size, size), (*halo, 0))
    draw = ImageDraw.Draw(sprite)
    centre = size / 2
    for ring in range(8, 0, -1):
        reach = radius * (1 + ring / 8)
        alpha = round(70 * (1 - ring / 9))
        draw.ellipse(
            (centre - reach, centre - reach, centre + reach, centre + reach), fill=(*halo, alpha)
        )
    draw.ellipse((centre - radius, centre - radius, centre + radius, centre + radius), fill=core)
    return sprite


class Backdrop:
    """One shot's picture, precomputed: `frame(phase, at)` only pastes the moving parts."""

    def __init__(self, scene: Scene, width: int, height: int, seed: str) -> None:
        self.scene, self.width, self.height = scene, width, height
        self._rng = random.Random(hashlib.sha256(seed.encode()).digest())
        self.horizon = round(height * HORIZON)
        self._sky = _gradient(width, height, _SKIES[scene.time])
        self._unit = min(width, height)
        self._land = self._land_colour()
        if scene.time == "night":
            self._stars()
        self._body = self._celestial()
        self._clouds = self._cloud_strip() if scene.time != "night" else None
        self._front = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        self._draw_foreground()
        self._waves = self._wave_strip() if scene.sea else None
        self._scenery = self._sky.copy()
        self._scenery.paste(self._front, (0, 0), self._front)
        sunlit = scene.time in ("sunset", "sunrise")
        self._sun_x = round(width * (0.62 if sunlit else 0.78))
        self._last: tuple[tuple[int, int, int], Image.Image] | None = None

    # --- static parts -------------------------------------------------------------------------

    def _land_colour(self) -> Rgb:
        base: Rgb = {
            "sunset": (58, 28, 58),
            "sunrise": (70, 52, 82),
            "night": (10, 12, 26),
            "day": (62, 122, 70),
        }[self.scene.time]
        return _mix(base, self.scene.palette, 0.2 if self.scene.time != "day" else 0.3)

    def _stars(self) -> None:
        draw = ImageDraw.Draw(self._sky)
        for _ in range(self.width * self.horizon // 900 + 20):
            x, y = self._rng.randrange(self.width), self._rng.randrange(self.horizon)
            shade = self._rng.randrange(150, 256)
            size = 1 if self._rng.random() < 0.85 else 2
            draw.rectangle((x, y, x + size - 1, y + size - 1), fill=(shade, shade, shade - 20))

    def _celestial(self) -> Image.Image:
        radius = max(3, round(self._unit * (0.06 if self.scene.time == "night" else 0.08)))
        if self.scene.time == "night":
            moon = _glow(radius, (238, 236, 214), (170, 180, 220))
            draw = ImageDraw.Draw(moon)
            centre = moon.width / 2
            for dx, dy, r in ((-0.3, -0.2, 0.22), (0.25, 0.3, 0.15), (0.1, -0.35, 0.1)):
                x, y, reach = centre + dx * radius, centre + dy * radius, r * radius
                draw.ellipse((x - reach, y - reach, x + reach, y + reach), fill=(212, 210, 192))
            return moon
        if self.scene.time == "day":
            return _glow(radius, (255, 250, 220), (255, 244, 200))
        return _glow(radius, (255, 220, 120), (255, 120, 60))

    def _cloud_strip(self) -> Image.Image:
        """Clouds over twice the width, so a drifting crop of one width always covers the sky."""
        tint: Rgb = {"sunset": (250, 170, 160), "sunrise": (255, 214, 210)}.get(
            self.scene.time, (255, 255, 255)
        )
        strip = Image.new("RGBA", (self.width * 2, self.horizon), (*tint, 0))
        draw = ImageDraw.Draw(strip)
        for _ in range(5):
            cx = self._rng.randrange(self.width)
            cy = self._rng.uniform(0.08, 0.4) * self.horizon
            for copy in (cx, cx + self.width):  # the strip tiles: what leaves left enters right
                for _ in range(5):
                    rx = self._unit * self._rng.uniform(0.05, 0.1)
                    ry = rx * self._rng.uniform(0.35, 0.55)
                    x = copy + self._rng.uniform(-1.6, 1.6) * rx
                    y = cy + self._rng.uniform(-0.4, 0.4) * ry
                    draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=(*tint, 120))
        bottom = strip.getbbox()
        return strip.crop((0, 0, strip.width, bottom[3] if bottom else 1))

    def _ridge(self, top: float, jag: int, colour: Rgb) -> None:
        """A mountain range whose peaks reach `top` (share of height) at most."""
        draw = ImageDraw.Draw(self._front)
        points = [(0.0, float(self.horizon + 1))]
        step = self.width / jag
        for n in range(jag + 1):
            rise = self._rng.uniform(0.35, 1.0) * (self.horizon - top * self.height)
            points.append((n * step + self._rng.uniform(-0.3, 0.3) * step, self.horizon - rise))
            points.append(((n + 0.5) * step, self.horizon - rise * self._rng.uniform(0.3, 0.6)))
        points.append((float(self.width), float(self.horizon + 1)))
        draw.polygon(points, fill=(*colour, 255))

    def _skyline(self) -> None:
        draw = ImageDraw.Draw(self._front)
        lit: Rgb = (255, 214, 120) if self.scene.time in ("night", "sunset") else (150, 170, 190)
        body = _mix(self._land, (30, 30, 40), 0.5)
        x = 0.0
        while x < self.width:
            wide = self._unit * self._rng.uniform(0.06, 0.14)
            tall = self.height * self._rng.uniform(0.08, 0.3)
            top = self.horizon - tall
            draw.rectangle((x, top, x + wide, self.horizon), fill=(*body, 255))
            gap = max(3.0, self._unit * 0.025)
            for wy in range(round(top + gap), self.horizon - 2, round(gap * 1.6)):
                for wx in range(round(x + gap / 2), round(x + wide - gap / 2), round(gap * 1.4)):
                    if self._rng.random() < 0.55:
                        draw.rectangle((wx, wy, wx + gap / 2, wy + gap / 2), fill=(*lit, 255))
            x += wide + self._unit * self._rng.uniform(0.0, 0.02)

    def _trees(self, base: float, scale: float, colour: Rgb) -> None:
        draw = ImageDraw.Draw(self._front)
        x = self._rng.uniform(-0.02, 0.02) * self.width
        while x < self.width:
            tall = self._unit * scale * self._rng.uniform(0.7, 1.3)
            wide = tall * 0.45
            foot = base + self._rng.uniform(0.0, 0.03) * self.height
            for tier in range(3):  # a pine: three stacked triangles
                top = foot - tall * (1 - tier * 0.22)
                bottom = foot - tall * (0.35 - tier * 0.15)
                half = wide * (0.5 + tier * 0.25)
                draw.polygon(
                    [(x, top), (x - half, bottom), (x + half, bottom)], fill=(*colour, 255)
                )
            x += wide * self._rng.uniform(0.6, 1.1)

    def _draw_foreground(self) -> None:
        scene, draw = self.scene, ImageDraw.Draw(self._front)
        horizon_sky = _SKIES[scene.time][-1][1]
        if scene.mountains:
            self._ridge(HORIZON - PEAKS, 4, _mix(horizon_sky, self._land, 0.55))
            self._ridge(HORIZON - PEAKS * 0.6, 6, self._land)
        if scene.city:
            self._skyline()
        if not (scene.mountains or scene.city or scene.sea):
            for n in range(3):  # rolling hills, so even "a cat" stands somewhere
                cx = self.width * (n / 2) + self._rng.uniform(-0.1, 0.1) * self.width
                rx, ry = self.width * 0.45, self.height * self._rng.uniform(0.08, 0.14)
                shade = _mix(self._land, horizon_sky, 0.25 * (2 - n) / 2)
                box = (cx - rx, self.horizon - ry, cx + rx, self.horizon + ry)
                draw.ellipse(box, fill=(*shade, 255))
        if scene.sea:
            water = _gradient(
                self.width,
                self.height - self.horizon,
                (
                    (0.0, _mix(horizon_sky, (20, 40, 90), 0.45)),
                    (1.0, _mix(self._land, (0, 0, 0), 0.4)),
                ),
            )
            self._front.paste(water, (0, self.horizon))
            if scene.time != "night":
                glitter = _mix(horizon_sky, (255, 255, 255), 0.3)
                x = self.width * 0.62  # under the sun (see _sun_x)
                for row in range(self.horizon + 2, self.height, max(2, self.height // 60)):
                    half = self._unit * 0.08 * (1 - (row - self.horizon) / self.height)
                    draw.line((x - half, row, x + half, row), fill=(*glitter, 170))
        else:
            draw.rectangle((0, self.horizon, self.width, self.height), fill=(*self._land, 255))
        if scene.forest:
            dark = _mix(self._land, (10, 40, 20), 0.5)
            self._trees(self.horizon + 2, 0.16, _mix(dark, horizon_sky, 0.2))
            if not scene.sea:
                self._trees(self.height * 0.92, 0.3, _mix(dark, (0, 0, 0), 0.3))

    def _wave_strip(self) -> Image.Image:
        """Crests over the sea, one wavelength wider than the frame so a crop can drift."""
        period = max(8, self._unit // 10)
        band = self.height - self.horizon
        strip = Image.new("RGBA", (self.width + period, band), (255, 255, 255, 0))
        draw = ImageDraw.Draw(strip)
        crest = _mix(_SKIES[self.scene.time][-1][1], (255, 255, 255), 0.35)
        row, n = 3, 0
        while row < band:
            length = period * (0.3 + row / band * 0.5)
            shift = (n * period // 3) % period
            for x in range(-period + shift, strip.width, period):
                draw.arc((x, row, x + length, row + length / 3), 200, 340, fill=(*crest, 140))
            row += max(4, round(6 + row / band * period))
            n += 1
        return strip

    # --- moving parts -------------------------------------------------------------------------

    def key(self, phase: float, at: float) -> tuple[int, int, int]:
        """Where the moving parts are: (sun or moon height, cloud offset, wave offset), in pixels."""
        time, high = self.scene.time, self.horizon - PEAKS * self.height
        if time == "sunset":  # sinks from high over the ridge to just under the horizon
            y = high - self._unit * 0.1 + phase * (self.horizon - high + self._unit * 0.14)
        elif time == "sunrise":
            y = self.horizon + self._unit * 0.04 - phase * (self.horizon - high + self._unit * 0.14)
        else:
            y = self.height * 0.18 + phase * self._unit * 0.03
        clouds = round(at * self.width / 60) % self.width if self._clouds else 0
        period = self._waves.width - self.width if self._waves else 1
        waves = round(at * self._unit / 16) % period if self._waves else 0
        return round(y), clouds, waves

    def frame(self, phase: float, at: float) -> tuple[tuple[int, int, int], Image.Image]:
        """The key and the picture at `phase` (0..1 through the shot) and `at` seconds.

        Only the region the sun (or moon) and the clouds can touch is redrawn from the sky, with
        the foreground laid back over it; the rest comes from the precomputed scenery.
        """
        key = self.key(phase, at)
        if self._last is not None and self._last[0] == key:
            return self._last
        sun_y, clouds, waves = key
        body = self._body
        left, top = self._sun_x - body.width // 2, sun_y - body.height // 2
        x0, y0, x1, y1 = left, top, left + body.width, top + body.height
        if self._clouds is not None:
            x0, y0, x1, y1 = 0, 0, self.width, max(y1, self._clouds.height)
        box = (max(0, x0), max(0, y0), min(self.width, x1), min(self.height, y1))
        image = self._scenery.copy()
        if box[0] < box[2] and box[1] < box[3]:
            region = self._sky.crop(box)
            region.paste(body, (left - box[0], top - box[1]), body)
            if self._clouds is not None:
                piece = self._clouds.crop((clouds, 0, clouds + self.width, self._clouds.height))
                region.paste(piece, (-box[0], -box[1]), piece)
            front = self._front.crop(box)
            region.paste(front, (0, 0), front)
            image.paste(region, (box[0], box[1]))
        if self._waves is not None:
            piece = self._waves.crop((waves, 0, waves + self.width, self._waves.height))
            image.paste(piece, (0, self.horizon), piece)
        self._last = (key, image)
        return self._last
