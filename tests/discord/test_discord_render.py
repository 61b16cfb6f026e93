"""How replies look on Discord: markdown rewriting, safe splitting, thread names, buttons."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bots.discord.buttons import TEMPLATE, custom_id
from bots.discord.incoming import DEFAULT_THREAD_NAME, thread_name
from bots.discord.markdown import MESSAGE_LIMIT, split_message, to_discord, width
from bots.discord.render import progress_bar, render
from core.port import Action, Reply, ReplyKind


def fences_balanced(piece: str) -> bool:
    """Every fence opened is closed, read as markdown: a closing fence has no info string."""
    open_fence = False
    for line in piece.split("\n"):
        stripped = line.strip()
        if not stripped.startswith("```"):
            continue
        if not open_fence:
            open_fence = True
        elif stripped == "```":
            open_fence = False
    return not open_fence


def test_markdown_discord_cannot_show_is_rewritten_and_code_is_left_alone() -> None:
    text = (
        "#### Plan\n"
        "| shot | length |\n|---|---|\n| sunset | 5 s |\n"
        "---\n"
        "![poster](https://x.test/p.png) and a line<br>break\n"
        "```md\n#### not a heading\n| not | a table |\n```"
    )
    assert to_discord(text) == (
        "**Plan**\n"
        "```\n| shot | length |\n|---|---|\n| sunset | 5 s |\n```\n"
        "\n"
        "[poster](https://x.test/p.png) and a line\nbreak\n"
        "```md\n#### not a heading\n| not | a table |\n```"
    )


def test_short_text_is_one_piece_and_empty_text_none() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("   ") == []


def test_a_split_inside_a_code_block_closes_and_reopens_the_fence() -> None:
    code = "\n".join(f"step_{i} = render(frame={i})" for i in range(200))
    pieces = split_message(f"Here you go:\n```python\n{code}\n```\nEnjoy!", 500)

    assert len(pieces) > 2
    for piece in pieces:
        assert width(piece) <= 500
        assert fences_balanced(piece), piece
    assert pieces[1].startswith("```python\n")
    assert pieces[-1].endswith("Enjoy!")


def test_a_long_line_is_cut_at_a_space_outside_inline_markup() -> None:
    line = " ".join(["**bold words here**", "`inline code span`", "plain"] * 80)
    for piece in split_message(line, 300):
        assert width(piece) <= 300
        assert piece.count("`") % 2 == 0
        assert piece.count("**") % 2 == 0


def test_width_counts_astral_characters_twice() -> None:
    assert width("🎬") == 2
    pieces = split_message("🎬" * 1500)
    assert all(width(p) <= MESSAGE_LIMIT for p in pieces)
    assert "".join(pieces) == "🎬" * 1500


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="`"),
                max_size=300,
            ),
            st.sampled_from(["```py", "```", ""]),
            st.text(alphabet="ab *_|~🎬", max_size=3000),
        ),
        max_size=40,
    ),
    st.integers(min_value=60, max_value=2000),
)
def test_split_pieces_fit_keep_every_character_and_balance_fences(
    lines: list[str], limit: int
) -> None:
    text = "\n".join(lines)
    pieces = split_message(text, limit)
    assert all(width(p) <= limit for p in pieces)

    def content(value: str) -> str:  # (a cut fence, ``` or ~~~, is closed and reopened)
        value = value.replace("```py", "").replace("```", "").replace("~~~", "")
        return re.sub(r"\s+", "", value)

    assert content("".join(pieces)) == content(text)
    if fences_balanced(text):
        assert all(fences_balanced(p) for p in pieces)


def test_a_reply_renders_details_buttons_and_the_link() -> None:
    reply = Reply(
        ReplyKind.VIDEO,
        "✅ Your video is ready",
        (Action.STATUS, Action.CREDITS),
        video_url="https://cdn.test/v.mp4",
        details=("Timeline (2 tracks): video 0-5 s",),
    )
    (message,) = render(reply)
    assert message.content == (
        "✅ Your video is ready\n• Timeline (2 tracks): video 0-5 s\nhttps://cdn.test/v.mp4"
    )
    assert message.buttons == (Action.STATUS, Action.CREDITS)


def test_progress_without_a_number_in_the_text_gets_a_bar() -> None:
    (message,) = render(Reply(ReplyKind.STATUS, "🎬 Rendering", progress=30))
    assert message.content == "🎬 Rendering ▰▰▰▱▱▱▱▱▱▱ 30%"
    (same,) = render(Reply(ReplyKind.STATUS, "🎬 Rendering... 30%", progress=30))
    assert same.content == "🎬 Rendering... 30%"
    assert progress_bar(150) == "▰" * 10 + " 100%"


def test_an_empty_reply_is_still_a_valid_message() -> None:
    (message,) = render(Reply(ReplyKind.TEXT, ""))
    assert message.content == "\u200b"  # Discord refuses an empty message


def test_thread_names_are_one_clean_line_of_at_most_100_characters() -> None:
    assert (
        thread_name("**A** `sunset` over <@123> the <:sun:42> sea") == "A sunset over the sun sea"
    )
    assert thread_name("# Title\nsecond line") == "Title second line"
    assert thread_name("see https://x.test/a?b=c now") == "see now"
    assert thread_name("<@123>") == DEFAULT_THREAD_NAME
    long = thread_name("word " * 60)
    assert len(long) <= 100 and long.endswith("…")
    assert len(thread_name("x" * 300)) == 100


def test_button_ids_carry_the_action_and_the_thread() -> None:
    for action in Action:
        match = re.fullmatch(TEMPLATE, custom_id(action, 1234567890123))
        assert match is not None
        assert match["action"] == action.value and match["thread"] == "1234567890123"
        assert len(custom_id(action, 2**63)) <= 100  # Discord's custom_id limit
    assert re.fullmatch(TEMPLATE, "jupiter:delete:1") is None


def test_buttons_are_labelled_in_the_reply_language() -> None:
    from bots.discord.buttons import button_view

    (message,) = render(Reply(ReplyKind.TEXT, "好了", (Action.EXPORT,), language="zh-CN"))
    assert message.language == "zh-CN"
    (chinese,) = button_view(message.buttons, 1, language=message.language).children
    (english,) = button_view((Action.EXPORT,), 1).children
    assert chinese.item.label == "导出"
    assert english.item.label == "Export"
