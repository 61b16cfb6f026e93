"""One voice: every sentence in every language, reply languages as values, and the pure
function that turns what happened in a turn into its reply."""

from __future__ import annotations

from enum import StrEnum

import pytest

from core.engine.directory import ThreadDirectory
from core.engine.reply import BUTTONS, TurnOutcome, compose_reply
from core.gui import GuiAction
from core.language import reply_language
from core.messages import CATALOGUE, Msg, register, say, supported
from core.port import ReplyKind, ThreadKey
from tests.fakes.thread import FakeThread


@pytest.mark.parametrize("language", sorted(CATALOGUE))
def test_every_language_names_every_sentence_with_the_same_fields(language: str) -> None:
    english = CATALOGUE["en"]
    table = CATALOGUE[language]
    assert set(table) == set(english)
    for key, text in english.items():
        fields = {f for f in _fields(text)}
        assert {f for f in _fields(table[key])} == fields, key


def _fields(text: str) -> set[str]:
    import string

    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_a_language_without_a_table_reads_english_and_regional_tags_find_their_table() -> None:
    assert say(Msg.STOPPED, "ja") == say(Msg.STOPPED, "en") == "🛑 Stopped."
    assert say(Msg.STOPPED, "zh-TW") == say(Msg.STOPPED, "zh-CN") == "🛑 已停止。"
    assert supported("zh_Hant_TW") == "zh-CN" and supported(None) is None


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("导出", None, "zh-CN"),
        ("export", "zh-CN", "en"),  # the words decide when there are words
        ("", "zh-CN", "zh-CN"),  # a click or a bare file: the locale
        ("", "es-ES", "en"),  # no Spanish table yet
        ("👍", None, "en"),
    ],
)
def test_reply_language_follows_words_then_locale(
    text: str, locale: str | None, expected: str
) -> None:
    assert reply_language(text, locale) == expected


def outcome(**kw: object) -> TurnOutcome:
    fields: dict[str, object] = {
        "language": "en",
        "final": None,
        "spoke": False,
        "gui": frozenset(),
        "summary": "Timeline (1 tracks): ...",
        "changes": (),
    }
    fields.update(kw)
    return TurnOutcome(**fields)  # type: ignore[arg-type]


def test_the_agents_last_words_are_the_answer_with_the_summary() -> None:
    reply = compose_reply(outcome(final="Here you go", spoke=True))
    assert (reply.kind, reply.text, reply.buttons) == (ReplyKind.TEXT, "Here you go", BUTTONS)
    assert reply.details == ("Timeline (1 tracks): ...",)


def test_words_already_posted_close_with_done_and_an_unreadable_timeline_keeps_them() -> None:
    assert compose_reply(outcome(spoke=True)).text == "✅ Done."
    unread = compose_reply(outcome(spoke=True, summary=None))
    assert unread.kind is ReplyKind.TEXT and unread.details == ()


def test_no_words_says_what_changed_or_that_nothing_did_in_the_reply_language() -> None:
    changed = compose_reply(outcome(changes=("added BGM 'Lo-fi' at 35%",)))
    assert changed.text == say(Msg.NO_TEXT_CHANGES)
    assert changed.details[0] == "added BGM 'Lo-fi' at 35%"
    same = compose_reply(outcome(language="zh-CN"))
    assert same.text == say(Msg.NO_TEXT_SAME, "zh-CN")


def test_gui_talk_is_announced_and_an_export_offers_no_buttons_of_its_own() -> None:
    export = compose_reply(outcome(gui=frozenset({GuiAction.EXPORT, GuiAction.SHOW_STATE})))
    assert export.text == say(Msg.GUI_EXPORT) and export.buttons == ()
    show = compose_reply(outcome(gui=frozenset({GuiAction.SHOW_STATE})))
    assert show.text == say(Msg.GUI_SHOW) and show.buttons == BUTTONS


def test_the_thread_directory_is_bounded_and_rebuilds_what_it_dropped() -> None:
    built: list[ThreadKey] = []

    def resolve(key: ThreadKey) -> FakeThread:
        built.append(key)
        return FakeThread(key)

    directory = ThreadDirectory(max_threads=3)
    directory.register("console", resolve)
    keys = [ThreadKey("console", "t", "c", str(n)) for n in range(5)]
    for key in keys:
        directory.remember(FakeThread(key))
    assert len(directory) == 3
    assert directory.get(keys[4]) is not None and built == []
    assert directory.get(keys[0]) is not None and built == [keys[0]]
    assert len(directory) == 3
    assert directory.get(ThreadKey("slack", "t", "c", "x")) is None


def _registered() -> list[type[StrEnum]]:
    """Every enum whose sentences are in the catalogue: the engine's and each adapter's."""
    import bots.base.words
    import bots.console_words
    import bots.discord.words
    import bots.slack.words

    return [
        Msg,
        bots.base.words.Words,
        bots.slack.words.SlackWords,
        bots.discord.words.DiscordWords,
        bots.console_words.ConsoleWords,
    ]


@pytest.mark.parametrize("enum", _registered(), ids=lambda enum: enum.__name__)
@pytest.mark.parametrize("language", sorted(CATALOGUE))
def test_every_registered_key_has_a_sentence_in_every_language(
    enum: type[StrEnum], language: str
) -> None:
    for key in enum:
        assert key in CATALOGUE[language], (language, key)
        assert _fields(CATALOGUE[language][key]) == _fields(CATALOGUE["en"][key]), key


def test_adapter_keys_never_collide_with_each_other_or_the_engine() -> None:
    values = [str(key) for enum in _registered() for key in enum]
    assert len(values) == len(set(values))


def test_register_refuses_a_key_already_in_the_catalogue() -> None:
    _registered()

    class Clash(StrEnum):
        STOPPED = "stopped"  # the engine's Msg.STOPPED, by value
        USAGE = "slack.usage"  # the Slack adapter's, by value

    before = {language: dict(table) for language, table in CATALOGUE.items()}
    with pytest.raises(ValueError, match="stopped"):
        register({"en": {Msg.STOPPED: "x"}, "zh-CN": {Msg.STOPPED: "x"}})
    with pytest.raises(ValueError, match=r"slack\.usage"):
        register({"en": {Clash.USAGE: "x"}, "zh-CN": {Clash.USAGE: "x"}})
    with pytest.raises(ValueError, match="stopped"):
        register({"en": {Clash.STOPPED: "x"}, "zh-CN": {Clash.STOPPED: "x"}})
    assert {language: dict(table) for language, table in CATALOGUE.items()} == before
