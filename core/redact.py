"""Keep secrets and machine talk out of chat: tokens are masked, raw JSON is not forwarded.

The patterns here are the platform-free ones (the backend's `nmv_` tokens, any `Bearer`
credential). Each chat adapter registers its own token shapes with `register_secret_patterns`
when the command line starts, before the first log line, so logs and chat text are masked for
every platform the process may talk to.
"""

from __future__ import annotations

import json
import re

_PATTERNS: list[str] = [r"nmv_(?:usr|api|sk)_[A-Za-z0-9_\-]+", r"Bearer\s+[A-Za-z0-9._\-]+"]
_SECRET = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))


def register_secret_patterns(*patterns: str) -> None:
    """Add token shapes to mask everywhere; registering one twice is harmless."""
    global _SECRET
    new = [pattern for pattern in patterns if pattern not in _PATTERNS]
    if new:
        re.compile("|".join(new))  # a bad pattern fails here, not inside a log call
        _PATTERNS.extend(new)
        _SECRET = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))


def mask_secrets(text: str) -> str:
    return _SECRET.sub("[redacted]", text)


def looks_like_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


def chat_safe(text: str) -> str:
    """Agent text fit for a chat message: no secrets, no bare JSON payloads."""
    if looks_like_json(text):
        return ""
    return mask_secrets(text).strip()
