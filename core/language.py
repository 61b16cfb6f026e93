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


def reply_language(text: str, locale: str | None = None) -> str:
    """The catalogue language a reply is written in: the user's own words first (Chinese
    characters read Chinese, other letters English), else the platform locale where the
    catalogue has it (a button click, a bare file), else English."""
    from core.messages import DEFAULT_LANGUAGE, supported

    return words_language(text) or supported(locale) or DEFAULT_LANGUAGE


def words_language(text: str) -> str | None:
    """`reply_language` when the words alone decide it (any letters), else None: the locale
    is then not worth a lookup."""
    from core.messages import DEFAULT_LANGUAGE, supported

    if is_chinese(text):
        return supported("zh-CN") or DEFAULT_LANGUAGE
    if any(ch.isalpha() for ch in text):
        return DEFAULT_LANGUAGE
    return None
