"""Shared files, streamed from the platform's own hosts and nowhere else.

What must hold, on every platform:
- a message cannot make the bot fetch an arbitrary URL: every URL, each redirect included, is
  checked against the platform's hosts (and the origin of its configured API, a loopback fake
  in tests) *before* a request is sent, so a credential in the headers reaches no other host;
- redirects are followed by hand (the HTTP client never follows them on its own), at most
  `max_redirects` times;
- bytes are streamed as they arrive, never held whole, and a file that turns out larger than
  the backend accepts is stopped at the limit;
- every failure the user should hear about is one `AttachmentUnavailable`, raised before the
  first byte, worded by the adapter (`refused`, `unavailable`, `too_many_redirects`).

Type and size checks from the file's name belong to the engine (`core.files`), not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urljoin, urlsplit

import httpx

from core.errors import FileRejected, FileTooLarge
from core.files import MAX_UPLOAD_BYTES
from core.messages import say

from .words import Words

CHUNK_BYTES = 256 * 1024
Origin = tuple[str, str, int]


class AttachmentUnavailable(FileRejected):
    """A shared file could not be fetched from its platform; the message says why, for the user."""


def origin(url: str) -> Origin | None:
    """(scheme, host, port) with the scheme's default port filled in; None for non-HTTP URLs."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port


def host_of(url: str) -> str:
    return urlsplit(url).hostname or "an unknown host"


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Where a download may go: over HTTPS to `hosts` exactly or anywhere under `domains`, or to
    the API's own origin (scheme and port included)."""

    hosts: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    api_origin: Origin | None = None

    @classmethod
    def of(
        cls, api_url: str, *, hosts: Iterable[str] = (), domains: Iterable[str] = ()
    ) -> HostPolicy:
        return cls(frozenset(hosts), frozenset(domains), origin(api_url))

    def allows(self, url: str) -> bool:
        found = origin(url)
        if found is None:
            return False
        if found == self.api_origin:
            return True
        scheme, host, _ = found
        under = any(host == d or host.endswith("." + d) for d in self.domains)
        return scheme == "https" and (host in self.hosts or under)


class FileSource:
    """Streams shared files under a `HostPolicy`; adapters subclass it for their wording."""

    max_redirects = 5
    # The adapter's words: catalogue keys (fields `filename`, `host`, `status`), and whether
    # a file's name is shown quoted.
    refused_word: StrEnum = Words.DOWNLOAD_REFUSED
    unavailable_word: StrEnum = Words.DOWNLOAD_UNAVAILABLE
    redirects_word: StrEnum = Words.DOWNLOAD_REDIRECTS
    quote_names = False

    def __init__(
        self,
        http: httpx.AsyncClient,
        policy: HostPolicy,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        max_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        self._http = http
        self.policy = policy
        self._headers = dict(headers or {})
        self._timeout = timeout or httpx.Timeout(60.0, connect=10.0)
        self._max_bytes = max_bytes

    def __repr__(self) -> str:  # the headers may hold a token
        return f"{type(self).__name__}({self.policy})"

    # -- the adapter's words -----------------------------------------------------------------

    def _name(self, filename: str) -> str:
        return repr(filename) if self.quote_names else filename

    def refused(self, filename: str, url: str, language: str = "en") -> str:
        return say(self.refused_word, language, filename=self._name(filename), host=host_of(url))

    def unavailable(self, filename: str, status: int, language: str = "en") -> str:
        return say(self.unavailable_word, language, filename=self._name(filename), status=status)

    def too_many_redirects(self, filename: str, language: str = "en") -> str:
        return say(self.redirects_word, language, filename=self._name(filename))

    def check(self, response: httpx.Response, filename: str, language: str = "en") -> None:
        """Raise `AttachmentUnavailable` unless `response` carries the file."""
        if response.status_code != 200:
            raise AttachmentUnavailable(self.unavailable(filename, response.status_code, language))

    # -- the one download loop ---------------------------------------------------------------

    async def stream(self, url: str, filename: str, language: str = "en") -> AsyncIterator[bytes]:
        """The file's bytes as they arrive; refusals come before the first chunk, in `language`."""
        for _ in range(self.max_redirects + 1):
            if not self.policy.allows(url):
                raise AttachmentUnavailable(self.refused(filename, url, language))
            request = self._http.build_request(
                "GET", url, headers=self._headers, timeout=self._timeout
            )
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                self.check(response, filename, language)
                total = 0
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    total += len(chunk)
                    if total > self._max_bytes:
                        raise FileTooLarge(f"{filename} is over the 500 MB limit")
                    yield chunk
                return
            finally:
                await response.aclose()
        raise AttachmentUnavailable(self.too_many_redirects(filename, language))
