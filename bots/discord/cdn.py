"""Downloads of files users shared, from Discord's CDN and nowhere else.

Attachment URLs are signed (`ex`, `is`, `hm` query parameters) and expire within hours, so the
URL is fetched exactly as Discord gave it, query string and all, while the conversation is
fresh. Only Discord's CDN hosts and the host of `DISCORD_API_URL` are contacted, redirects
included: a message cannot make the bot fetch arbitrary URLs. No credentials are sent; the
CDN needs none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urljoin, urlsplit

import httpx

from core.errors import FileRejected

CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
CHUNK_BYTES = 256 * 1024
MAX_REDIRECTS = 3


class AttachmentUnavailable(FileRejected):
    """The file is not on a Discord host, or the CDN no longer serves it (URLs expire)."""


class CdnFiles:
    def __init__(self, http: httpx.AsyncClient, api_url: str) -> None:
        api = urlsplit(api_url)
        self._http = http
        self._api_host = (api.hostname or "").lower()
        self._api_scheme = api.scheme

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme == "https" and (host in CDN_HOSTS or host == self._api_host):
            return True
        # Plain HTTP only where DISCORD_API_URL itself is plain HTTP (a loopback fake).
        return parts.scheme == "http" == self._api_scheme and host == self._api_host

    async def stream(self, url: str, filename: str) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive; raises `AttachmentUnavailable` before the first."""
        for _ in range(MAX_REDIRECTS + 1):
            if not self.allowed(url):
                raise AttachmentUnavailable(f"{filename!r} is not hosted on Discord's CDN")
            request = self._http.build_request("GET", url)
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code != 200:
                    raise AttachmentUnavailable(
                        f"Discord no longer serves {filename!r} (HTTP {response.status_code}); "
                        "please upload it again"
                    )
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    yield chunk
                return
            finally:
                await response.aclose()
        raise AttachmentUnavailable(f"{filename!r}: too many redirects")
