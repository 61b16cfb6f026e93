"""Files shared in Slack: fetched with the bot token from Slack's hosts, and only from them.

Slack serves `url_private` files to a request carrying the bot token; the token must go to no
other host, redirects included, so the download runs under a `HostPolicy` of `*.slack.com`,
`*.slack-edge.com` (HTTPS only) and the origin of `SLACK_API_URL`.
"""

from __future__ import annotations

import httpx

from bots.base.downloads import AttachmentUnavailable, FileSource, HostPolicy, host_of

SLACK_DOMAINS = ("slack.com", "slack-edge.com")
LACKS_FILES_READ = (
    "Slack sent a web page instead of the file: the app lacks the files:read scope "
    "(reinstall it with the manifest in deploy/slack/manifest.yml)"
)


def slack_hosts(api_url: str) -> HostPolicy:
    """Where a request carrying the bot token may go."""
    return HostPolicy.of(api_url, domains=SLACK_DOMAINS)


class SlackFiles(FileSource):
    def __init__(self, http: httpx.AsyncClient, api_url: str, token: str) -> None:
        super().__init__(http, slack_hosts(api_url), headers={"Authorization": f"Bearer {token}"})

    def refused(self, filename: str, url: str) -> str:
        return (
            f"{filename} is not hosted by Slack ({host_of(url)}); "
            "the bot only downloads files from Slack"
        )

    def unavailable(self, filename: str, status: int) -> str:
        return f"Slack would not hand over {filename} (HTTP {status})"

    def too_many_redirects(self, filename: str) -> str:
        return f"too many redirects fetching {filename} from Slack"

    def check(self, response: httpx.Response, filename: str) -> None:
        """A 200 with an HTML page is Slack's sign-in page: the app lacks `files:read`."""
        super().check(response, filename)
        if "text/html" in response.headers.get("content-type", "").lower():
            raise AttachmentUnavailable(LACKS_FILES_READ)
