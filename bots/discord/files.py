"""Downloads of files users shared, from Discord's CDN and nowhere else.

Attachment URLs are signed (`ex`, `is`, `hm` query parameters) and expire within hours, so the
URL is fetched exactly as Discord gave it, query string and all, while the conversation is
fresh. Only Discord's CDN hosts and the origin of `DISCORD_API_URL` are contacted, redirects
included (`bots.base.downloads`). No credentials are sent; the CDN needs none.
"""

from __future__ import annotations

import httpx

from bots.base.downloads import FileSource, HostPolicy
from bots.discord.words import DiscordWords

CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})


class DiscordFiles(FileSource):
    max_redirects = 3
    refused_word = DiscordWords.REFUSED
    unavailable_word = DiscordWords.UNAVAILABLE
    redirects_word = DiscordWords.REDIRECTS
    quote_names = True

    def __init__(self, http: httpx.AsyncClient, api_url: str) -> None:
        super().__init__(
            http, HostPolicy.of(api_url, hosts=CDN_HOSTS), timeout=httpx.Timeout(30.0, connect=10.0)
        )
