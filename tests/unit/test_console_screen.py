"""The console's terminal pieces without a terminal: the line editor and the live line."""

from __future__ import annotations

import asyncio
import io

from bots.console_screen import PROMPT, Keys, Screen


def _keys() -> tuple[Keys, Screen, asyncio.Queue[str | None], io.StringIO]:
    out = io.StringIO()
    screen = Screen(out, live=True)
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    return Keys(screen, lines), screen, lines, out


def test_keys_edit_a_line_and_arrows_are_ignored() -> None:
    keys, _, lines, _ = _keys()
    keys.feed(b"ab\x7fc\x1b[A\x1bOB")
    keys.feed("d 日".encode()[:-1])  # a character split across two reads
    keys.feed("d 日".encode()[-1:] + b"\r")
    keys.feed(b"junk\x15ok\n")
    assert [lines.get_nowait(), lines.get_nowait()] == ["acd 日", "ok"]


def test_ctrl_d_ends_only_on_an_empty_line() -> None:
    keys, screen, lines, _ = _keys()
    keys.feed(b"half\x04")
    assert lines.empty() and screen.typed == "half"
    keys.feed(b"\x15\x04")
    assert lines.get_nowait() is None


def test_the_prompt_shows_only_when_asked_or_typed_into() -> None:
    keys, screen, _, out = _keys()
    screen.status("Connecting...")
    assert out.getvalue().endswith("\r\033[KConnecting...")
    screen.line("an answer")
    assert out.getvalue().endswith("an answer\n\r\033[KConnecting...")  # above the live line
    keys.feed(b"st")  # typing ahead takes the live line
    assert out.getvalue().endswith(PROMPT + "st")
    keys.feed(b"\x7f\x7f")
    assert out.getvalue().endswith("\r\033[KConnecting...")
    screen.status(None)
    screen.ask()
    assert out.getvalue().endswith("\r\033[K" + PROMPT)


def test_piped_output_is_plain_lines_in_order() -> None:
    out = io.StringIO()
    screen = Screen(out)
    screen.status("Connecting...")
    screen.busy("Working")
    screen.ask()
    screen.line("Done.")
    assert out.getvalue() == "Connecting...\nDone.\n"
