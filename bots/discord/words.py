"""What the Discord adapter says in its own words, in every catalogue language.

Keys are prefixed `discord.` so they never meet the engine's `Msg` values; the tables are
registered with the catalogue when this module is imported. The operator's lines (a refused
token, intents, sharding: printed on the command line) stay English in `bots.discord.app`.
"""

from __future__ import annotations

from enum import StrEnum

from core.messages import register


class DiscordWords(StrEnum):
    THREAD_PERMISSION = "discord.thread_permission"
    NO_THREAD = "discord.no_thread"
    NOT_IN_THREAD = "discord.not_in_thread"
    NESTED_THREAD = "discord.nested_thread"
    CHANNEL_KIND = "discord.channel_kind"
    OTHER_THREAD = "discord.other_thread"
    ON_IT_HERE = "discord.on_it_here"
    ON_IT_BELOW = "discord.on_it_below"
    ASKED = "discord.asked"
    YOUR_THREAD = "discord.your_thread"
    ACK_EXPORT = "discord.ack_export"
    ACK_STATUS = "discord.ack_status"
    ACK_CREDITS = "discord.ack_credits"
    SORRY = "discord.sorry"
    THREAD_NAME = "discord.thread_name"
    REFUSED = "discord.refused"
    UNAVAILABLE = "discord.unavailable"
    REDIRECTS = "discord.redirects"
    PRIVATE_NO_UPLOAD = "discord.private_no_upload"
    PRIVATE_NO_FILES = "discord.private_no_files"


_EN: dict[StrEnum, str] = {
    DiscordWords.THREAD_PERMISSION: (
        "I can't open a thread here. Please give me the **Create Public Threads** and "
        "**Send Messages in Threads** permissions, or mention me in another channel."
    ),
    DiscordWords.NO_THREAD: (
        "I couldn't open a thread for this here. Mention me in a regular text channel, or use "
        "/video."
    ),
    DiscordWords.NOT_IN_THREAD: (
        "Use `/{command}` inside a video thread. Start one with `/video` or by mentioning me "
        "with a prompt."
    ),
    DiscordWords.NESTED_THREAD: (
        "Start a new video from a channel: this thread belongs to someone else."
    ),
    DiscordWords.CHANNEL_KIND: (
        "I can only start videos in text channels, threads I opened, and DMs."
    ),
    DiscordWords.OTHER_THREAD: "This button belongs to another video thread.",
    DiscordWords.ON_IT_HERE: "On it: I'll answer right here.",
    DiscordWords.ON_IT_BELOW: "On it: see below.",
    DiscordWords.ASKED: "🎬 {user} asked for a video:\n> {prompt}",
    DiscordWords.YOUR_THREAD: "Your video thread: {thread}",
    DiscordWords.ACK_EXPORT: "🎬 Exporting: the video will appear in this thread.",
    DiscordWords.ACK_STATUS: "📋 Checking the timeline…",
    DiscordWords.ACK_CREDITS: "💳 Checking credits…",
    DiscordWords.SORRY: "Something went wrong on my side. Please try again in a moment.",
    DiscordWords.THREAD_NAME: "Jupiter video",
    DiscordWords.REFUSED: "{filename} is not hosted on Discord's CDN",
    DiscordWords.UNAVAILABLE: (
        "Discord no longer serves {filename} (HTTP {status}); please upload it again"
    ),
    DiscordWords.REDIRECTS: "{filename}: too many redirects",
    DiscordWords.PRIVATE_NO_UPLOAD: "private answers take no files",
    DiscordWords.PRIVATE_NO_FILES: "{filename}: no files in private answers",
}

_ZH: dict[StrEnum, str] = {
    DiscordWords.THREAD_PERMISSION: (
        "我无法在这里开线程。请授予我 **创建公开子区** 和 **在子区中发送消息** 权限，"
        "或在其他频道提及我。"
    ),
    DiscordWords.NO_THREAD: "我无法在这里为此开线程。请在普通文字频道提及我，或使用 /video。",
    DiscordWords.NOT_IN_THREAD: (
        "请在视频线程里使用 `/{command}`。用 `/video` 或提及我并附上描述来开始一个。"
    ),
    DiscordWords.NESTED_THREAD: "请在频道里开始新视频：这个线程属于别人。",
    DiscordWords.CHANNEL_KIND: "我只能在文字频道、我开的线程和私信里制作视频。",
    DiscordWords.OTHER_THREAD: "这个按钮属于另一个视频线程。",
    DiscordWords.ON_IT_HERE: "收到：我会在这里回复。",
    DiscordWords.ON_IT_BELOW: "收到：请看下方。",
    DiscordWords.ASKED: "🎬 {user} 请求制作一个视频：\n> {prompt}",
    DiscordWords.YOUR_THREAD: "你的视频线程：{thread}",
    DiscordWords.ACK_EXPORT: "🎬 正在导出：视频会出现在这个线程里。",
    DiscordWords.ACK_STATUS: "📋 正在查看时间线…",
    DiscordWords.ACK_CREDITS: "💳 正在查看积分…",
    DiscordWords.SORRY: "我这边出了点问题。请稍后再试。",
    DiscordWords.THREAD_NAME: "Jupiter 视频",
    DiscordWords.REFUSED: "{filename} 不在 Discord 的 CDN 上",
    DiscordWords.UNAVAILABLE: "Discord 已不再提供 {filename}（HTTP {status}）；请重新上传",
    DiscordWords.REDIRECTS: "{filename}：重定向次数过多",
    DiscordWords.PRIVATE_NO_UPLOAD: "私密回复不能附带文件",
    DiscordWords.PRIVATE_NO_FILES: "{filename}：私密回复里没有文件",
}

register({"en": _EN, "zh-CN": _ZH})
