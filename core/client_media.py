"""Finished videos fetched from where the backend says, under a guard: a backend's URL must not
make the bot read its own network (an internal service, the cloud metadata address) and hand
the bytes to a chat.

What must hold, for every media fetch (a render's output, its size, the fallback download):
- http(s) only; the backend's own host is always allowed (in tests a loopback address);
  any other host is allowed only when *every* address it resolves to (`loop.getaddrinfo`, or an
  injected resolver) is public: no loopback, private, link-local (169.254.169.254 included),
  CGNAT, multicast, reserved or unspecified address, IPv4 or IPv6 (mapped IPv4 unwrapped);
- redirects are followed by hand (`follow_redirects=False`), HEAD included, each target checked
  again, at most `MAX_REDIRECTS`;
- bytes are capped at the declared size or the caller's limit, whichever is smaller: reading
  stops past it and the stream fails (`MediaRefused`), so a caller that buffers to a temporary
  name uploads or saves nothing partial.

The guard checks a name before each request; the connection itself is made only to
addresses checked as it is made (`PublicOnlyResolver`, the resolver of the bot's aiohttp
connections): a name that answers a public address to the check and a private one to the
connection (DNS rebinding) gets no connection. aiohttp keeps the name for TLS (SNI and the
certificate's check); an address literal is never resolved, and the check has judged it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult

from core.errors import BackendUnavailable

Resolver = Callable[[str], Awaitable[list[str]]]
MAX_REDIRECTS = 5
CHUNK_BYTES = 256 * 1024
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class MediaRefused(BackendUnavailable):
    """A media URL the guard will not fetch, or a body that broke its bounds."""


async def system_resolver(host: str) -> list[str]:
    """Every address `host` resolves to, through the loop's resolver (never blocking it)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def public_address(address: str) -> bool:
    """True for an address a public service may have; see the module docstring."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_link_local or ip.is_loopback or ip.is_unspecified:
        return False
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return ip.is_global


class PublicOnlyResolver(AbstractResolver):
    """The addresses a connection is made to, refused (an `OSError`: the connection fails as
    an unresolved name does) unless every one is public; the backend's own host is trusted,
    as the guard trusts it. What it answers is what aiohttp connects to, so the rule holds
    for the address actually used, not only for an earlier lookup."""

    def __init__(self, trusted_host: str, inner: AbstractResolver | None = None) -> None:
        self._trusted = trusted_host.lower()
        self._inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if host.lower() == self._trusted:
            return results
        if not results or not all(public_address(r["host"]) for r in results):
            raise OSError(f"{host} resolves to an address that is not a public one")
        return results

    async def close(self) -> None:
        await self._inner.close()


class MediaGuard:
    """Fetches media by the rules of the module docstring, through `http` (no credentials,
    unless a caller passes the fallback download's own headers for the backend's host)."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, resolver: Resolver | None) -> None:
        self._http = http
        self._backend_host = (urlsplit(base_url).hostname or "").lower()
        self._resolve = resolver or system_resolver

    async def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in {"http", "https"} or not host:
            return False
        if host == self._backend_host:
            return True
        try:
            addresses = await self._resolve(host)
        except (OSError, UnicodeError, ValueError):
            return False
        return bool(addresses) and all(public_address(a) for a in addresses)

    async def _open(
        self, method: str, url: str, headers: Mapping[str, str], limits: httpx.Timeout
    ) -> httpx.Response:
        """The streamed answer at the end of the redirects, each hop checked before it is sent.
        The caller closes it."""
        for _ in range(MAX_REDIRECTS + 1):
            if not await self.allows(url):
                host = urlsplit(url).hostname or "an unknown host"
                raise MediaRefused(f"the video's address ({host}) is not a public one")
            if (urlsplit(url).hostname or "").lower() != self._backend_host:
                headers = {}  # the fallback's token goes to the backend's host and no other
            request = self._http.build_request(method, url, headers=dict(headers), timeout=limits)
            response = await self._http.send(request, stream=True, follow_redirects=False)
            location = response.headers.get("location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                return response
            await response.aclose()
            url = urljoin(url, location)
        raise MediaRefused("the video's address redirected too many times")

    async def size(self, url: str, headers: Mapping[str, str] | None = None) -> int | None:
        """The declared size (HEAD), when the server says and the guard allows the address."""
        try:
            response = await self._open("HEAD", url, headers or {}, httpx.Timeout(15.0))
        except (httpx.TransportError, MediaRefused):
            return None
        await response.aclose()
        length = response.headers.get("content-length", "")
        return int(length) if response.status_code == 200 and length.isdigit() else None

    async def stream(
        self, url: str, limit: int, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """The body, at most `limit` bytes (and at most its declared length); longer fails."""
        timeout = httpx.Timeout(30.0, read=120.0)
        try:
            response = await self._open("GET", url, headers or {}, timeout)
        except httpx.TransportError as exc:
            raise BackendUnavailable(
                f"the video could not be downloaded ({exc.__class__.__name__})"
            ) from None
        try:
            if response.status_code != 200:
                raise BackendUnavailable(
                    f"the video could not be downloaded (HTTP {response.status_code})"
                )
            declared = response.headers.get("content-length", "")
            plain = "content-encoding" not in response.headers  # else the length is compressed
            cap = min(limit, int(declared)) if declared.isdigit() and plain else limit
            total = 0
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                total += len(chunk)
                if total > cap:
                    raise MediaRefused(f"the video is longer than its {cap:,} bytes")
                yield chunk
        finally:
            await response.aclose()
