"""Which language a backend session speaks, from the platform locale or the user's words."""

from __future__ import annotations

from core.intents import is_chinese


def session_language(locale: str | None, text: str, default: str = "en") -> str:
    """ISO code for the backend (en, zh-CN, ja, es...): locale first, then the text itself."""
    if locale:
        tag = locale.replace("_", "-").strip()
        base, _, rest = tag.partition("-")
        base = base.lower()
        if base == "zh":
            subtags = {part.upper() for part in rest.split("-")}
            return "zh-TW" if subtags & {"TW", "HK", "MO", "HANT"} else "zh-CN"
        if base.isalpha() and 2 <= len(base) <= 3:
            return base
    if is_chinese(text):
        return "zh-CN"
    return default
