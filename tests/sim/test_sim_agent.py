"""The scripted agent without a server: reading prompts, editing drafts, encoding MP4s."""

from __future__ import annotations

import copy
import random
import threading

import av
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sim import draft as drafts
from core.sim import prompts, render
from core.sim.accounts import Session, User
from core.sim.agent import Result, Say, apply_edits, plan_turn


@pytest.mark.parametrize(
    ("prompt", "subject", "title"),
    [
        ("a sunset over mountains", "sunset over mountains", "Sunset Over Mountains"),
        (
            "Make a 30-second video of a sunset over mountains with lo-fi music at 35%",
            "sunset over mountains",
            "Sunset Over Mountains",
        ),
        ("Create a 1 minute video about ocean waves", "ocean waves", "Ocean Waves"),
        ("generate 30s 9:16 video: dancing robots", "dancing robots", "Dancing Robots"),
        ('a video titled "Urban Dreams" of a city at night', "city at night", "Urban Dreams"),
        ("!!!", "untitled clip", "Untitled Clip"),
        ("make it vertical", "untitled clip", "Untitled Clip"),
    ],
)
def test_subject_and_title(prompt, subject, title):
    wish = prompts.generation(prompt)
    assert (wish.subject, wish.title) == (subject, title)


@pytest.mark.parametrize(
    ("prompt", "seconds"),
    [
        ("30-second", 30),
        ("30 second", 30),
        ("30s", 30),
        ("1 minute", 60),
        ("1-minute", 60),
        ("a minute", 60),
        ("half a minute", 30),
        ("a sunset", None),
        ("in 1080p at 35%", None),
        ("make a second video", None),
        ("two minutes", 120),
        ("10 minutes", 300),
    ],
)
def test_durations(prompt, seconds):
    assert prompts.duration_seconds(prompt) == seconds


@pytest.mark.parametrize(
    ("prompt", "size"),
    [
        ("1080p", (1920, 1080)),
        ("720p", (1280, 720)),
        ("vertical", (1080, 1920)),
        ("9:16", (1080, 1920)),
        ("square", (1080, 1080)),
        ("16:9", (1920, 1080)),
        ("vertical 720p", (720, 1280)),
        ("a sunset", None),
    ],
)
def test_canvas(prompt, size):
    assert prompts.canvas(prompt) == size


def _session(text="a 20-second video of a forest with jazz music", language="en"):
    session = Session(
        id="1", task_id="task_1", user=User("anon_1", True, 100), language=language, serial=1
    )
    turn = plan_turn(text, session, random.Random(1), seconds=0, no_text_ratio=0)
    next(step for step in turn.steps if isinstance(step, Result)).commit(session)
    return session


def test_turn_kinds():
    empty = Session(id="1", task_id="t", user=User("anon_1", True, 100), language="en", serial=1)
    assert plan_turn("hello", empty, random.Random(1), seconds=0, no_text_ratio=0).kind == "chat"
    assert (
        plan_turn("a cat", empty, random.Random(1), seconds=0, no_text_ratio=0).kind == "generate"
    )
    session = _session()
    for text, kind, cost in [
        ("make it vertical", "edit", 50),
        ("what can you do?", "chat", 0),
        ("make a new video of the sea", "generate", 100),
    ]:
        turn = plan_turn(text, session, random.Random(1), seconds=0, no_text_ratio=0)
        assert (turn.kind, turn.cost) == (kind, cost), text


def test_chinese_sessions_get_chinese_gui_talk():
    session = _session(language="zh-CN")
    turn = plan_turn("how do I export?", session, random.Random(1), seconds=0, no_text_ratio=0)
    assert any("导出" in step.text for step in turn.steps if isinstance(step, Say))


def test_summary():
    draft = _session().draft
    assert drafts.summary(draft) == (
        "Timeline (3 tracks): 1. Video: forest (0-20s) 2. BGM: Jazz (0-20s, 100%) "
        '3. Title: "Forest" (0-3s)'
    )


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120), st.text(max_size=60))
def test_any_words_give_a_valid_draft(first, second):
    wish = prompts.generation(first)
    assert prompts.MIN_SECONDS <= wish.seconds <= prompts.MAX_SECONDS
    assert wish.subject.strip() and all(side > 0 and side % 2 == 0 for side in wish.size)
    draft = drafts.new_draft(
        subject=wish.subject,
        title=wish.title,
        duration_ms=wish.seconds * 1000,
        size=wish.size,
        music={"name": "Lo-fi", "volume": wish.volume},
    )
    apply_edits(draft, prompts.edits(second, drafts.canvas_of(draft)))
    for track in draft["t"]:
        for start, end, _ in drafts.spans(track):
            assert 0 <= start <= end <= draft["d"]
    sketch = render.plan(draft)
    assert sketch.width % 2 == 0 and sketch.height % 2 == 0 and sketch.seconds > 0


def test_edits_do_not_touch_the_original_until_committed():
    session = _session()
    before = copy.deepcopy(session.draft)
    turn = plan_turn("trim to 5s", session, random.Random(1), seconds=0, no_text_ratio=0)
    assert session.draft == before
    next(step for step in turn.steps if isinstance(step, Result)).commit(session)
    assert session.draft["d"] == 5000


def test_encode_portrait_with_title(tmp_path):
    draft = drafts.new_draft(
        subject="cat", title="Cat", duration_ms=2500, size=(1080, 1920), music=None
    )
    path = tmp_path / "cat.mp4"
    assert render.encode(draft, path) == pytest.approx(2.5, abs=0.1)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (360, 640)
        assert not container.streams.audio
        frame = next(container.decode(video=0)).to_image()
    assert frame.getpixel((180, 320)) != frame.getpixel((5, 5))  # the title is drawn


def test_encode_stops_when_cancelled_and_rejects_broken_drafts(tmp_path):
    cancelled = threading.Event()
    cancelled.set()
    draft = drafts.new_draft(subject="x", title="X", duration_ms=2000, size=(640, 480), music=None)
    with pytest.raises(render.RenderCancelled):
        render.encode(draft, tmp_path / "x.mp4", cancelled)
    with pytest.raises(ValueError):
        render.encode({"t": [], "d": 0, "m": {}}, tmp_path / "y.mp4")


@pytest.mark.parametrize(
    ("words", "check"),
    [
        (
            "把标题改成 你好",
            lambda d: drafts.tracks_of(d, drafts.TEXT)[0]["sg"][0]["m"]["text"] == "你好",
        ),
        (
            "加上lo-fi音乐，音量35%",
            lambda d: drafts.music_track(d)["sg"][0]["m"] == {"name": "Lo-fi", "volume": 35},
        ),
        ("改成15秒", lambda d: d["d"] == 15_000),
        ("改成竖屏", lambda d: drafts.canvas_of(d) == (1080, 1920)),
        ("删除音乐", lambda d: drafts.music_track(d) is None),
        ("把标题调大", lambda d: drafts.tracks_of(d, drafts.TEXT)[0]["sg"][0]["m"]["size"] == 180),
    ],
)
def test_chinese_edit_turns_change_the_draft(words, check):
    session = _session("a 20-second video of a forest with jazz music", language="zh")
    turn = plan_turn(words, session, random.Random(1), seconds=0, no_text_ratio=0)
    assert turn.kind == "edit"
    next(step for step in turn.steps if isinstance(step, Result)).commit(session)
    assert check(session.draft)
