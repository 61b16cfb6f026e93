"""What the Slack adapter says in its own words, in every catalogue language.

Keys are prefixed `slack.` so they never meet the engine's `Msg` values; the tables are
registered with the catalogue when this module is imported. The operator's lines (missing
credentials, printed on the command line at start-up) are English constants at the end.
"""

from __future__ import annotations

from enum import StrEnum

from core.messages import register


class SlackWords(StrEnum):
    USAGE = "slack.usage"
    NOT_IN_CHANNEL = "slack.not_in_channel"
    CHANNEL_NOT_FOUND = "slack.channel_not_found"
    IS_ARCHIVED = "slack.is_archived"
    RESTRICTED_ACTION = "slack.restricted_action"
    NOT_POSTABLE = "slack.not_postable"
    OPEN_VIDEO = "slack.open_video"
    OPEN_PROJECT = "slack.open_project"
    DOWNLOAD_MP4 = "slack.download_mp4"
    SOMETHING_WRONG = "slack.something_wrong"
    AVAILABLE = "slack.available"
    FROZEN = "slack.frozen"
    TOTAL = "slack.total"
    SOMEONE = "slack.someone"
    ASKED = "slack.asked"
    REQUEST = "slack.request"
    IN_THIS_THREAD = "slack.in_this_thread"
    LACKS_FILES_READ = "slack.lacks_files_read"
    REFUSED = "slack.refused"
    UNAVAILABLE = "slack.unavailable"
    REDIRECTS = "slack.redirects"
    HOME_TITLE = "slack.home_title"
    RECENT_VIDEOS = "slack.recent_videos"
    NO_VIDEOS = "slack.no_videos"
    POSTER_OF = "slack.poster_of"
    HOW_TO_START = "slack.how_to_start"
    SETTINGS = "slack.settings"
    SAVE = "slack.save"
    API_TOKEN = "slack.api_token"
    ASPECT = "slack.aspect"
    DURATION = "slack.duration"
    STYLE = "slack.style"
    ADMINS_ONLY = "slack.admins_only"


_EN: dict[StrEnum, str] = {
    SlackWords.USAGE: (
        "*Make a video with Jupiter*\n"
        "• `/video a sunset over mountains, 30-second cinematic`: I start a thread for it in this channel\n"
        "• `@Jupiter` and your prompt in a channel, or a direct message to me, works too\n"
        "• Reply in the thread to change the video; say `export` for the MP4, `status` for the "
        "timeline, `credits` for your balance, `stop` to cancel what is running\n"
        "• Attach media to use it: {types}, up to 500 MB"
    ),
    SlackWords.NOT_IN_CHANNEL: (
        "I'm not in this channel yet: invite me with `/invite @Jupiter`, then try again."
    ),
    SlackWords.CHANNEL_NOT_FOUND: (
        "I can't post here. Try a channel I'm in, or a direct message to me."
    ),
    SlackWords.IS_ARCHIVED: "This channel is archived.",
    SlackWords.RESTRICTED_ACTION: "This workspace does not let me post here.",
    SlackWords.NOT_POSTABLE: "I couldn't start a thread here ({code}).",
    SlackWords.OPEN_VIDEO: "Open the video",
    SlackWords.OPEN_PROJECT: "Open the project",
    SlackWords.DOWNLOAD_MP4: "Download MP4",
    SlackWords.SOMETHING_WRONG: "Something went wrong.",
    SlackWords.AVAILABLE: "Available",
    SlackWords.FROZEN: "Frozen",
    SlackWords.TOTAL: "Total",
    SlackWords.SOMEONE: "Someone",
    SlackWords.ASKED: "🎬 {who} asked Jupiter for a video:\n{quoted}",
    SlackWords.REQUEST: "🎬 Video request: {prompt}",
    SlackWords.IN_THIS_THREAD: "I'll work on it in this thread. Reply here to change it.",
    SlackWords.LACKS_FILES_READ: (
        "Slack sent a web page instead of the file: the app lacks the files:read scope "
        "(reinstall it with the manifest in deploy/slack/manifest.yml)"
    ),
    SlackWords.REFUSED: (
        "{filename} is not hosted by Slack ({host}); the bot only downloads files from Slack"
    ),
    SlackWords.UNAVAILABLE: "Slack would not hand over {filename} (HTTP {status})",
    SlackWords.REDIRECTS: "too many redirects fetching {filename} from Slack",
    SlackWords.HOME_TITLE: "🎬 Jupiter: videos from a prompt",
    SlackWords.RECENT_VIDEOS: "Your recent videos",
    SlackWords.NO_VIDEOS: "No videos yet.",
    SlackWords.POSTER_OF: "Poster of {version}",
    SlackWords.HOW_TO_START: (
        "*How to start*: open the Messages tab and describe your video, mention @Jupiter in a "
        "channel, or type `/video a sunset over mountains`. Reply in the thread to change it; "
        "say `export` for the MP4."
    ),
    SlackWords.SETTINGS: "Settings",
    SlackWords.SAVE: "Save",
    SlackWords.API_TOKEN: "NemoVideo API token (empty: keep the current one)",
    SlackWords.ASPECT: "Aspect ratio for new videos",
    SlackWords.DURATION: "Duration for new videos (seconds)",
    SlackWords.STYLE: "Style for new videos",
    SlackWords.ADMINS_ONLY: "Only workspace admins can change Jupiter's settings.",
}

_ZH: dict[StrEnum, str] = {
    SlackWords.USAGE: (
        "*用 Jupiter 制作视频*\n"
        "• `/video 山间日落，30 秒电影感`：我会在这个频道为它开一个线程\n"
        "• 在频道里 `@Jupiter` 加上描述，或直接私信我，也可以\n"
        "• 在线程里回复来修改视频；说 `导出` 获取 MP4，`状态` 查看时间线，"
        "`积分` 查看余额，`停止` 取消正在进行的任务\n"
        "• 附上素材来使用它：{types}，最大 500 MB"
    ),
    SlackWords.NOT_IN_CHANNEL: "我还不在这个频道里：用 `/invite @Jupiter` 邀请我，然后再试一次。",
    SlackWords.CHANNEL_NOT_FOUND: "我无法在这里发消息。请换一个我所在的频道，或直接私信我。",
    SlackWords.IS_ARCHIVED: "这个频道已归档。",
    SlackWords.RESTRICTED_ACTION: "这个工作区不允许我在这里发消息。",
    SlackWords.NOT_POSTABLE: "我无法在这里开线程（{code}）。",
    SlackWords.OPEN_VIDEO: "打开视频",
    SlackWords.OPEN_PROJECT: "打开项目",
    SlackWords.DOWNLOAD_MP4: "下载 MP4",
    SlackWords.SOMETHING_WRONG: "出了点问题。",
    SlackWords.AVAILABLE: "可用",
    SlackWords.FROZEN: "冻结",
    SlackWords.TOTAL: "总计",
    SlackWords.SOMEONE: "有人",
    SlackWords.ASKED: "🎬 {who} 请 Jupiter 制作一个视频：\n{quoted}",
    SlackWords.REQUEST: "🎬 视频请求：{prompt}",
    SlackWords.IN_THIS_THREAD: "我会在这个线程里制作。在这里回复即可修改。",
    SlackWords.LACKS_FILES_READ: (
        "Slack 返回了网页而不是文件：应用缺少 files:read 权限"
        "（请用 deploy/slack/manifest.yml 中的清单重新安装）"
    ),
    SlackWords.REFUSED: "{filename} 不在 Slack 上（{host}）；机器人只从 Slack 下载文件",
    SlackWords.UNAVAILABLE: "Slack 没有提供 {filename}（HTTP {status}）",
    SlackWords.REDIRECTS: "从 Slack 获取 {filename} 时重定向次数过多",
    SlackWords.HOME_TITLE: "🎬 Jupiter：用一句话生成视频",
    SlackWords.RECENT_VIDEOS: "你最近的视频",
    SlackWords.NO_VIDEOS: "还没有视频。",
    SlackWords.POSTER_OF: "{version} 的封面",
    SlackWords.HOW_TO_START: (
        "*如何开始*：打开“消息”标签描述你的视频，在频道里 @Jupiter，或输入 "
        "`/video 山间日落`。在线程里回复即可修改；说 `导出` 获取 MP4。"
    ),
    SlackWords.SETTINGS: "设置",
    SlackWords.SAVE: "保存",
    SlackWords.API_TOKEN: "NemoVideo API 令牌（留空：保留当前令牌）",
    SlackWords.ASPECT: "新视频的画面比例",
    SlackWords.DURATION: "新视频的时长（秒）",
    SlackWords.STYLE: "新视频的风格",
    SlackWords.ADMINS_ONLY: "只有工作区管理员可以修改 Jupiter 的设置。",
}

register({"en": _EN, "zh-CN": _ZH})

# -- the operator's lines: printed at start-up, on the command line, in English ----------------

NEED_BOT_TOKEN = "the Slack bot token, xoxb-..."
NEED_SIGNING_SECRET = (
    "needed to verify requests in HTTP mode; or set SLACK_APP_TOKEN for Socket Mode"
)
NEED_APP_TOKEN = "the app-level token, xapp-..."
