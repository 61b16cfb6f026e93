"""Secrets never reach a chat, and neither does raw JSON."""

from __future__ import annotations

import pytest

from bots.cli import register_secrets
from core.redact import chat_safe, looks_like_json, mask_secrets


@pytest.fixture(autouse=True, scope="module")
def _adapters_patterns() -> None:
    """Slack's and Discord's token shapes are the adapters' to register, as `jupiter` does."""
    register_secrets()


DISCORD = "MTA" + "x" * 23 + ".Gabcde.abcdefghijklmnopqrstuvwxyz12"


@pytest.mark.parametrize(
    "secret",
    [
        "nmv_usr_abcDEF123-_xyz",
        "nmv_api_0123456789",
        "nmv_sk_live_abc",
        "xoxb-1234-5678-abcdEFGH",
        "xoxp-1-2-3-abc",
        "xapp-1-A0B1C2-123-abcdef",
        "Bearer eyJhbGciOi.abc-def_ghi",
        DISCORD,
    ],
)
def test_secrets_are_masked(secret: str) -> None:
    masked = mask_secrets(f"token is {secret}, keep going")
    assert masked == "token is [redacted], keep going"


def test_several_secrets_in_one_text() -> None:
    text = "Authorization: Bearer abc.def and nmv_usr_x1 and xoxb-9-9"
    masked = mask_secrets(text)
    assert masked == "Authorization: [redacted] and [redacted] and [redacted]"


def test_ordinary_text_is_untouched() -> None:
    text = "Your video is ready: https://cdn.nemovideo.ai/v/render_1700000000000.mp4 (35% BGM)"
    assert mask_secrets(text) == text


def test_a_text_found_clean_is_masked_again_once_a_new_shape_is_registered() -> None:
    """Clean short texts are remembered (heartbeats repeat them); a shape registered later
    applies to them too, and a text with a secret is masked every time, never remembered."""
    from core import redact

    text = "ticket qqz-0123456789abcdef here"
    assert mask_secrets(text) == text and mask_secrets(text) == text
    redact.register_secret_patterns(r"qqz-[0-9a-f]{16}")
    assert mask_secrets(text) == "ticket [redacted] here"
    assert mask_secrets(text) == "ticket [redacted] here"
    assert text not in redact._clean


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"token": "x"}', True),
        ("  [1, 2]  ", True),
        ("{not json", False),
        ("hello {world}", False),
        ("", False),
        ("42", False),
    ],
)
def test_looks_like_json(text: str, expected: bool) -> None:
    assert looks_like_json(text) is expected


def test_chat_safe() -> None:
    assert chat_safe('{"draft": {"t": []}}') == ""
    assert chat_safe("  Done, token nmv_usr_abc used.  ") == "Done, token [redacted] used."
    assert chat_safe("All good.") == "All good."
