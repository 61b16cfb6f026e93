"""The bot's fixed sentences, in English and Chinese (picked when the user writes Chinese)."""

from __future__ import annotations

from typing import Any

from core.files import ACCEPTED_TYPES

_TEXT: dict[str, tuple[str, str]] = {
    "connecting": ("Connecting...", "连接中..."),
    "working": ("⏳ Still working... ({elapsed})", "⏳ Still working... 仍在处理中（{elapsed}）"),
    "busy": ("Working on your video...", "正在制作你的视频..."),
    "queued": (
        "📥 Got it. I'll start on this as soon as the current step finishes ({ahead} ahead).",
        "📥 收到。当前步骤完成后我会马上处理这条消息（前面还有 {ahead} 条）。",
    ),
    "stopped": ("🛑 Stopped.", "🛑 已停止。"),
    "stopped_queue": (
        "🛑 Stopped. Dropped {count} waiting message(s).",
        "🛑 已停止，并取消了 {count} 条排队消息。",
    ),
    "nothing_running": ("Nothing is running right now.", "当前没有正在进行的任务。"),
    "turn_done": ("✅ Done.", "✅ 完成。"),
    "no_text_changes": ("Done. Here's what changed:", "完成。以下是时间线的变化："),
    "no_text_same": (
        "Done. The agent finished without a reply and the timeline looks unchanged.",
        "完成。代理没有回复，时间线看起来没有变化。",
    ),
    "nothing_to_export": (
        "There's nothing to export yet: the timeline is empty. Describe the video you want first, "
        'e.g. "a 30-second cinematic sunset over mountains".',
        "还没有可以导出的内容：时间线是空的。请先描述你想要的视频，例如“30 秒的山间日落电影感短片”。",
    ),
    "render_started": ("🎬 Rendering your video... {progress}%", "🎬 正在渲染视频... {progress}%"),
    "render_running": (
        "🎬 A render is already running ({progress}%). I'll post the link here when it's done.",
        "🎬 已经有一个渲染在进行中（{progress}%），完成后我会在这里发链接。",
    ),
    "render_again": (
        "✅ Nothing changed since the last export, so here is the same video: {url}",
        "✅ 自上次导出后没有修改，这是同一个视频：{url}",
    ),
    "render_finished": ("🎬 Rendered (100%).", "🎬 渲染完成（100%）。"),
    "render_done": ("✅ Your video is ready: {url}", "✅ 视频已就绪：{url}"),
    "render_failed": (
        '⚠️ The render failed: {reason}. Say "export" to try again.',
        "⚠️ 渲染失败：{reason}。发送“导出”重试。",
    ),
    "render_cancelled": ("🛑 Render cancelled.", "🛑 渲染已取消。"),
    "credits": (
        "Credits: {available} available, {frozen} frozen, {total} total.",
        "积分：可用 {available}，冻结 {frozen}，总计 {total}。",
    ),
    "credits_low": (
        "Heads-up: a new generation costs about 100 credits, so this balance won't cover one.",
        "提示：一次生成大约需要 100 积分，当前余额不够。",
    ),
    "session_restarted": (
        "ℹ️ The video service had lost this conversation, so I started a fresh timeline.",
        "ℹ️ 视频服务丢失了这个会话，我已重新开始一条新的时间线。",
    ),
    "uploaded": ("📎 Uploaded:", "📎 已上传："),
    "interrupted": (
        '⚠️ I restarted while working on "{text}". I didn\'t re-send it, since that could charge '
        'twice. Send it again if you still want it, or say "status" to see the timeline.',
        "⚠️ 处理“{text}”时我重启了。为避免重复扣费，我没有重新发送。如仍需要请再发一次，或发送“状态”查看时间线。",
    ),
    "gui_show": ("Here's your timeline:", "这是你的时间线："),
    "gui_export": ("Exporting it for you now.", "正在为你导出。"),
    "gui_edit": ('↪️ Applying for you: "{text}"', "↪️ 正在为你执行：“{text}”"),
    "help": (
        "I turn descriptions into videos. Try:\n"
        '• a prompt, e.g. "a 30-second cinematic sunset over mountains, 1080p"\n'
        '• edits in the same thread: "add lo-fi music at 35%", "make the title bigger"\n'
        '• "status" for the timeline, "credits" for your balance, "export" for the MP4\n'
        "• attach video, images, audio or a script to use them\n"
        '• "stop" to cancel what\'s running',
        "我可以把文字描述变成视频。试试：\n"
        "• 描述，例如“30 秒的山间日落电影感短片，1080p”\n"
        "• 在同一线程里修改：“加上 35% 音量的 lo-fi 音乐”、“把标题调大”\n"
        "• “状态”查看时间线，“积分”查看余额，“导出”获取 MP4\n"
        "• 附上视频、图片、音频或脚本来使用它们\n"
        "• “停止”取消正在进行的任务",
    ),
    # errors
    "err_token": (
        "⚠️ My access to NemoVideo expired and renewing it failed. Please try again in a minute.",
        "⚠️ NemoVideo 访问凭证已过期且续期失败，请一分钟后再试。",
    ),
    "err_token_fixed": (
        "⚠️ NemoVideo rejected this workspace's API token. An admin needs to update NEMO_TOKEN.",
        "⚠️ NemoVideo 拒绝了本工作区的 API 令牌，需要管理员更新 NEMO_TOKEN。",
    ),
    "err_credits_anon": (
        "⚠️ You're out of NemoVideo credits. Register (free) to get more and keep this work: "
        "https://nemovideo.com/register?bind={user_id}",
        "⚠️ NemoVideo 积分不足。免费注册即可获得更多积分并保留当前作品：https://nemovideo.com/register?bind={user_id}",
    ),
    "err_credits": (
        "⚠️ You're out of NemoVideo credits. Top up at https://nemovideo.com to continue.",
        "⚠️ NemoVideo 积分不足，请到 https://nemovideo.com 充值后继续。",
    ),
    "err_type": (
        "⚠️ I can't use {detail}. Accepted types: " + ACCEPTED_TYPES + ".",
        "⚠️ 无法使用 {detail}。支持的类型：" + ACCEPTED_TYPES + "。",
    ),
    "err_size": (
        "⚠️ {detail}. Try compressing or trimming it (the limit is 500 MB).",
        "⚠️ {detail}。请压缩或剪短后再试（上限 500 MB）。",
    ),
    "err_export_plan": (
        "⚠️ Exporting is blocked by the NemoVideo plan tier (this is about the plan, not credits). "
        "Upgrade at https://nemovideo.com to download videos.",
        "⚠️ 当前 NemoVideo 套餐不支持导出（与积分无关）。请到 https://nemovideo.com 升级套餐。",
    ),
    "err_rate": (
        "⚠️ NemoVideo is rate-limiting us right now. Please try again in a minute.",
        "⚠️ NemoVideo 当前限流，请一分钟后再试。",
    ),
    "err_busy": (
        "⚠️ The video service is still busy with a previous request in this conversation. Try again shortly.",
        "⚠️ 视频服务仍在处理本会话的上一个请求，请稍后再试。",
    ),
    "err_timeout": (
        '⚠️ The video service took too long to answer ({detail}). Nothing was re-sent; say "status" to see where things stand.',
        "⚠️ 视频服务响应超时（{detail}）。没有重新发送；发送“状态”查看进度。",
    ),
    "err_interrupted": (
        "⚠️ The connection to the video service dropped mid-turn. Your request may still finish: "
        'say "status" in a moment. (I didn\'t re-send it, to avoid charging twice.)',
        "⚠️ 与视频服务的连接中断。你的请求可能仍会完成，稍后发送“状态”查看。（为避免重复扣费，我没有重新发送。）",
    ),
    "err_down": (
        "⚠️ I can't reach the video service right now ({detail}). Please try again in a few minutes.",
        "⚠️ 暂时无法连接视频服务（{detail}），请几分钟后再试。",
    ),
    "err_agent": (
        "⚠️ The video agent reported a problem: {detail}",
        "⚠️ 视频代理报告了一个问题：{detail}",
    ),
    "err_render": (
        '⚠️ The render failed: {detail}. Say "export" to try again.',
        "⚠️ 渲染失败：{detail}。发送“导出”重试。",
    ),
    "err_backend": ("⚠️ The video service refused: {detail}", "⚠️ 视频服务拒绝了请求：{detail}"),
    "err_file": ("⚠️ I couldn't use that file: {detail}", "⚠️ 无法使用该文件：{detail}"),
    "err_file_size_unknown": (
        "⚠️ I couldn't tell how big {name} is, so I skipped it. Please attach it again.",
        "⚠️ 无法确定 {name} 的大小，已跳过，请重新附加。",
    ),
    "err_internal": (
        "⚠️ Something went wrong on my side. Your conversation is safe: please try again.",
        "⚠️ 我这边出了点问题。你的会话没有丢失，请再试一次。",
    ),
}


def say(key: str, chinese: bool = False, **values: Any) -> str:
    en, zh = _TEXT[key]
    return (zh if chinese else en).format(**values)
