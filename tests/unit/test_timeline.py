"""The timeline in the protocol's words, and what changed between two drafts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.models import Draft
from core.timeline import describe_changes, summarize, total_seconds

URBAN: dict[str, Any] = {
    "t": [
        {"tt": 0, "sg": [{"d": 10000, "m": {"name": "city timelapse"}}]},
        {"tt": 1, "sg": [{"d": 10000, "m": {"name": "Lo-fi", "volume": 35}}]},
        {"tt": 7, "sg": [{"d": 3000, "m": {"text": "Urban Dreams"}}]},
    ],
    "d": 10000,
    "m": {"title": "Urban Dreams", "width": 1920, "height": 1080},
}


def draft(raw: dict[str, Any]) -> Draft:
    return Draft.model_validate(raw)


def edited(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(URBAN)
    for path, value in changes.items():
        *keys, last = path.split("__")
        node: Any = raw
        for key in keys:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
    return raw


def test_the_protocol_summary() -> None:
    assert summarize(draft(URBAN)) == (
        "Timeline (3 tracks): 1. Video: city timelapse (0-10s) "
        "2. BGM: Lo-fi (0-10s, 35%) "
        '3. Title: "Urban Dreams" (0-3s)'
    )


@pytest.mark.parametrize("raw", [{}, {"t": []}, {"t": [{"tt": 0, "sg": []}]}, {"t": [{"tt": 1}]}])
def test_an_empty_draft(raw: dict[str, Any]) -> None:
    assert summarize(draft(raw)) == "Timeline (0 tracks): empty - nothing generated yet."
    assert not draft(raw).ready


def test_one_track_is_singular() -> None:
    raw = {"t": [{"tt": 0, "sg": [{"d": 5000, "m": {"name": "waves"}}]}]}
    assert summarize(draft(raw)) == "Timeline (1 track): 1. Video: waves (0-5s)"


def test_volume_as_a_fraction_is_a_percentage() -> None:
    raw = edited(t__1__sg__0__m={"name": "Lo-fi", "volume": 0.35})
    assert "2. BGM: Lo-fi (0-10s, 35%)" in summarize(draft(raw))


def test_spans_segments_offsets_and_fractions_of_a_second() -> None:
    raw = {
        "t": [
            {
                "tt": 0,
                "sg": [{"d": 2500, "m": {"name": "intro"}}, {"d": 5000, "m": {"name": "city"}}],
            },
            {"tt": 7, "sg": [{"s": 4000, "d": 2000, "m": {"text": "Hello"}}]},
            {"tt": 3, "sg": [{"d": 1000, "m": {}}]},
        ]
    }
    assert summarize(draft(raw)) == (
        "Timeline (3 tracks): 1. Video: intro, city (0-2.5s, 2.5-7.5s) "
        '2. Title: "Hello" (4-6s) 3. Track: (untitled) (0-1s)'
    )


def test_total_seconds() -> None:
    assert total_seconds(draft(URBAN)) == 10
    assert total_seconds(draft({**URBAN, "d": None})) == 10
    assert total_seconds(draft({})) == 0


# -- describe_changes -----------------------------------------------------------------------


def without_track(index: int) -> dict[str, Any]:
    raw = copy.deepcopy(URBAN)
    del raw["t"][index]
    return raw


def test_nothing_changed() -> None:
    assert describe_changes(draft(URBAN), draft(copy.deepcopy(URBAN))) == []


def test_added_bgm() -> None:
    assert describe_changes(draft(without_track(1)), draft(URBAN)) == [
        "added BGM track 'Lo-fi' at 35%"
    ]


def test_volume_change() -> None:
    louder = edited(t__1__sg__0__m={"name": "Lo-fi", "volume": 60})
    assert describe_changes(draft(URBAN), draft(louder)) == ["BGM 'Lo-fi' volume 35% -> 60%"]


def test_title_text_change() -> None:
    retitled = edited(t__2__sg__0__m={"text": "Neon Nights"}, m__title="Neon Nights")
    assert describe_changes(draft(URBAN), draft(retitled)) == [
        'Title changed from "Urban Dreams" to "Neon Nights"'
    ]


def test_music_swapped() -> None:
    jazz = edited(t__1__sg__0__m={"name": "Jazz", "volume": 35})
    assert describe_changes(draft(URBAN), draft(jazz)) == ["BGM changed from 'Lo-fi' to 'Jazz'"]


def test_removed_track() -> None:
    assert describe_changes(draft(URBAN), draft(without_track(1))) == ["removed BGM track 'Lo-fi'"]


def test_duration_change() -> None:
    longer = edited(t__0__sg__0__d=20000, t__1__sg__0__d=20000, d=20000)
    assert describe_changes(draft(URBAN), draft(longer)) == [
        "Video 'city timelapse' now 0-20s",
        "BGM 'Lo-fi' now 0-20s",
        "duration 10s -> 20s",
    ]


def test_canvas_change() -> None:
    vertical = edited(m__width=1080, m__height=1920)
    assert describe_changes(draft(URBAN), draft(vertical)) == ["canvas now 1080x1920"]


def test_first_generation_lists_each_track() -> None:
    assert describe_changes(draft({}), draft(URBAN)) == [
        "added Video track 'city timelapse'",
        "added BGM track 'Lo-fi' at 35%",
        'added Title track "Urban Dreams"',
    ]
