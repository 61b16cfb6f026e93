"""Keep secrets and machine talk out of chat: tokens are masked, raw JSON is not forwarded.

`backend_text` is the one gate for words that came from outside (the agent, a render's error,
a question's labels, an error's detail) on their way into a chat: bare JSON dropped, every
token shape masked, length bounded. `Reply` masks its own text and details too
(`core.port`), so a path that forgets the gate still shows no token.

The patterns here are the platform-free ones: the backend's `nmv_` tokens, any `Bearer`
credential, `sk-` API keys, and the common shapes of chat platform bot tokens (`xox?-...`, and
three dot-separated base64 parts). Claim tokens (`clm_`) are meant to be shown, in the task
link, and are not masked. Each chat adapter registers its own token shapes with
`register_secret_patterns` when the command line starts, before the first log line; every
mask applies them.

Every pattern must stay linear on hostile text (256 KB of one letter): a pattern that starts
with a character class is anchored by a look-behind, so it is tried once per word, not once per
character.
"""

from __future__ import annotations

import json
import re

_WORD_START = r"(?<![A-Za-z0-9_\-])"
_PATTERNS: list[str] = [
    r"nmv_(?:usr|api|sk)_[A-Za-z0-9_\-]+",
    r"Bearer\s+[A-Za-z0-9._\-~+/=]+",
    _WORD_START + r"sk-[A-Za-z0-9_\-]{16,}",
    _WORD_START + r"xox[a-z]-[A-Za-z0-9\-]+",
    _WORD_START + r"[A-Za-z0-9_\-]{20,}\.[A-Za-z0-9_\-]{6,7}\.[A-Za-z0-9_\-]{27,}",
]
_SECRET = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))
CUT_NOTE = " … (cut)"
BACKEND_TEXT_LIMIT = 64 * 1024  # characters of one backend text shown in a chat


def register_secret_patterns(*patterns: str) -> None:
    """Add token shapes to mask everywhere; registering one twice is harmless."""
    global _SECRET
    new = [pattern for pattern in patterns if pattern not in _PATTERNS]
    if new:
        re.compile("|".join(new))  # a bad pattern fails here, not inside a log call
        _PATTERNS.extend(new)
        _SECRET = re.compile("|".join(f"(?:{p})" for p in _PATTERNS))
        _clean.clear()  # a new shape may be in what was clean


# Short texts come back again and again (each heartbeat's "Still working", a status, a
# button's label): those found clean are remembered, a bounded number of them, so the next
# time costs a lookup. A text with a secret in it is never kept.
_clean: set[str] = set()
CLEAN_KEPT, CLEAN_LONGEST = 4096, 256


def mask_secrets(text: str) -> str:
    if text in _clean:
        return text
    masked = _SECRET.sub("[redacted]", text)
    if masked == text and len(text) <= CLEAN_LONGEST:
        if len(_clean) >= CLEAN_KEPT:
            _clean.clear()
        _clean.add(text)
    return masked


def looks_like_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters: the first part kept, and a note that the rest is gone."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(CUT_NOTE), 0)].rstrip() + CUT_NOTE


def chat_safe(text: str) -> str:
    """Agent text fit for a chat message: no secrets, no bare JSON payloads."""
    if looks_like_json(text):
        return ""
    return mask_secrets(text).strip()


def backend_text(text: object, limit: int = BACKEND_TEXT_LIMIT) -> str:
    """Anything the backend said, as chat text: the gate of the module docstring. Cut before it
    is masked, so the work is bounded whatever arrives."""
    value = text if isinstance(text, str) else ("" if text is None else str(text))
    return chat_safe(cut(value, limit))
