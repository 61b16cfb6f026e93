"""The terminal adapter: chat with the engine from a shell, interactively or piped.

Piped input runs one line at a time and waits for its work (turns, renders) before reading the
next, so `printf 'prompt\\nexport\\n' | jupiter console --offline` reads like a transcript and
exits 0 when everything is done. Interactively, lines are taken as they come, like a chat, and
the `you>` prompt comes back when the engine has nothing left to do (see `console_screen`).
Files: `upload PATH [PATH...] [text]` attaches local files; a path that is missing or a folder
is answered here, before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import re
import shlex
import stat
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bots.base.words import LABELS
from bots.console_screen import Screen, terminal_keys
from bots.console_words import ConsoleWords
from core.intents import Intent, classify
from core.language import reply_language
from core.messages import say
from core.port import Attachment, Incoming, Reply, ReplyKind, ThreadKey
from core.runtime import Runtime

_UPLOAD = re.compile(r"^\s*(?:/?upload|上传)(?:\s+(.*))?$", re.I | re.S)
CHUNK = 256 * 1024
LINE_LIMIT = 1 << 20  # a pasted script is one line; StreamReader's 64 KiB default is too short


class ConsoleThread:
    """ChatThread for a terminal: replies are printed; videos are saved under `out_dir`.

    Status replies ("Connecting...", heartbeats, render progress) are the screen's live line;
    the reply that replaces one is printed as a chat line."""

    def __init__(
        self, key: ThreadKey, out_dir: Path, screen: Screen | None = None, language: str = "en"
    ) -> None:
        self.key = key
        self.language = language  # the user's last line's language, for the console's words
        self._out_dir = out_dir
        self._screen = screen or Screen()
        self._next_id = 0
        self._live: str | None = None  # the message id shown as the live status
        self.saved: list[Path] = []

    @property
    def upload_limit(self) -> int:
        return 1 << 40

    def _show(self, message_id: str, reply: Reply) -> None:
        if reply.kind is ReplyKind.STATUS:
            self._live = message_id
            self._screen.status(reply.text)
            return
        if self._live == message_id:
            self._live = None
            self._screen.status(None)
        self._screen.line(render(reply))

    async def post(self, reply: Reply) -> str:
        """A reply is one printed block, so its id is its first (and only) message's."""
        self._next_id += 1
        self._show(str(self._next_id), reply)
        return str(self._next_id)

    async def update(self, message_id: str, reply: Reply) -> None:
        self._show(message_id, reply)

    async def upload(
        self, filename: str, size: int, chunks: AsyncIterator[bytes], reply: Reply
    ) -> None:
        """Written to a temporary name and renamed once the last byte is in: a stream that
        fails (or breaks its bounds, see `core.client_media`) leaves no partial video behind."""
        path = self._out_dir / Path(filename).name
        part = path.with_name(path.name + ".part")
        await asyncio.to_thread(self._out_dir.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(part.open, "wb")
        try:
            try:
                async for chunk in chunks:
                    await asyncio.to_thread(handle.write, chunk)
            finally:
                await asyncio.to_thread(handle.close)
            await asyncio.to_thread(part.replace, path)
        except BaseException:
            await asyncio.to_thread(part.unlink, missing_ok=True)
            raise
        self.saved.append(path)
        self._screen.line(say(ConsoleWords.SAVED, reply.language, path=path))
        if reply.poster:  # the poster beside the video, for file browsers and previews
            await asyncio.to_thread(path.with_suffix(".jpg").write_bytes, reply.poster)

    async def set_busy(self, text: str | None) -> None:
        """A spinner in front of the live line while a turn runs (terminal only)."""
        self._screen.busy(text)

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


def parse_line(line: str, language: str = "en") -> tuple[Incoming | None, list[str]]:
    """A console line as an Incoming, and what to tell the user at once: `upload PATH...`
    attaches local files; a path that is not there (or not a file) is said, not sent, and
    `upload` alone gives its usage. None: nothing is left to send."""
    user = getpass.getuser()
    match = _UPLOAD.match(line)
    if not match:
        return Incoming(line.strip(), user=user), []
    if not (match.group(1) or "").strip():
        return None, [say(ConsoleWords.UPLOAD_USAGE, language)]
    try:
        words = shlex.split(match.group(1))
    except ValueError:
        words = match.group(1).split()
    files: list[Attachment] = []
    rest: list[str] = []
    problems: list[str] = []
    for word in words:
        path = Path(word).expanduser()
        try:
            if path.is_file():
                files.append(Attachment(path.name, path.stat().st_size, str(path.resolve())))
            elif path.is_dir():
                problems.append(say(ConsoleWords.NOT_A_FILE, language, path=word))
            elif not files and ("/" in word or "." in word):
                problems.append(say(ConsoleWords.NOT_FOUND, language, path=word))
            else:
                rest.append(word)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            problems.append(say(ConsoleWords.UNREADABLE, language, path=word, reason=reason))
    if not files:
        return None, problems or [say(ConsoleWords.UPLOAD_USAGE, language)]
    return Incoming(" ".join(rest), tuple(files), user=user), problems


def _pollable(fd: int) -> bool:
    """A pipe, socket or terminal can wait in the event loop; a file (or /dev/null) cannot."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)


async def _stdin_lines() -> AsyncIterator[str | None]:
    """Lines of stdin without a reading thread (a thread would hold up Ctrl-C); a file, which
    never blocks, is read directly."""
    if not _pollable(sys.stdin.fileno()):
        while line := await asyncio.to_thread(sys.stdin.readline):
            yield line.rstrip("\r\n")
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        while raw := await reader.readline():
            yield raw.decode("utf-8", "replace").rstrip("\r\n")
    finally:
        transport.close()


async def _keyboard_lines(screen: Screen) -> AsyncIterator[str | None]:
    """Keys are read from the moment the prompt shows: the terminal is in cbreak mode first."""
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    with terminal_keys(screen, lines):
        screen.ask()
        while (line := await lines.get()) is not None:
            yield line


async def _spin(screen: Screen) -> None:
    while True:
        await asyncio.sleep(0.1)
        screen.tick()


async def _prompt_when_idle(rt: Runtime, screen: Screen) -> None:
    await rt.engine.idle()
    screen.ask()


async def chat(
    rt: Runtime, out_dir: Path, *, interactive: bool | None = None, log_file: Path | None = None
) -> int:
    """Run the console until stdin ends; returns the exit status."""
    if interactive is None:
        interactive = sys.stdin.isatty()
    screen = Screen(live=interactive and sys.stdout.isatty())
    locale = os.environ.get("LANG")
    user = getpass.getuser()
    key = ThreadKey("console", user, "terminal", f"{int(time.time() * 1000)}-{os.getpid()}")
    thread = ConsoleThread(key, out_dir, screen, reply_language("", locale))
    rt.engine.register("console", lambda k: ConsoleThread(k, out_dir, screen))
    if interactive:
        screen.line(say(ConsoleWords.WELCOME, thread.language))
        if log_file is not None:
            screen.line(say(ConsoleWords.LOGS, thread.language, path=log_file))
    background: list[asyncio.Task[None]] = []
    if screen.live:
        background.append(asyncio.create_task(_spin(screen)))
    source = _keyboard_lines(screen) if screen.live else _stdin_lines()
    try:
        async for line in source:
            if line is None or not line.strip():
                screen.ask()
                continue
            thread.language = reply_language(line, locale)
            if classify(line) is Intent.QUIT:
                break  # "quit" / "exit" / "退出" end the console (pending work still finishes)
            incoming, said = parse_line(line, thread.language)
            for text in said:
                screen.line(text)
            if incoming is None:
                screen.ask()
                continue
            await rt.engine.handle(thread, incoming)
            if interactive:
                background = [task for task in background if not task.done()]
                background.append(asyncio.create_task(_prompt_when_idle(rt, screen)))
            else:
                await rt.engine.idle()
        await rt.engine.idle()
    finally:
        for task in background:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*background, return_exceptions=True)
    return 0
