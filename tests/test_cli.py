"""The `jupiter` command line as a user (and the acceptance checks) drive it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import httpx

from core import __version__

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPITER_", "NEMO_", "SLACK_", "DISCORD_"))
    }
    env.update({"JUPITER_DATABASE_URL": f"sqlite:///{tmp_path / 'j.db'}", **extra})
    return env


def _jupiter(
    tmp_path: Path, *args: str, stdin: str = "", timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bots", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        env={**_env(tmp_path, **env), "PYTHONPATH": str(ROOT)},
    )


def test_piped_console_runs_turns_in_order_and_saves_the_mp4(tmp_path: Path) -> None:
    script = "a 4-second sunset over mountains\nadd lo-fi music at 35%\nstatus\ncredits\nexport\n"
    result = _jupiter(
        tmp_path,
        "console",
        "--offline",
        "--out",
        "clips",
        stdin=script,
        JUPITER_RENDER_POLL_SECONDS="0.2",
        JUPITER_HEARTBEAT_SECONDS="0.5",
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.startswith("Connecting...")
    assert out.count("Connecting...") == 2
    assert "Timeline (3 tracks): 1. Video: sunset over mountains (0-4s)" in out
    assert "35%" in out
    assert "Credits:" in out and "available" in out and "total" in out
    assert "✅ Your video is ready: http://127.0.0.1:" in out
    saved = list((tmp_path / "clips").glob("*.mp4"))
    # one for "export"; the agent's "click Export" after the generation may have exported too
    assert 1 <= len(saved) <= 2 and all(path.name in out for path in saved)
    with av.open(str(max(saved))) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.duration is not None and abs(container.duration / 1e6 - 4.0) < 0.3
    assert all(
        path.with_suffix(".jpg").read_bytes()[:2] == b"\xff\xd8" for path in saved
    )  # posters
    for line in result.stderr.splitlines():  # logs are JSON lines with a level
        assert line.startswith("{") and '"level"' in line, line


def test_bad_setting_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    result = _jupiter(tmp_path, "console", "--offline", JUPITER_HEARTBEAT_SECONDS="soon")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "JUPITER_HEARTBEAT_SECONDS" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    assert _jupiter(tmp_path, "teleport").returncode == 2


def test_slack_without_credentials_names_the_missing_setting(tmp_path: Path) -> None:
    result = _jupiter(tmp_path, "slack", "--http", timeout=60)
    assert result.returncode == 2
    assert "SLACK_" in result.stderr and "Traceback" not in result.stderr


def test_sim_command_serves_the_protocol(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bots",
            "sim",
            "--port",
            str(port),
            "--seed",
            "3",
            "--turn-seconds",
            "0.1",
        ],
        cwd=tmp_path,
        env={**_env(tmp_path), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                faults = httpx.get(f"http://127.0.0.1:{port}/_sim/faults", timeout=2).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert faults["turn_seconds"] == 0.1
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/anonymous-token",
            headers={
                "X-Client-Id": "cli-test",
                "X-Skill-Source": "jupiter-text-to-video",
                "X-Skill-Version": __version__,
                "X-Skill-Platform": "console",
            },
        ).json()
        assert token["code"] == 0 and token["data"]["token"].startswith("nmv_usr_")
    finally:
        process.terminate()
        process.wait(timeout=20)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def test_core_knows_no_chat_platform() -> None:
    code = (
        "import sys, pkgutil, importlib, core, bots.base\n"
        "for m in pkgutil.walk_packages(core.__path__, 'core.'):\n"
        "    importlib.import_module(m.name)\n"
        "for m in pkgutil.walk_packages(bots.base.__path__, 'bots.base.'):\n"
        "    importlib.import_module(m.name)\n"
        "import bots.cli\n"
        "bots.cli.adapters()  # the registration table: no adapter's SDK loads with it\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('slack_bolt', 'slack_sdk', 'discord')]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_core_names_no_chat_platform_in_code_or_docs() -> None:
    """Not an import only: no name, docstring or comment in core/ mentions a chat platform.
    (The backend's `X-Skill-Platform` value comes from `ThreadKey.platform`, set by adapters.)"""
    from bots.cli import ADAPTERS

    names = re.compile("|".join(re.escape(name) for name in ("slack", "discord", *ADAPTERS)), re.I)
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "core").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if names.search(line)
    ]
    assert found == []


def test_sigterm_shuts_down_cleanly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bots", "console", "--offline"],
        cwd=tmp_path,
        env={**_env(tmp_path), "PYTHONPATH": str(ROOT), "JUPITER_LOG_LEVEL": "INFO"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        while "local backend started" not in process.stderr.readline():
            assert time.monotonic() < deadline and process.poll() is None
        process.terminate()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def test_the_console_words_its_hints_in_the_reply_language() -> None:
    from bots.console import render
    from core.port import Action, Reply, ReplyKind

    buttons = (Action.EXPORT, Action.STATUS)
    assert render(Reply(ReplyKind.TEXT, "done", buttons)) == "done\n  (say: export / status)"
    chinese = render(Reply(ReplyKind.TEXT, "好了", buttons, language="zh-CN"))
    assert chinese == "好了\n  （可以说：导出 / 状态）"


def test_a_secret_key_that_cannot_open_the_store_exits_2(tmp_path: Path) -> None:
    import asyncio

    from core.store import TenantRow, open_store

    async def seed() -> None:
        store = await open_store(f"sqlite:///{tmp_path / 'j.db'}", secret_key="right")
        await store.put_tenant(TenantRow("console", "local", "client-abc", "tok"))
        await store.close()

    asyncio.run(seed())
    done = _jupiter(tmp_path, "console", "--offline", JUPITER_SECRET_KEY="wrong", timeout=60)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("{")]  # logs aside
    assert len(lines) == 1 and "JUPITER_SECRET_KEY" in lines[0] and "Traceback" not in done.stderr


def test_quit_ends_the_console_without_costing_a_turn(tmp_path: Path) -> None:
    done = _jupiter(tmp_path, "console", "--offline", stdin="status\nquit\ncredits\n")
    assert done.returncode == 0, done.stderr
    assert "Timeline (0 tracks)" in done.stdout and "Credits:" not in done.stdout
