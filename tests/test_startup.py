"""Start-up as an operator meets it: each misconfiguration ends with one line naming the
setting (status 2), or says what could not be reached; nothing serves forever in silence.
Every case runs `python -m bots ...` against loopback fakes."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from tests.fakes.discord_gateway import FakeDiscord
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 60.0


async def _jupiter(tmp_path: Path, *args: str, **env: str) -> tuple[int, list[str]]:
    """Run to its end with empty stdin; the status and the stderr lines that are not logs."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPITER_", "NEMO_", "SLACK_", "DISCORD_"))
    }
    base.update(
        {
            "PYTHONPATH": str(ROOT),
            "JUPITER_DATABASE_URL": f"sqlite:///{tmp_path / 'j.db'}",
            "JUPITER_HTTP_PORT": "0",
            **env,
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        *args,
        cwd=tmp_path,
        env=base,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(DEADLINE):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = stderr.decode()
    assert "Traceback" not in text, text
    said = [line for line in text.splitlines() if not line.startswith("{")]
    assert process.returncode is not None
    return process.returncode, said or [line for line in text.splitlines() if "warning" in line]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("mode", "bot_token", "app_token", "named"),
    [
        ("--http", "xoxb-bogus", None, "SLACK_BOT_TOKEN"),
        ("--socket", None, "xapp-1-bogus", "SLACK_APP_TOKEN"),  # Socket Mode gives up
    ],
)
async def test_a_refused_slack_token_exits_2_naming_it(
    tmp_path: Path, mode: str, bot_token: str | None, app_token: str | None, named: str
) -> None:
    async with FakeSlack() as slack:
        tokens = {"SLACK_BOT_TOKEN": bot_token or slack.bot_token}
        tokens.update({"SLACK_APP_TOKEN": app_token} if app_token else {})
        status, said = await _jupiter(
            tmp_path,
            "slack",
            mode,
            "--offline",
            SLACK_SIGNING_SECRET="s3cret",
            SLACK_API_URL=slack.api_url,
            **tokens,
        )
    assert status == 2
    assert len(said) == 1 and named in said[0] and "invalid_auth" in said[0]
    assert "bogus" not in said[0]


async def test_a_refused_discord_token_exits_2_naming_it(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        status, said = await _jupiter(
            tmp_path,
            "discord",
            "--offline",
            DISCORD_TOKEN="bogus-token",
            DISCORD_API_URL=fake.api_url,
            DISCORD_GATEWAY_URL=fake.gateway_url,
        )
    assert status == 2
    assert len(said) == 1 and "DISCORD_TOKEN" in said[0]


async def test_an_unreachable_discord_says_so_naming_the_url_setting(tmp_path: Path) -> None:
    status, said = await _jupiter(
        tmp_path,
        "discord",
        "--offline",
        DISCORD_TOKEN="some-token",
        DISCORD_API_URL=f"http://127.0.0.1:{_closed_port()}/api/v10",
    )
    assert status == 1
    assert len(said) == 1 and "could not reach Discord" in said[0]
    assert "DISCORD_API_URL" in said[0]


async def test_an_uncreatable_database_path_exits_2_naming_the_setting(tmp_path: Path) -> None:
    status, said = await _jupiter(
        tmp_path, "console", "--offline", JUPITER_DATABASE_URL="sqlite:////proc/nope/jupiter.db"
    )
    assert status == 2
    assert len(said) == 1 and said[0].startswith("jupiter: JUPITER_DATABASE_URL: cannot create")
    assert "/proc/nope" in said[0]


async def test_a_relative_database_path_is_said(tmp_path: Path) -> None:
    status, said = await _jupiter(
        tmp_path, "console", "--offline", JUPITER_DATABASE_URL="sqlite:///data/jupiter.db"
    )
    assert status == 0
    assert any("relative path" in line and str(tmp_path / "data") in line for line in said)
    assert (tmp_path / "data" / "jupiter.db").exists()


async def test_an_unknown_setting_is_warned_about_with_the_closest_name(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NEMO_BASE_ULR=http://127.0.0.1:1\n", encoding="utf-8")
    status, said = await _jupiter(tmp_path, "console", "--offline", JUPITER_HEARTBEAT="5")
    assert status == 0
    text = "\n".join(said)
    assert "JUPITER_HEARTBEAT " in text and "did you mean JUPITER_HEARTBEAT_SECONDS" in text
    assert "NEMO_BASE_ULR" in text and "did you mean NEMO_BASE_URL" in text
