"""The session language: the platform locale first, then the user's own words."""

from __future__ import annotations

import pytest

from core.language import session_language


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en-US", "en"),
        ("en_GB", "en"),
        ("EN", "en"),
        ("zh-CN", "zh-CN"),
        ("zh_CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-TW", "zh-TW"),
        ("zh-HK", "zh-TW"),
        ("zh-Hant", "zh-TW"),
        ("ja", "ja"),
        ("ja-JP", "ja"),
        ("es-ES", "es"),
        ("es-419", "es"),
        ("pt-BR", "pt"),
        ("fil", "fil"),
    ],
)
def test_locales(locale: str, expected: str) -> None:
    assert session_language(locale, "make a video") == expected


def test_the_locale_wins_over_the_text() -> None:
    assert session_language("en-US", "做一个视频") == "en"
    assert session_language("ja", "做一个视频") == "ja"


@pytest.mark.parametrize("locale", [None, "", "  ", "1234", "x"])
def test_without_a_usable_locale_the_text_decides(locale: str | None) -> None:
    assert session_language(locale, "做一个关于城市的视频") == "zh-CN"
    assert session_language(locale, "a city at night") == "en"
    assert session_language(locale, "a city at night", default="fr") == "fr"
