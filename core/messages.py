"""Every sentence the product says, in one catalogue keyed by an enum.

A reply language is a value (`"en"`, `"zh-CN"`, ...) chosen per turn from the user's words and
locale (`reply_language`) and carried in the turn's context; nothing passes a "Chinese?" flag.
Each language is one table that must name every key (a test checks it); a third language is one
more table in `CATALOGUE`. Adapters keep their own sentences in the same catalogue: they define a
`StrEnum` of their keys and `register` a table per language at import, so every word the product
says is found, translated and checked the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from core.files import ACCEPTED_TYPES

DEFAULT_LANGUAGE = "en"


class Msg(StrEnum):
    """The engine's own sentences."""

    CONNECTING = "connecting"
    WORKING = "working"
    BUSY = "busy"
    QUEUED = "queued"
    STOPPED = "stopped"
    STOPPED_QUEUE = "stopped_queue"
    NOTHING_RUNNING = "nothing_running"
    TURN_DONE = "turn_done"
    NO_TEXT_CHANGES = "no_text_changes"
    NO_TEXT_SAME = "no_text_same"
    NOTHING_TO_EXPORT = "nothing_to_export"
    RENDER_STARTED = "render_started"
    RENDER_RUNNING = "render_running"
    RENDER_AGAIN = "render_again"
    RENDER_FINISHED = "render_finished"
    RENDER_DONE = "render_done"
    RENDER_FAILED = "render_failed"
    RENDER_CANCELLED = "render_cancelled"
    RENDER_TOO_SLOW = "render_too_slow"
    CREDITS = "credits"
    CREDITS_LOW = "credits_low"
    SESSION_RESTARTED = "session_restarted"
    UPLOADED = "uploaded"
    INTERRUPTED = "interrupted"
    GUI_SHOW = "gui_show"
    GUI_EXPORT = "gui_export"
    GUI_EDIT = "gui_edit"
    HELP = "help"
    ERR_TOKEN = "err_token"
    ERR_TOKEN_FIXED = "err_token_fixed"
    ERR_CREDITS_ANON = "err_credits_anon"
    ERR_CREDITS = "err_credits"
    ERR_TYPE = "err_type"
    ERR_SIZE = "err_size"
    ERR_EXPORT_PLAN = "err_export_plan"
    ERR_RATE = "err_rate"
    ERR_BUSY = "err_busy"
    ERR_TIMEOUT = "err_timeout"
    ERR_INTERRUPTED = "err_interrupted"
    ERR_DOWN = "err_down"
    ERR_AGENT = "err_agent"
    ERR_RENDER = "err_render"
    ERR_BACKEND = "err_backend"
    ERR_FILE = "err_file"
    ERR_FILE_SIZE_UNKNOWN = "err_file_size_unknown"
    ERR_INTERNAL = "err_internal"
    QUEUED_WAITING = "queued_waiting"
    ETA_MINUTES = "eta_minutes"
    ETA_SOON = "eta_soon"
    LIMIT_QUEUE = "limit_queue"
    LIMIT_DAILY = "limit_daily"
    LIMIT_CREDITS = "limit_credits"
    CREDITS_SPENT = "credits_spent"
    REFUSED_SO_FAR = "refused_so_far"  # the count a burst's one refusal message keeps current
    NEW_VIDEO = "new_video"
    VERSIONS_NONE = "versions_none"
    VERSIONS_HEAD = "versions_head"
    VERSIONS_NEW_VIDEO = "versions_new_video"
    VERSION_UNKNOWN = "version_unknown"
    VERSION_OF = "version_of"
    VERSION_AGAIN = "version_again"
    VIDEOS_NONE = "videos_none"
    VIDEOS_HEAD = "videos_head"
    SETTINGS_SHOW = "settings_show"
    SETTINGS_NONE = "settings_none"
    SETTINGS_HINT = "settings_hint"
    SETTING_SAVED = "setting_saved"
    SETTING_BAD = "setting_bad"
    HINT_ASPECT = "hint_aspect"
    HINT_DURATION = "hint_duration"
    HINT_STYLE = "hint_style"
    HINT_LANGUAGE = "hint_language"
    FIELD_ASPECT = "field_aspect"  # a default's name, as `set ...` and the settings say it
    FIELD_DURATION = "field_duration"
    FIELD_STYLE = "field_style"
    FIELD_LANGUAGE = "field_language"
    USING_DEFAULTS = "using_defaults"
    UNDO = "undo"
    QUIT_CHAT = "quit_chat"
    ERR_NOT_STORED = "err_not_stored"
    QUESTION_PICK = "question_pick"
    QUESTION_PICK_ONLY = "question_pick_only"
    QUESTION_FREE = "question_free"
    QUESTION_REMIND = "question_remind"
    QUESTION_ANSWERED = "question_answered"
    QUESTION_STALE = "question_stale"
    QUESTION_CLOSED = "question_closed"
    TASK_LINK = "task_link"
    EXPORT_PLAN_OPERATOR = "export_plan_operator"
    EXPORT_PLAN_OPERATOR_FIXED = "export_plan_operator_fixed"
    NEXT_STEPS = "next_steps"
    NEXT_MUSIC = "next_music"
    NEXT_TITLE = "next_title"
    NEXT_BIGGER_TITLE = "next_bigger_title"
    NEXT_MUSIC_VOLUME = "next_music_volume"
    NEXT_EXPORT = "next_export"
    STAGE_EXTRAS = "stage_extras"
    LOST_CHECKING = "lost_checking"
    LOST_FAILED = "lost_failed"
    NOTHING_TO_RETRY = "nothing_to_retry"


_EN: dict[StrEnum, str] = {
    Msg.CONNECTING: "Connecting...",
    Msg.WORKING: "⏳ Still working... ({elapsed})",
    Msg.BUSY: "Working on your video...",
    Msg.QUEUED: "📥 Got it. I'll start on this as soon as the current step finishes ({ahead} ahead of you, {eta}).",
    Msg.STOPPED: "🛑 Stopped.",
    Msg.STOPPED_QUEUE: "🛑 Stopped. Dropped {count} waiting message(s).",
    Msg.NOTHING_RUNNING: "Nothing is running right now.",
    Msg.TURN_DONE: "✅ Done.",
    Msg.NO_TEXT_CHANGES: "Done. Here's what changed:",
    Msg.NO_TEXT_SAME: "Done. The agent finished without a reply and the timeline looks unchanged.",
    Msg.NOTHING_TO_EXPORT: "There's nothing to export yet: the timeline is empty. Describe the video you want first, "
    'e.g. "a 30-second cinematic sunset over mountains".',
    Msg.RENDER_STARTED: "🎬 Rendering your video... {progress}%",
    Msg.RENDER_RUNNING: "🎬 A render is already running ({progress}%). I'll post the link here when it's done.",
    Msg.RENDER_AGAIN: "✅ Nothing changed since the last export, so here is the same video: {url}",
    Msg.RENDER_FINISHED: "🎬 Rendered (100%).",
    Msg.RENDER_DONE: "✅ Your video is ready: {url}",
    Msg.RENDER_FAILED: '⚠️ The render failed: {reason}. Say "export" to try again.',
    Msg.RENDER_CANCELLED: "🛑 Render cancelled.",
    Msg.RENDER_TOO_SLOW: "it did not finish in time",
    Msg.CREDITS: "Credits: {available} available, {frozen} frozen, {total} total.",
    Msg.CREDITS_LOW: "Heads-up: a new generation costs about 100 credits, so this balance won't cover one.",
    Msg.SESSION_RESTARTED: "ℹ️ The video service had lost this conversation, so I started a fresh timeline.",
    Msg.UPLOADED: "📎 Uploaded:",
    Msg.INTERRUPTED: '⚠️ I restarted while working on "{text}". I didn\'t re-send it, since that could charge '
    'twice. Send it again if you still want it, or say "status" to see the timeline.',
    Msg.GUI_SHOW: "Here's your timeline:",
    Msg.GUI_EXPORT: "🎬 Exporting it now, as the agent suggested.",
    Msg.GUI_EDIT: '↪️ Applying for you: "{text}"',
    Msg.HELP: "I turn descriptions into videos. Try:\n"
    '• a prompt, e.g. "a 30-second cinematic sunset over mountains, 1080p"\n'
    '• edits in the same thread: "add lo-fi music at 35%", "make the title bigger"\n'
    '• "status" for the timeline, "credits" for your balance, "export" for the MP4\n'
    "• attach video, images, audio or a script to use them\n"
    '• "stop" to cancel what\'s running',
    Msg.ERR_TOKEN: "⚠️ My access to NemoVideo expired and renewing it failed. Please try again in a minute.",
    Msg.ERR_TOKEN_FIXED: "⚠️ NemoVideo rejected this workspace's API token. An admin needs to update NEMO_TOKEN.",
    Msg.ERR_CREDITS_ANON: "⚠️ You're out of NemoVideo credits. Register (free) to get more and keep this work: "
    "https://nemovideo.com/register?bind={user_id}",
    Msg.ERR_CREDITS: "⚠️ You're out of NemoVideo credits. Top up at https://nemovideo.com to continue.",
    Msg.ERR_TYPE: "⚠️ I can't use {detail}: NemoVideo doesn't accept that type of file. Accepted types: "
    + ACCEPTED_TYPES
    + ".",
    Msg.ERR_SIZE: "⚠️ That file is too large ({detail}). Try compressing or trimming it.",
    Msg.ERR_EXPORT_PLAN: "⚠️ Exporting is blocked by the NemoVideo plan tier (this is about the plan, not credits). "
    "Upgrade at https://nemovideo.com to download videos.",
    Msg.ERR_RATE: "⚠️ NemoVideo is rate-limiting us right now. Please try again in a minute.",
    Msg.ERR_BUSY: "⚠️ The video service is still busy with a previous request in this conversation. Try again shortly.",
    Msg.ERR_TIMEOUT: '⚠️ The video service took too long to answer ({detail}). Nothing was re-sent; say "status" to see where things stand.',
    Msg.ERR_INTERRUPTED: "⚠️ The connection to the video service dropped mid-turn. Your request may still finish: "
    'say "status" in a moment. (I didn\'t re-send it, to avoid charging twice.)',
    Msg.ERR_DOWN: "⚠️ I can't reach the video service right now ({detail}). Please try again in a few minutes.",
    Msg.ERR_AGENT: "⚠️ The video agent reported a problem: {detail}",
    Msg.ERR_RENDER: '⚠️ The render failed: {detail}. Say "export" to try again.',
    Msg.ERR_BACKEND: "⚠️ The video service refused: {detail}",
    Msg.ERR_FILE: "⚠️ I couldn't use that file: {detail}",
    Msg.ERR_FILE_SIZE_UNKNOWN: "⚠️ I couldn't tell how big {name} is, so I skipped it. Please attach it again.",
    Msg.ERR_INTERNAL: "⚠️ Something went wrong on my side. Your conversation is safe: please try again.",
    Msg.QUEUED_WAITING: "📥 Got it. {waiting} messages are waiting; the first starts as soon as the current step finishes ({eta}).",
    Msg.ETA_MINUTES: "about {minutes} min",
    Msg.ETA_SOON: "under a minute",
    Msg.LIMIT_QUEUE: '⚠️ {limit} messages are already waiting in this thread (the limit, JUPITER_MAX_QUEUED_PER_THREAD), so I didn\'t take this one and nothing was charged. Send it again once they are done, or say "stop" to clear them.',
    Msg.LIMIT_DAILY: "⚠️ This would cost about {cost} credits and your daily budget has {left} left (JUPITER_USER_DAILY_CREDITS: {budget} a day), so I didn't send it. It resets at midnight UTC.",
    Msg.LIMIT_CREDITS: '⚠️ This would cost about {cost} credits and only {left} are left, so I didn\'t send it. Say "credits" for the balance.',
    Msg.CREDITS_SPENT: "Today you've spent about {spent} of your {budget} daily credits.",
    Msg.REFUSED_SO_FAR: "{count} messages refused for this so far; none was sent or charged.",
    Msg.NEW_VIDEO: '🆕 Starting a new video in this conversation: describe what you want. Earlier versions stay listed under "versions".',
    Msg.VERSIONS_NONE: "No versions yet: describe a video to make v1.",
    Msg.VERSIONS_HEAD: 'Versions in this conversation (say "export v2" to render one as it was):',
    Msg.VERSIONS_NEW_VIDEO: "— new video —",
    Msg.VERSION_UNKNOWN: 'There is no v{number} here. Say "versions" to list them.',
    Msg.VERSION_OF: 'Version v{number}: "{message}"',
    Msg.VERSION_AGAIN: "✅ v{number} was delivered already, so here it is again: {url}",
    Msg.VIDEOS_NONE: 'No videos delivered in this conversation yet. Say "export" when the timeline is ready.',
    Msg.VIDEOS_HEAD: "Videos delivered in this conversation:",
    Msg.SETTINGS_SHOW: "Your defaults for new videos: {values}.",
    Msg.SETTINGS_NONE: "You have no defaults for new videos yet.",
    Msg.SETTINGS_HINT: 'Change one with "set aspect 9:16", "set duration 15", "set style cinematic" or "set language zh".',
    Msg.SETTING_SAVED: "✅ Saved: {field} {value}. It applies to your next new video.",
    Msg.SETTING_BAD: '⚠️ I can\'t use "{value}" for {field}: {hint}',
    Msg.HINT_ASPECT: "use 16:9, 9:16, 1:1, 4:3 or 4:5.",
    Msg.HINT_DURATION: "use a number of seconds from 3 to 600.",
    Msg.HINT_STYLE: "use a short word or two, e.g. cinematic, anime, watercolor.",
    Msg.HINT_LANGUAGE: "use en or zh.",
    Msg.FIELD_ASPECT: "aspect",
    Msg.FIELD_DURATION: "duration",
    Msg.FIELD_STYLE: "style",
    Msg.FIELD_LANGUAGE: "language",
    Msg.USING_DEFAULTS: "Using your defaults: {values}",
    Msg.UNDO: 'There\'s no undo on the video service, but every change is a version: say "versions" to list them and "export v2" to get one as it was. To change the current video back, describe it ("remove the music").',
    Msg.QUIT_CHAT: "Nothing to quit here: this conversation simply waits for your next message.",
    Msg.ERR_NOT_STORED: "⚠️ I couldn't save your message (a storage problem on my side), so I can't work on it. "
    "Please send it again in a few minutes.",
    Msg.QUESTION_PICK: "Reply with a number or an option's name, or in your own words:",
    Msg.QUESTION_PICK_ONLY: "Reply with the number or the name of one option:",
    Msg.QUESTION_FREE: "Reply in your own words.",
    Msg.QUESTION_REMIND: "The agent is waiting for one of these options (reply with its number or name):",
    Msg.QUESTION_ANSWERED: "✅ Answered: {answer}",
    Msg.QUESTION_STALE: "That question was already answered: {answer}",
    Msg.QUESTION_CLOSED: "That question is no longer open; nothing was sent.",
    Msg.TASK_LINK: "Open this project in NemoVideo: {link}",
    Msg.EXPORT_PLAN_OPERATOR: "For operators: set NEMO_TOKEN to a NemoVideo API token with the `render` scope (made in NemoVideo's settings) to export from chat.",
    Msg.EXPORT_PLAN_OPERATOR_FIXED: "For operators: the configured NEMO_TOKEN has no `render` scope; replace it with a NemoVideo API token that has it.",
    Msg.NEXT_STEPS: "Next: {steps}",
    Msg.NEXT_MUSIC: "add music",
    Msg.NEXT_TITLE: "add a title",
    Msg.NEXT_BIGGER_TITLE: "make the title bigger",
    Msg.NEXT_MUSIC_VOLUME: "make the music quieter",
    Msg.NEXT_EXPORT: "export",
    Msg.STAGE_EXTRAS: "🎵 The video is made; adding music and a title...",
    Msg.LOST_CHECKING: "⚠️ The connection to the video service dropped mid-turn. I won't re-send it (that would charge twice); checking what the agent made...",
    Msg.LOST_FAILED: "⚠️ That step failed: the connection to the video service dropped and the timeline did not change. "
    'I didn\'t re-send it (that would charge twice). Click "Try again" (or say "retry") to send it once more.',
    Msg.NOTHING_TO_RETRY: "There is nothing to try again.",
}


_ZH: dict[StrEnum, str] = {
    Msg.CONNECTING: "连接中...",
    Msg.WORKING: "⏳ Still working... 仍在处理中（{elapsed}）",
    Msg.BUSY: "正在制作你的视频...",
    Msg.QUEUED: "📥 收到。当前步骤完成后我会马上处理这条消息（前面还有 {ahead} 条，{eta}）。",
    Msg.STOPPED: "🛑 已停止。",
    Msg.STOPPED_QUEUE: "🛑 已停止，并取消了 {count} 条排队消息。",
    Msg.NOTHING_RUNNING: "当前没有正在进行的任务。",
    Msg.TURN_DONE: "✅ 完成。",
    Msg.NO_TEXT_CHANGES: "完成。以下是时间线的变化：",
    Msg.NO_TEXT_SAME: "完成。代理没有回复，时间线看起来没有变化。",
    Msg.NOTHING_TO_EXPORT: "还没有可以导出的内容：时间线是空的。请先描述你想要的视频，例如“30 秒的山间日落电影感短片”。",
    Msg.RENDER_STARTED: "🎬 正在渲染视频... {progress}%",
    Msg.RENDER_RUNNING: "🎬 已经有一个渲染在进行中（{progress}%），完成后我会在这里发链接。",
    Msg.RENDER_AGAIN: "✅ 自上次导出后没有修改，这是同一个视频：{url}",
    Msg.RENDER_FINISHED: "🎬 渲染完成（100%）。",
    Msg.RENDER_DONE: "✅ 视频已就绪：{url}",
    Msg.RENDER_FAILED: "⚠️ 渲染失败：{reason}。发送“导出”重试。",
    Msg.RENDER_CANCELLED: "🛑 渲染已取消。",
    Msg.RENDER_TOO_SLOW: "未能按时完成",
    Msg.CREDITS: "积分：可用 {available}，冻结 {frozen}，总计 {total}。",
    Msg.CREDITS_LOW: "提示：一次生成大约需要 100 积分，当前余额不够。",
    Msg.SESSION_RESTARTED: "ℹ️ 视频服务丢失了这个会话，我已重新开始一条新的时间线。",
    Msg.UPLOADED: "📎 已上传：",
    Msg.INTERRUPTED: "⚠️ 处理“{text}”时我重启了。为避免重复扣费，我没有重新发送。如仍需要请再发一次，或发送“状态”查看时间线。",
    Msg.GUI_SHOW: "这是你的时间线：",
    Msg.GUI_EXPORT: "🎬 按代理的建议，正在为你导出。",
    Msg.GUI_EDIT: "↪️ 正在为你执行：“{text}”",
    Msg.HELP: "我可以把文字描述变成视频。试试：\n"
    "• 描述，例如“30 秒的山间日落电影感短片，1080p”\n"
    "• 在同一线程里修改：“加上 35% 音量的 lo-fi 音乐”、“把标题调大”\n"
    "• “状态”查看时间线，“积分”查看余额，“导出”获取 MP4\n"
    "• 附上视频、图片、音频或脚本来使用它们\n"
    "• “停止”取消正在进行的任务",
    Msg.ERR_TOKEN: "⚠️ NemoVideo 访问凭证已过期且续期失败，请一分钟后再试。",
    Msg.ERR_TOKEN_FIXED: "⚠️ NemoVideo 拒绝了本工作区的 API 令牌，需要管理员更新 NEMO_TOKEN。",
    Msg.ERR_CREDITS_ANON: "⚠️ NemoVideo 积分不足。免费注册即可获得更多积分并保留当前作品：https://nemovideo.com/register?bind={user_id}",
    Msg.ERR_CREDITS: "⚠️ NemoVideo 积分不足，请到 https://nemovideo.com 充值后继续。",
    Msg.ERR_TYPE: "⚠️ 无法使用 {detail}：NemoVideo 不支持这种文件类型。支持的类型："
    + ACCEPTED_TYPES
    + "。",
    Msg.ERR_SIZE: "⚠️ 文件太大（{detail}）。请压缩或剪短后再试。",
    Msg.ERR_EXPORT_PLAN: "⚠️ 当前 NemoVideo 套餐不支持导出（与积分无关）。请到 https://nemovideo.com 升级套餐。",
    Msg.ERR_RATE: "⚠️ NemoVideo 当前限流，请一分钟后再试。",
    Msg.ERR_BUSY: "⚠️ 视频服务仍在处理本会话的上一个请求，请稍后再试。",
    Msg.ERR_TIMEOUT: "⚠️ 视频服务响应超时（{detail}）。没有重新发送；发送“状态”查看进度。",
    Msg.ERR_INTERRUPTED: "⚠️ 与视频服务的连接中断。你的请求可能仍会完成，稍后发送“状态”查看。（为避免重复扣费，我没有重新发送。）",
    Msg.ERR_DOWN: "⚠️ 暂时无法连接视频服务（{detail}），请几分钟后再试。",
    Msg.ERR_AGENT: "⚠️ 视频代理报告了一个问题：{detail}",
    Msg.ERR_RENDER: "⚠️ 渲染失败：{detail}。发送“导出”重试。",
    Msg.ERR_BACKEND: "⚠️ 视频服务拒绝了请求：{detail}",
    Msg.ERR_FILE: "⚠️ 无法使用该文件：{detail}",
    Msg.ERR_FILE_SIZE_UNKNOWN: "⚠️ 无法确定 {name} 的大小，已跳过，请重新附加。",
    Msg.ERR_INTERNAL: "⚠️ 我这边出了点问题。你的会话没有丢失，请再试一次。",
    Msg.QUEUED_WAITING: "📥 收到。共有 {waiting} 条消息在排队，当前步骤完成后依次处理（{eta}）。",
    Msg.ETA_MINUTES: "大约 {minutes} 分钟",
    Msg.ETA_SOON: "不到一分钟",
    Msg.LIMIT_QUEUE: "⚠️ 本线程已有 {limit} 条消息在排队（上限 JUPITER_MAX_QUEUED_PER_THREAD），这条没有接收，也没有扣费。等它们完成后再发一次，或发送“停止”清空队列。",
    Msg.LIMIT_DAILY: "⚠️ 这一步大约需要 {cost} 积分，你今天的预算只剩 {left}（JUPITER_USER_DAILY_CREDITS：每天 {budget}），所以没有发送。预算在 UTC 零点重置。",
    Msg.LIMIT_CREDITS: "⚠️ 这一步大约需要 {cost} 积分，但只剩 {left}，所以没有发送。发送“积分”查看余额。",
    Msg.CREDITS_SPENT: "你今天已使用约 {spent} / {budget} 每日积分。",
    Msg.REFUSED_SO_FAR: "到目前为止已因此拒绝 {count} 条消息，都没有发送，也没有扣费。",
    Msg.NEW_VIDEO: "🆕 在这个对话里开始一个新视频：请描述你想要的内容。之前的版本仍可在“版本”里查看。",
    Msg.VERSIONS_NONE: "还没有版本：先描述一个视频来生成 v1。",
    Msg.VERSIONS_HEAD: "本对话的版本（发送“导出 v2”可按当时的样子渲染）：",
    Msg.VERSIONS_NEW_VIDEO: "—— 新视频 ——",
    Msg.VERSION_UNKNOWN: "这里没有 v{number}。发送“版本”查看列表。",
    Msg.VERSION_OF: "版本 v{number}：“{message}”",
    Msg.VERSION_AGAIN: "✅ v{number} 已经导出过，这是同一个视频：{url}",
    Msg.VIDEOS_NONE: "本对话还没有导出过视频。时间线准备好后发送“导出”。",
    Msg.VIDEOS_HEAD: "本对话已导出的视频：",
    Msg.SETTINGS_SHOW: "你的新视频默认设置：{values}。",
    Msg.SETTINGS_NONE: "你还没有新视频的默认设置。",
    Msg.SETTINGS_HINT: "用“set aspect 9:16”、“set duration 15”、“set style cinematic”或“set language zh”修改。",
    Msg.SETTING_SAVED: "✅ 已保存：{field} {value}。将用于你的下一个新视频。",
    Msg.SETTING_BAD: "⚠️ {field} 不能设为“{value}”：{hint}",
    Msg.HINT_ASPECT: "请用 16:9、9:16、1:1、4:3 或 4:5。",
    Msg.HINT_DURATION: "请用 3 到 600 之间的秒数。",
    Msg.HINT_STYLE: "请用一两个词，例如 cinematic、anime、watercolor。",
    Msg.HINT_LANGUAGE: "请用 en 或 zh。",
    Msg.FIELD_ASPECT: "比例",
    Msg.FIELD_DURATION: "时长",
    Msg.FIELD_STYLE: "风格",
    Msg.FIELD_LANGUAGE: "语言",
    Msg.USING_DEFAULTS: "使用你的默认设置：{values}",
    Msg.UNDO: "视频服务没有撤销功能，但每次修改都是一个版本：发送“版本”查看，发送“导出 v2”获取当时的视频。要改回当前视频，直接描述即可（例如“去掉音乐”）。",
    Msg.QUIT_CHAT: "这里无需退出：对话会一直等你的下一条消息。",
    Msg.ERR_NOT_STORED: "⚠️ 我这边的存储出了问题，无法保存你的消息，所以没法处理。请过几分钟再发一次。",
    Msg.QUESTION_PICK: "回复编号或选项名称，也可以用你自己的话回答：",
    Msg.QUESTION_PICK_ONLY: "请回复一个选项的编号或名称：",
    Msg.QUESTION_FREE: "请用你自己的话回答。",
    Msg.QUESTION_REMIND: "代理在等你从这些选项中选一个（回复编号或名称）：",
    Msg.QUESTION_ANSWERED: "✅ 已回答：{answer}",
    Msg.QUESTION_STALE: "这个问题已经回答过了：{answer}",
    Msg.QUESTION_CLOSED: "这个问题已经关闭，没有发送任何内容。",
    Msg.TASK_LINK: "在 NemoVideo 中打开这个项目：{link}",
    Msg.EXPORT_PLAN_OPERATOR: "管理员：将 NEMO_TOKEN 设为带 `render` 权限的 NemoVideo API 令牌（在 NemoVideo 设置中创建），即可在聊天中导出。",
    Msg.EXPORT_PLAN_OPERATOR_FIXED: "管理员：当前配置的 NEMO_TOKEN 没有 `render` 权限，请换成带该权限的 NemoVideo API 令牌。",
    Msg.NEXT_STEPS: "下一步：{steps}",
    Msg.NEXT_MUSIC: "添加音乐",
    Msg.NEXT_TITLE: "添加标题",
    Msg.NEXT_BIGGER_TITLE: "把标题放大",
    Msg.NEXT_MUSIC_VOLUME: "把音乐调小",
    Msg.NEXT_EXPORT: "导出",
    Msg.STAGE_EXTRAS: "🎵 视频已生成，正在添加音乐和标题...",
    Msg.LOST_CHECKING: "⚠️ 与视频服务的连接中断。我不会重新发送（那会重复扣费），正在查看代理做了什么...",
    Msg.LOST_FAILED: "⚠️ 这一步失败了：与视频服务的连接中断，时间线没有变化。我没有重新发送（那会重复扣费）。点击“再试一次”（或发送“重试”）再发送一次。",
    Msg.NOTHING_TO_RETRY: "没有可以重试的内容。",
}


CATALOGUE: dict[str, dict[StrEnum, str]] = {"en": _EN, "zh-CN": _ZH}


def register(tables: Mapping[str, Mapping[StrEnum, str]]) -> None:
    """Add an adapter's sentences: one table per language of the catalogue, each complete.

    A key already in the catalogue is refused (`ValueError`), by identity or by value, so an
    adapter's keys never shadow the engine's or another adapter's."""
    taken = {str(key) for table in CATALOGUE.values() for key in table}
    for language, table in tables.items():
        clash = sorted(str(key) for key in table if str(key) in taken)
        if clash:
            raise ValueError(f"keys already in the catalogue ({language}): {', '.join(clash)}")
    for language, table in tables.items():
        CATALOGUE[language].update(table)


def supported(language: str | None) -> str | None:
    """The catalogue language for a language tag (`zh-TW` reads the Chinese table), or None."""
    if not language:
        return None
    tag = language.replace("_", "-")
    if tag in CATALOGUE:
        return tag
    base = tag.split("-", 1)[0].lower()
    for code in CATALOGUE:
        if code.split("-", 1)[0].lower() == base:
            return code
    return None


def say(key: StrEnum, language: str = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    """The sentence `key` in `language` (English where the catalogue has no such language)."""
    table = CATALOGUE.get(supported(language) or DEFAULT_LANGUAGE, _EN)
    return table.get(key, _EN[key]).format(**values)
