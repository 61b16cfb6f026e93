"""The terminal adapter: chat with the engine from a shell, interactively or piped.

Piped input runs one line at a time and waits for its work (turns, renders) before reading the
next, so `printf 'prompt\\nexport\\n' | jupiter console --offline` reads like a transcript and
exits 0 when everything is done. Interactively, lines are taken as they come, like a chat.
Files: `upload PATH [PATH...] [text]` attaches local files.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import shlex
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

from bots.base.words import LABELS
from bots.console_words import ConsoleWords
from core.language import reply_language
from core.messages import say
from core.port import Attachment, Incoming, Reply, ReplyKind, ThreadKey
from core.runtime import Runtime

_UPLOAD = re.compile(r"^\s*(?:/?upload|上传)\s+(.+)$", re.I | re.S)
CHUNK = 256 * 1024


class ConsoleThread:
    """ChatThread for a terminal: replies are printed; videos are saved under `out_dir`."""

    def __init__(
        self, key: ThreadKey, out_dir: Path, stream: TextIO | None = None, spinner: bool = False
    ) -> None:
        self.key = key
        self._out_dir = out_dir
        self._stream = stream or sys.stdout
        self._next_id = 0
        self._spinner_on = spinner
        self._spinner: asyncio.Task[None] | None = None
        self.saved: list[Path] = []

    @property
    def upload_limit(self) -> int:
        return 1 << 40

    def _print(self, text: str) -> None:
        if self._spinner is not None:
            sys.stderr.write("\r\033[K")
        print(text, file=self._stream, flush=True)

    async def post(self, reply: Reply) -> str:
        """A reply is one printed block, so its id is its first (and only) message's."""
        self._next_id += 1
        self._print(render(reply))
        return str(self._next_id)

    async def update(self, message_id: str, reply: Reply) -> None:
        self._print(render(reply))

    async def upload(
        self, filename: str, size: int, chunks: AsyncIterator[bytes], reply: Reply
    ) -> None:
        path = self._out_dir / Path(filename).name
        await asyncio.to_thread(self._out_dir.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(path.open, "wb")
        try:
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        self.saved.append(path)
        self._print(say(ConsoleWords.SAVED, reply.language, path=path))

    async def set_busy(self, text: str | None) -> None:
        """A spinner on the terminal (interactive only) while a turn runs."""
        if not self._spinner_on:
            return
        if text is None:
            if self._spinner is not None:
                self._spinner.cancel()
                self._spinner = None
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()
        elif self._spinner is None:
            self._spinner = asyncio.create_task(self._spin(text))

    async def _spin(self, text: str) -> None:
        frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
        started = time.monotonic()
        for index in range(1 << 30):
            elapsed = int(time.monotonic() - started)
            sys.stderr.write(f"\r{frames[index % len(frames)]} {text} {elapsed}s")
            sys.stderr.flush()
            await asyncio.sleep(0.1)

    async def find_delivery(self, marker: str) -> bool:
        """The terminal keeps no record but the saved file (`jupiter-<render id>.mp4`)."""
        return await asyncio.to_thread((self._out_dir / f"jupiter-{marker}.mp4").exists)

    async def open_attachment(
        self, attachment: Attachment, language: str = "en"
    ) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(Path(attachment.source).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)


def render(reply: Reply) -> str:
    """A reply as terminal text: the message, its detail lines, and the buttons as hints."""
    lines = [reply.text]
    lines.extend(f"  {line}" for line in reply.details)
    if reply.buttons and reply.kind is not ReplyKind.STATUS:
        choices = " / ".join(say(LABELS[b], reply.language).lower() for b in reply.buttons)
        lines.append(say(ConsoleWords.SAY, reply.language, choices=choices))
    return "\n".join(lines)


def parse_line(line: str) -> Incoming:
    """A console line as an Incoming; `upload PATH...` attaches local files."""
    match = _UPLOAD.match(line)
    if not match:
        return Incoming(line.strip(), user=getpass.getuser())
    try:
        words = shlex.split(match.group(1))
    except ValueError:
        words = match.group(1).split()
    files: list[Attachment] = []
    rest: list[str] = []
    for word in words:
        path = Path(word).expanduser()
        if path.is_file():
            files.append(Attachment(path.name, path.stat().st_size, str(path.resolve())))
        elif not files and ("/" in word or "." in word):
            files.append(Attachment(path.name, None, str(path)))  # reported as unreadable
        else:
            rest.append(word)
    return Incoming(" ".join(rest), tuple(files), user=getpass.getuser())


async def _read_lines(interactive: bool) -> AsyncIterator[str]:
    while True:
        try:
            line = (
                await asyncio.to_thread(input, "you> ")
                if interactive
                else await asyncio.to_thread(sys.stdin.readline)
            )
        except EOFError:
            return
        if not interactive and line == "":
            return
        yield line.rstrip("\n")


async def chat(rt: Runtime, out_dir: Path, *, interactive: bool | None = None) -> int:
    """Run the console until stdin ends; returns the exit status."""
    if interactive is None:
        interactive = sys.stdin.isatty()
    if interactive:
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:
            pass
    user = getpass.getuser()
    key = ThreadKey("console", user, "terminal", f"{int(time.time() * 1000)}-{os.getpid()}")
    spinner = interactive and sys.stderr.isatty()
    thread = ConsoleThread(key, out_dir, spinner=spinner)
    rt.engine.register("console", lambda k: ConsoleThread(k, out_dir))
    if interactive:
        print(say(ConsoleWords.WELCOME, reply_language("", os.environ.get("LANG"))))
    async for line in _read_lines(interactive):
        if not line.strip():
            continue
        await rt.engine.handle(thread, parse_line(line))
        if not interactive:
            await rt.engine.idle()
    await rt.engine.idle()
    return 0
