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
    FORM_TITLE = "discord.form_title"
    FORM_SERVER_TITLE = "discord.form_server_title"
    FORM_ASPECT = "discord.form_aspect"
    FORM_DURATION = "discord.form_duration"
    FORM_STYLE = "discord.form_style"
    FORM_LANGUAGE = "discord.form_language"
    FORM_SAVED = "discord.form_saved"
    FORM_CLEARED = "discord.form_cleared"
    FORM_NO_SERVER = "discord.form_no_server"
    FORM_NOT_MANAGER = "discord.form_not_manager"
    BY_DM = "discord.by_dm"
    NO_DM = "discord.no_dm"
    FORUM_PERMISSION = "discord.forum_permission"


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
    DiscordWords.FORM_TITLE: "Your defaults for new videos",
    DiscordWords.FORM_SERVER_TITLE: "This server's defaults for new videos",
    DiscordWords.FORM_ASPECT: "Aspect ratio",
    DiscordWords.FORM_DURATION: "Duration (seconds)",
    DiscordWords.FORM_STYLE: "Style",
    DiscordWords.FORM_LANGUAGE: "Language",
    DiscordWords.FORM_SAVED: "✅ Saved: {values}. New videos start with these.",
    DiscordWords.FORM_CLEARED: "✅ Cleared: new videos start without defaults.",
    DiscordWords.FORM_NO_SERVER: "Server defaults belong to a server: use `/settings` there.",
    DiscordWords.FORM_NOT_MANAGER: (
        "Only members with **Manage Server** can change this server's defaults; "
        "`/settings` alone changes yours."
    ),
    DiscordWords.BY_DM: "🎬 I can't post in this channel, so the finished video will come to you by DM.",
    DiscordWords.NO_DM: (
        "I couldn't send you a DM: allow direct messages from this app, then ask again."
    ),
    DiscordWords.FORUM_PERMISSION: (
        "I can't open a post in this forum. Please give me the **Send Messages** and "
        "**Create Posts** permissions here."
    ),
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
    DiscordWords.FORM_TITLE: "你的新视频默认设置",
    DiscordWords.FORM_SERVER_TITLE: "本服务器的新视频默认设置",
    DiscordWords.FORM_ASPECT: "画面比例",
    DiscordWords.FORM_DURATION: "时长（秒）",
    DiscordWords.FORM_STYLE: "风格",
    DiscordWords.FORM_LANGUAGE: "语言",
    DiscordWords.FORM_SAVED: "✅ 已保存：{values}。新视频将按此开始。",
    DiscordWords.FORM_CLEARED: "✅ 已清除：新视频将不带默认设置。",
    DiscordWords.FORM_NO_SERVER: "服务器默认设置属于服务器：请在服务器里使用 `/settings`。",
    DiscordWords.FORM_NOT_MANAGER: (
        "只有拥有 **管理服务器** 权限的成员才能修改本服务器的默认设置；单独使用 `/settings` 修改你自己的。"
    ),
    DiscordWords.BY_DM: "🎬 我无法在这个频道发消息，完成的视频会通过私信发给你。",
    DiscordWords.NO_DM: "我无法给你发私信：请允许此应用发送私信，然后再试一次。",
    DiscordWords.FORUM_PERMISSION: (
        "我无法在这个论坛发帖。请在这里授予我 **发送消息** 和 **创建帖子** 权限。"
    ),
}

register({"en": _EN, "zh-CN": _ZH})
