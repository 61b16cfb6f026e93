"""Sentences every adapter says the same way: button labels, download refusals, the too-large
upload. Keys are prefixed `base.` so they never meet the engine's `Msg` values; the tables are
registered with the catalogue when this module is imported."""

from __future__ import annotations

from enum import StrEnum

from core.messages import register
from core.port import Action


class Words(StrEnum):
    EXPORT = "base.export"
    STATUS = "base.status"
    CREDITS = "base.credits"
    RETRY = "base.retry"
    DOWNLOAD_REFUSED = "base.download_refused"
    DOWNLOAD_UNAVAILABLE = "base.download_unavailable"
    DOWNLOAD_REDIRECTS = "base.download_redirects"
    UPLOAD_TOO_LARGE = "base.upload_too_large"
    UPLOAD_GREW = "base.upload_grew"


_EN: dict[StrEnum, str] = {
    Words.EXPORT: "Export",
    Words.STATUS: "Status",
    Words.CREDITS: "Credits",
    Words.RETRY: "Try again",
    Words.DOWNLOAD_REFUSED: "{filename} is not hosted on this platform ({host})",
    Words.DOWNLOAD_UNAVAILABLE: "{filename} could not be fetched (HTTP {status})",
    Words.DOWNLOAD_REDIRECTS: "too many redirects fetching {filename}",
    Words.UPLOAD_TOO_LARGE: "{filename} is {size} bytes, over the {platform} upload limit of {limit}",
    Words.UPLOAD_GREW: "{filename} grew past the upload limit of {limit} bytes",
}

_ZH: dict[StrEnum, str] = {
    Words.EXPORT: "导出",
    Words.STATUS: "状态",
    Words.CREDITS: "积分",
    Words.RETRY: "再试一次",
    Words.DOWNLOAD_REFUSED: "{filename} 不在本平台上（{host}）",
    Words.DOWNLOAD_UNAVAILABLE: "无法获取 {filename}（HTTP {status}）",
    Words.DOWNLOAD_REDIRECTS: "获取 {filename} 时重定向次数过多",
    Words.UPLOAD_TOO_LARGE: "{filename} 有 {size} 字节，超过 {platform} 的上传上限 {limit}",
    Words.UPLOAD_GREW: "{filename} 超过了 {limit} 字节的上传上限",
}

LABELS: dict[Action, Words] = {
    Action.EXPORT: Words.EXPORT,
    Action.STATUS: Words.STATUS,
    Action.CREDITS: Words.CREDITS,
    Action.RETRY: Words.RETRY,
}

register({"en": _EN, "zh-CN": _ZH})
