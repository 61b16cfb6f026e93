"""Files shared in Slack: fetched with the bot token from Slack's hosts, and only from them.

Slack serves `url_private` files to a request carrying the bot token; the token must go to no
other host, redirects included, so the download runs under a `HostPolicy` of `*.slack.com`,
`*.slack-edge.com` (HTTPS only) and the origin of `SLACK_API_URL`.
"""

from __future__ import annotations

import httpx

from bots.base.downloads import AttachmentUnavailable, FileSource, HostPolicy
from core.messages import say

from .words import SlackWords

SLACK_DOMAINS = ("slack.com", "slack-edge.com")
LACKS_FILES_READ = say(SlackWords.LACKS_FILES_READ)  # in English, as tests and logs read it


def slack_hosts(api_url: str) -> HostPolicy:
    """Where a request carrying the bot token may go."""
    return HostPolicy.of(api_url, domains=SLACK_DOMAINS)


class SlackFiles(FileSource):
    refused_word = SlackWords.REFUSED
    unavailable_word = SlackWords.UNAVAILABLE
    redirects_word = SlackWords.REDIRECTS

    def __init__(self, http: httpx.AsyncClient, api_url: str, token: str) -> None:
        super().__init__(http, slack_hosts(api_url), headers={"Authorization": f"Bearer {token}"})

    def check(self, response: httpx.Response, filename: str, language: str = "en") -> None:
        """A 200 with an HTML page is Slack's sign-in page: the app lacks `files:read`."""
        super().check(response, filename, language)
        if "text/html" in response.headers.get("content-type", "").lower():
            raise AttachmentUnavailable(say(SlackWords.LACKS_FILES_READ, language))
