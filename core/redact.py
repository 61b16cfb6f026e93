"""Keep secrets and machine talk out of chat: tokens are masked, raw JSON is not forwarded."""

from __future__ import annotations

import json
import re

_SECRET = re.compile(
    r"(nmv_(?:usr|api|sk)_[A-Za-z0-9_\-]+|xox[abprs]-[A-Za-z0-9\-]+|xapp-[A-Za-z0-9\-]+"
    r"|Bearer\s+[A-Za-z0-9._\-]+|[MN][A-Za-z\d]{23,}\.[\w-]{6}\.[\w-]{27,})"
)


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
