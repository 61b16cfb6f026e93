"""The terminal under the console chat: chat lines scroll, one live line stays at the bottom.

What must hold on a terminal:
- the live line is the `you>` prompt with what is being typed, or else the current status
  ("Connecting...", a heartbeat, render progress) redrawn in place with `\\r` + clear-line;
  a chat line is printed above it, so the two never collide;
- the prompt appears only when the chat asks for it (`ask`), after an answer, never before one;
  text typed while work runs shows as `you> ...` at once and is kept across chat lines;
- keys are read by the event loop (cbreak mode, `add_reader`), not by a thread, so Ctrl-C
  (the terminal still sends SIGINT) ends the process at once, with no thread to wait for,
  and the terminal's modes are restored on the way out.

Piped (no terminal), every line is printed as it comes: status lines too, in order.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import sys
import termios
import tty
from collections.abc import Iterator
from typing import TextIO

PROMPT = "you> "
_CLEAR = "\r\033[K"
_BACKSPACE = ("\x7f", "\x08")
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Screen:
    """Where the console's words go; `live=False` is plain, line by line output."""

    def __init__(self, stream: TextIO | None = None, *, live: bool = False) -> None:
        self._out = stream or sys.stdout
        self.live = live
        self._status: str | None = None
        self._busy: str | None = None
        self._frame = 0
        self._asked = False
        self._shown = ""
        self.typed = ""

    def line(self, text: str) -> None:
        """A chat line: permanent, above the live line."""
        if not self.live:
            print(text, file=self._out, flush=True)
            return
        self._out.write(_CLEAR + text + "\n")
        self._draw()

    def status(self, text: str | None) -> None:
        """The line kept current: shown in place on a terminal, a plain line when piped."""
        if not self.live:
            if text is not None:
                self.line(text)
            return
        self._status = text
        self._draw()

    def busy(self, text: str | None) -> None:
        """A spinner in front of the status while work runs (terminal only)."""
        self._busy = text
        self._draw()

    def tick(self) -> None:
        self._frame += 1
        if self._busy is not None:
            self._draw()

    def ask(self) -> None:
        """Show the prompt: the answer is in, the user's turn."""
        self._asked = True
        self._draw()

    def submit(self) -> str:
        """The typed line is sent: it stays on screen after the prompt, and the prompt goes
        until the next answer."""
        text, self.typed = self.typed, ""
        self._asked = False
        self._status = None
        if self.live:
            self._out.write(_CLEAR + PROMPT + text + "\n")
            self._draw()
        return text

    def close(self) -> None:
        """The live line stays as it was, the cursor goes below it (like a shell's ^C), and
        whatever is said while shutting down prints as plain lines."""
        if self.live:
            self._out.write("\n" if self._shown else _CLEAR)
            self._out.flush()
        self.live = False

    def redraw(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self.live:
            return
        if self._asked or self.typed:
            shown = PROMPT + self.typed
        elif self._status is not None or self._busy is not None:
            frame = _SPINNER[self._frame % len(_SPINNER)] + " " if self._busy else ""
            shown = frame + (self._status or self._busy or "")
        else:
            shown = ""
        self._shown = shown
        self._out.write(_CLEAR + shown)
        self._out.flush()


class Keys:
    """A line editor for a terminal in cbreak mode: printable keys, backspace, Ctrl-U, Enter,
    Ctrl-D (end, on an empty line); escape sequences (arrows) are ignored."""

    def __init__(self, screen: Screen, lines: asyncio.Queue[str | None]) -> None:
        self._screen = screen
        self._lines = lines
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._escape = ""

    def feed(self, data: bytes) -> None:
        if not data:
            self._lines.put_nowait(None)
            return
        for char in self._decode.decode(data):
            self._key(char)
        self._screen.redraw()  # once per read, not per key

    def _key(self, char: str) -> None:
        if self._escape:
            self._escape += char
            if len(self._escape) > 2 and "@" <= char <= "~" or self._escape == "\x1bO" + char:
                self._escape = ""
            return
        screen = self._screen
        if char == "\x1b":
            self._escape = char
        elif char in "\r\n":
            self._lines.put_nowait(screen.submit())
        elif char in _BACKSPACE:
            screen.typed = screen.typed[:-1]
        elif char == "\x15":
            screen.typed = ""
        elif char == "\x04":
            if not screen.typed:
                self._lines.put_nowait(None)
        elif char.isprintable():
            screen.typed += char


@contextlib.contextmanager
def terminal_keys(screen: Screen, lines: asyncio.Queue[str | None]) -> Iterator[None]:
    """Cbreak mode and key reading for the lifetime of the chat; the modes are restored
    whatever ends it (Ctrl-C included)."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    keys = Keys(screen, lines)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        keys.feed(data)

    tty.setcbreak(fd, termios.TCSANOW)  # not TCSAFLUSH: keys typed ahead are kept
    loop.add_reader(fd, readable)
    try:
        yield
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        screen.close()
