"""The console's words: every sentence in each language, uploads that say what happened."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.console import ConsoleThread, parse_line, render
from bots.console_words import EN, ZH, ConsoleWords
from core.engine.reply import BUTTONS
from core.errors import FileTooLarge, UnsupportedFileType
from core.explain import explain
from core.files import MAX_UPLOAD_BYTES, check_upload
from core.messages import say
from core.port import Reply, ReplyKind, ThreadKey


def test_both_languages_have_every_console_sentence() -> None:
    assert set(EN) == set(ZH) == set(ConsoleWords)


def test_hints_and_the_saved_line_follow_the_reply_language(tmp_path: Path) -> None:
    assert "（可以说：导出 / 状态 / 积分）" in render(
        Reply(ReplyKind.TEXT, "好的", BUTTONS, language="zh-CN")
    )
    assert "(say: export / status / credits)" in render(Reply(ReplyKind.TEXT, "ok", BUTTONS))
    thread = ConsoleThread(ThreadKey("console", "u", "terminal", "t"), tmp_path, language="zh-CN")
    assert say(ConsoleWords.SAVED, thread.language, path="x.mp4") == "💾 视频已保存到 x.mp4"


def test_upload_alone_gives_its_usage() -> None:
    for line in ("upload", "upload   ", "上传"):
        incoming, said = parse_line(line)
        assert incoming is None and said[0].startswith("Usage: upload PATH")


def test_a_missing_path_or_a_folder_is_said_and_not_sent(tmp_path: Path) -> None:
    incoming, said = parse_line(f"upload {tmp_path / 'nope.mp4'}")
    assert incoming is None and said == [f"⚠️ There is no file at {tmp_path / 'nope.mp4'}."]
    incoming, said = parse_line(f"upload {tmp_path}")
    assert incoming is None and said == [f"⚠️ {tmp_path} is a folder, not a file."]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"0" * 10)
    incoming, said = parse_line(f"upload {tmp_path / 'gone.png'} {clip} use it as the intro")
    assert said == [f"⚠️ There is no file at {tmp_path / 'gone.png'}."]
    assert incoming is not None and incoming.text == "use it as the intro"
    assert [(a.filename, a.size) for a in incoming.attachments] == [("clip.mp4", 10)]


def test_a_refused_type_and_a_large_file_read_as_sentences() -> None:
    with pytest.raises(UnsupportedFileType) as refused:
        check_upload("setup.exe", 1)
    text = explain(refused.value, "en")
    assert text.startswith("⚠️ I can't use setup.exe (.exe): NemoVideo doesn't accept that type")
    with pytest.raises(FileTooLarge) as large:
        check_upload("big.mp4", MAX_UPLOAD_BYTES + 100 * 1024 * 1024)
    assert explain(large.value, "en") == (
        "⚠️ That file is too large (big.mp4: 600 MB > 500 MB). Try compressing or trimming it."
    )
