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
        self._http = http
        self._api_origin = _origin(api_url)

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" and (parts.hostname or "").lower() in CDN_HOSTS:
            return True
        # The host of DISCORD_API_URL (scheme and port included: a loopback fake in tests).
        return _origin(url) == self._api_origin

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


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        port = -1
    return parts.scheme, (parts.hostname or "").lower(), port
