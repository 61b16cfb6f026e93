"""GUI talk becomes actions; everything else is forwarded as written."""

from __future__ import annotations

import pytest

from core.gui import GuiAction, translate


@pytest.mark.parametrize(
    "text",
    [
        "Click Export to get your video.",
        "Just click the export button.",
        "Tap Download when you are ready.",
        "点击导出。",
        "点击导出按钮即可下载视频。",
        "Press the download icon!",
        "Hit export.",
        "单击导出。",
        "按下导出。",
    ],
)
def test_click_export_is_export(text: str) -> None:
    result = translate(text)
    assert result.text == ""
    assert [action for action, _ in result.actions] == [GuiAction.EXPORT]


@pytest.mark.parametrize(
    "text",
    [
        "Open the effects panel to adjust the colour.",
        "Open the timeline.",
        "打开素材面板查看。",
        "You can preview the result in the timeline.",
        "Check the timeline preview.",
        "预览一下效果。",
        "Click the music track to change it.",
    ],
)
def test_panels_previews_and_other_clicks_show_the_state(text: str) -> None:
    result = translate(text)
    assert result.text == ""
    assert [action for action, _ in result.actions] == [GuiAction.SHOW_STATE]


@pytest.mark.parametrize(
    ("text", "edit"),
    [
        ("Drag the title to 0:05.", "move the title to 0:05"),
        ("You can drag the music to start at 3s!", "move the music to start at 3s"),
        ("拖拽标题到5秒。", "move标题到5秒"),
        ("拖动字幕到开头", "move字幕到开头"),
        ("把标题拖到5秒", "把标题move5秒"),
        ("Drop the logo at 0:03.", "move the logo at 0:03"),
    ],
)
def test_drag_becomes_an_edit_with_its_text(text: str, edit: str) -> None:
    assert translate(text).actions == ((GuiAction.EDIT, edit),)


def test_mixed_text_keeps_the_words_and_lists_actions_in_order() -> None:
    result = translate(
        "I added lo-fi music at 35%. Drag the title to 0:02. Then click Export when ready."
    )
    assert result.text == "I added lo-fi music at 35%."
    assert [action for action, _ in result.actions] == [GuiAction.EDIT, GuiAction.EXPORT]


def test_repeated_actions_are_performed_once_but_edits_each_time() -> None:
    result = translate("Click Export. Then click the Export button. Drag A to 1s. Drag B to 2s.")
    assert [action for action, _ in result.actions] == [
        GuiAction.EXPORT,
        GuiAction.EDIT,
        GuiAction.EDIT,
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Your video has a title, music and a city timelapse.",
        "Your video is ready to export.",
        "Done! Watch it here: https://cdn.nemovideo.ai/v/abc.mp4",
        "The clip is 2.5 s long. The title reads v1.2.",
        "第一行\n第二行。\n\n...and more",
        "视频已生成！标题是《城市之梦》。",
        "",
    ],
)
def test_ordinary_text_is_forwarded_unchanged(text: str) -> None:
    assert translate(text).text == text.strip()
    assert translate(text).actions == ()


def test_a_url_next_to_gui_talk_survives() -> None:
    result = translate("Your video is ready. Click Export, or open https://cdn.x.ai/a.mp4 now.")
    assert result.text == "Your video is ready."
    assert [action for action, _ in result.actions] == [GuiAction.EXPORT]
    result = translate("Here it is: https://cdn.x.ai/a.mp4. Drag the logo to the corner.")
    assert result.text == "Here it is: https://cdn.x.ai/a.mp4."
