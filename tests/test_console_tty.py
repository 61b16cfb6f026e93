"""`jupiter console --offline` on a terminal, as a person uses it: a pseudo-terminal, keys typed,
the screen read back."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ANSWER_DEADLINE = 90.0  # generous: two cores shared with the rest of the suite
PROMPT = "you> "


@dataclass
class Terminal:
    process: subprocess.Popen[bytes]
    fd: int
    screen: str = field(default="")

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def read_until(self, pattern: str, after: int = 0, deadline: float = ANSWER_DEADLINE) -> int:
        """Read until `pattern` (a regex) appears at or past `after`; its end offset."""
        end = time.monotonic() + deadline
        while (found := re.compile(pattern).search(self.screen, after)) is None:
            left = end - time.monotonic()
            assert left > 0, f"no {pattern!r} on screen:\n{self.screen}"
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if ready:
                try:
                    self.screen += os.read(self.fd, 65536).decode("utf-8", "replace")
                except OSError:  # the child is gone
                    assert self.process.poll() is None, f"exited; screen:\n{self.screen}"
        return found.end()

    def ask(self, text: str, after: int = 0) -> tuple[int, int]:
        """At the next prompt past `after`, type `text`; where the typed line ends on screen
        and where the answer (its `(say: ...)` hint) does."""
        ready = self.read_until(re.escape(PROMPT), after)
        self.type(text + "\r")
        typed = self.read_until(re.escape(PROMPT + text), ready - len(PROMPT))
        return typed, self.read_until(r"\(say: [^)]*\)", typed)

    def interrupt(self) -> float:
        """Ctrl-C as the terminal sends it; how long until the process ended."""
        started = time.monotonic()
        self.type("\x03")
        status = self.process.wait(timeout=30)
        elapsed = time.monotonic() - started
        self.drain()
        assert status == 130, self.screen
        return elapsed

    def drain(self) -> None:
        while select.select([self.fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.screen += chunk.decode("utf-8", "replace")


def _own_terminal() -> None:
    """The pty becomes the child's controlling terminal, so Ctrl-C typed into it is a SIGINT."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPITER_", "NEMO_", "SLACK_", "DISCORD_"))
    }
    env.update(
        JUPITER_DATABASE_URL=f"sqlite:///{tmp_path / 'j.db'}",
        PYTHONPATH=str(ROOT),
        TERM="xterm",
    )
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bots", "console", "--offline"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        preexec_fn=_own_terminal,
    )
    os.close(slave)
    term = Terminal(process, master)
    try:
        yield term
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
        os.close(master)


def _chat_lines(screen: str) -> list[str]:
    return [line.split("\r")[-1].strip() for line in screen.replace("\r\n", "\n").split("\n")]


def _ends_promptly(terminal: Terminal, when: str) -> None:
    elapsed = terminal.interrupt()
    print(f"Ctrl-C {when}: exited with 130 in {elapsed:.2f} s")
    assert elapsed < 2.0
    assert "Traceback" not in terminal.screen


def test_the_prompt_follows_each_answer_and_no_log_line_shows(terminal: Terminal) -> None:
    typed, answer = terminal.ask("a 4-second sunset over mountains")
    assert "jupiter.log" in terminal.screen[:typed]  # where the logs went, said once
    terminal.read_until(re.escape(PROMPT), answer)
    assert "Connecting..." in terminal.screen[typed:answer]
    assert PROMPT + "Connecting" not in terminal.screen
    assert PROMPT not in terminal.screen[typed:answer]  # no prompt in front of the answer
    assert not [line for line in _chat_lines(terminal.screen) if line.startswith("{")]
    _ends_promptly(terminal, "at the prompt")


def test_ctrl_c_mid_turn_exits_130_promptly(terminal: Terminal) -> None:
    start = terminal.read_until(re.escape(PROMPT))
    terminal.type("a 30-second cinematic sunset over mountains\r")
    terminal.read_until("Connecting", start)
    _ends_promptly(terminal, "mid-turn")


def test_an_offline_export_arrives_within_seconds(terminal: Terminal) -> None:
    _, answer = terminal.ask("a 4-second sunset over mountains")
    ready = terminal.read_until(re.escape(PROMPT), answer)
    started = time.monotonic()
    terminal.type("export\r")
    # the agent's own "click Export" may have exported already: then it is the same video
    terminal.read_until("Saved the video to|same video", ready)
    agent_first = "as the agent suggested" in terminal.screen[:ready]
    seconds = time.monotonic() - started
    print(f"offline export delivered in {seconds:.1f} s (the agent's export first: {agent_first})")
    _ends_promptly(terminal, "after an export")
