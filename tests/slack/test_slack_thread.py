"""`SlackThread` against the fake Web API: threading, edits, retries, status, files, uploads."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError

from bots.base.downloads import AttachmentUnavailable
from bots.slack.app import share, web_session
from bots.slack.client import _POOLS, ANSWER_MAX_BYTES, AnswerTooLarge, build_client
from bots.slack.files import LACKS_FILES_READ, slack_hosts
from bots.slack.thread import SlackThreads, slack_error
from core.metrics import Metrics
from core.port import Attachment, ChatThread, Reply, ReplyKind, ThreadKey
from tests.fakes.fault_proxy import FaultProxy
from tests.fakes.slack_api import FakeSlack
from tests.loopback import served
from tests.slack.conftest import BOT_TOKEN, CHANNEL, TEAM, slack_settings

KEY = ThreadKey("slack", TEAM, CHANNEL, "1700000000.000100")


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def threads(
    slack: FakeSlack, http: httpx.AsyncClient, tmp_path: Path, metrics: Metrics
) -> AsyncIterator[SlackThreads]:
    settings = slack_settings(slack, tmp_path, slack_upload_max_bytes=10 * 1024 * 1024)
    threads = SlackThreads(
        client=build_client(settings, metrics, settings.retry_backoff_seconds),
        http=http,
        settings=settings,
        status_refresh_seconds=0.05,
    )
    async with web_session() as session:
        share(threads, session)  # as `serve` does: the calls' own road (WebClient._request)
        yield threads


def _retries(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value(
        "jupiter_chat_api_retries_total", {"platform": "slack"}
    )
    return value or 0.0


async def _read(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


def test_it_is_the_engines_port(threads: SlackThreads) -> None:
    assert isinstance(threads(KEY), ChatThread)
    assert threads(KEY).upload_limit == 10 * 1024 * 1024
    assert BOT_TOKEN not in repr(threads(KEY))


async def test_posts_carry_the_thread_and_progress_is_edited_in_place(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    thread = threads(KEY)
    first = await thread.post(Reply(ReplyKind.STATUS, "Connecting..."))
    await thread.update(first, Reply(ReplyKind.STATUS, "⏳ Still working... (2s)"))
    await thread.update(first, Reply(ReplyKind.TEXT, "Here it is"))
    posts = slack.calls("chat.postMessage")
    assert [c.args["thread_ts"] for c in posts] == [KEY.thread]
    assert posts[0].token == BOT_TOKEN
    (message,) = slack.thread(CHANNEL, KEY.thread)
    assert message.edits == 2 and "Here it is" in message.all_text


async def test_rate_limits_are_retried_after_retry_after_and_counted(
    slack: FakeSlack, threads: SlackThreads, metrics: Metrics
) -> None:
    slack.fail_next("chat.postMessage", status=429, count=2, retry_after=0)
    await threads(KEY).post(Reply(ReplyKind.TEXT, "hello"))
    assert len(slack.calls("chat.postMessage")) == 3
    assert len(slack.thread(CHANNEL, KEY.thread)) == 1
    assert _retries(metrics) == 2


async def test_server_errors_are_retried_and_counted(
    slack: FakeSlack, threads: SlackThreads, metrics: Metrics
) -> None:
    slack.fail_next("chat.update", status=503, count=1)
    thread = threads(KEY)
    ts = await thread.post(Reply(ReplyKind.STATUS, "Connecting..."))
    await thread.update(ts, Reply(ReplyKind.STATUS, "still"))
    assert len(slack.calls("chat.update")) == 2
    assert _retries(metrics) == 1


async def test_a_web_api_answer_that_is_not_json_is_a_slack_api_error(
    slack: FakeSlack, tmp_path: Path, metrics: Metrics
) -> None:
    """The calls' own road (`WebClient._request`) fails as slack_sdk's does: a 200 whose body
    is not JSON (a proxy's maintenance page) is a `SlackApiError`; a 502 page is retried."""
    async with FaultProxy(slack.base_url) as proxy, web_session() as session:
        settings = slack_settings(slack, tmp_path, slack_api_url=proxy.url + "/api/")
        client = build_client(settings, metrics, 0.01)
        client.session = session
        proxy.fail_next(1, status=200, path="/api/chat.postMessage", body=b"<html>down</html>")
        with pytest.raises(SlackApiError, match="non-JSON") as not_json:
            await client.chat_postMessage(channel=CHANNEL, text="hello")
        assert slack_error(not_json.value) == ""  # a response the error readers can read
        proxy.fail_next(1, status=502, path="/api/chat.postMessage", body=b"<html>bad</html>")
        answer = await client.chat_postMessage(channel=CHANNEL, text="hello")
        assert answer["ok"] and _retries(metrics) == 1
        slack.post_errors[CHANNEL] = "not_in_channel"
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel=CHANNEL, text="hello")
        assert slack_error(refused.value) == "not_in_channel"


async def test_a_json_call_on_the_shorter_road_carries_what_slack_sdks_would(
    slack: FakeSlack, tmp_path: Path, metrics: Metrics
) -> None:
    """`WebClient.api_call`'s road for JSON POSTs: the client's default parameters, a `token`
    argument over the client's (and not sent in the body), slack_sdk's headers; a deprecated
    method still warns, once per method; a GET with parameters takes the road too."""
    slack.other_tokens["xoxb-other-team"] = "T0THER"
    async with web_session() as session:
        client = build_client(slack_settings(slack, tmp_path), metrics, 0.01)
        client.session = session
        client.default_params["team_id"] = TEAM
        await client.chat_postMessage(channel=CHANNEL, text="hello")
        other = {"channel": CHANNEL, "text": "from another", "token": "xoxb-other-team"}
        await client.api_call("chat.postMessage", json=other)
        assert sum(_POOLS[session]._open.values()) == 1  # both on the own road, in turn
        first, second = slack.calls("chat.postMessage")[-2:]
        assert first.token == BOT_TOKEN and first.args["team_id"] == TEAM
        assert first.headers["Content-Type"] == "application/json;charset=utf-8"
        assert "slackclient/" in first.headers["User-Agent"]
        assert second.token == "xoxb-other-team" and "token" not in second.args
        assert other["token"] == "xoxb-other-team"  # the caller's arguments are not changed
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            for _ in range(2):
                with pytest.raises(SlackApiError):  # the fake knows no such method
                    await client.api_call("channels.info", json={"channel": CHANNEL})
        assert [str(w.message).split(" ")[0] for w in warned] == ["channels.info"]
        await client.users_info(user="U1", include_locale=True)
        asked = slack.calls("users.info")[-1]
        assert asked.args["user"] == "U1" and asked.args["include_locale"] in ("1", 1, True)
        assert asked.token == BOT_TOKEN
        assert "Accept-Encoding" not in asked.headers  # (aiohttp's road would have asked gzip)


@pytest.fixture
async def huge_slack() -> AsyncIterator[str]:
    """A Web API that answers too much: `chat.postMessage` declares a body past the bound and
    sends a little of it; `chat.update` and `users.info` (a GET: slack_sdk's own road) stream
    JSON long past it, undeclared; `chat.postEphemeral` declares a small gzip body that decodes
    past it; `chat.delete` answers."""

    async def declared(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = ANSWER_MAX_BYTES + 1
        await response.prepare(request)
        await response.write(b'{"ok": true, "pad": "')
        await asyncio.sleep(30)  # never sends the rest
        return response

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)  # chunked: no length to refuse up front
        with contextlib.suppress(ConnectionError):  # the client hangs up at the bound
            await response.write(b'{"ok": true, "pad": "')
            for _ in range(10 * ANSWER_MAX_BYTES // 65536):  # ends, but long after the bound
                await response.write(b"x" * 65536)
        return response

    async def bomb(request: web.Request) -> web.Response:
        # a few KB on the wire, declared as such, past the bound once decoded
        body = b'{"ok": true, "pad": "' + b"x" * (ANSWER_MAX_BYTES + 1) + b'"}'
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return web.Response(body=gzip.compress(body), headers=headers)

    async def fine(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "ts": "1.0", "channel": CHANNEL})

    app = web.Application()
    app.router.add_post("/api/chat.postMessage", declared)
    app.router.add_post("/api/chat.update", endless)
    app.router.add_route("*", "/api/users.info", endless)
    app.router.add_post("/api/chat.postEphemeral", bomb)
    app.router.add_post("/api/chat.delete", fine)
    async with served(app) as url:
        yield url + "/api/"


async def test_a_web_api_answer_past_the_bound_fails_the_call_on_both_roads(
    slack: FakeSlack, huge_slack: str, tmp_path: Path, metrics: Metrics
) -> None:
    """An answer is read within `ANSWER_MAX_BYTES`, decoded, as it arrives: one declared too
    large is refused before its body, one without end is cut at the bound, a small compressed
    one is cut where its decoding passes the bound, and slack_sdk's own
    road (a GET) is bounded too. None is retried, and the session serves the next call."""
    async with web_session() as session:
        client = build_client(
            slack_settings(slack, tmp_path, slack_api_url=huge_slack), metrics, 0.01
        )
        client.session = session
        with pytest.raises(AnswerTooLarge, match="declared"):
            await asyncio.wait_for(client.chat_postMessage(channel=CHANNEL, text="hi"), 5)
        with pytest.raises(AnswerTooLarge, match="over"):
            await asyncio.wait_for(client.chat_update(channel=CHANNEL, ts="1.0", text="hi"), 10)
        with pytest.raises(AnswerTooLarge, match="over"):
            await asyncio.wait_for(client.users_info(user="U1"), 10)
        with pytest.raises(AnswerTooLarge, match="over"):
            await asyncio.wait_for(
                client.chat_postEphemeral(channel=CHANNEL, user="U1", text="hi"), 10
            )
        assert _retries(metrics) == 0
        answer = await client.chat_delete(channel=CHANNEL, ts="1.0")
        assert answer["ok"]


async def test_a_dropped_connection_is_tried_again_once_and_counted(
    slack: FakeSlack, tmp_path: Path, metrics: Metrics
) -> None:
    async with FaultProxy(slack.base_url) as proxy, web_session() as session:
        settings = slack_settings(slack, tmp_path, slack_api_url=proxy.url + "/api/")
        client = build_client(settings, metrics, 0.01)
        client.session = session
        proxy.reset_after(0)  # every connection is cut before its answer
        with pytest.raises(aiohttp.ClientError):
            await client.chat_update(channel=CHANNEL, ts="1.0", text="still working")
        assert len([r for r in proxy.requests if r.path == "/api/chat.update"]) == 2
        assert _retries(metrics) == 1


async def test_assistant_status_is_set_refreshed_and_cleared(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    thread = threads(KEY)
    await thread.set_busy("Working on your video...")
    await slack.wait_for(lambda: len(slack.calls("assistant.threads.setStatus")) >= 3)
    await thread.set_busy(None)
    calls = slack.calls("assistant.threads.setStatus")
    assert calls[0].args == {
        "channel_id": CHANNEL,
        "thread_ts": KEY.thread,
        "status": "Working on your video...",
    }
    assert calls[-1].args["status"] == ""
    settled = len(calls)
    await thread.set_busy(None)
    assert len(slack.calls("assistant.threads.setStatus")) == settled


async def test_the_web_api_session_sends_back_no_cookies(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    """Slack's answers set cookies; the one session every call shares keeps none of them."""
    slack.cookie = "b=abc123; Path=/"
    client = threads.client
    # by a host name, as slack.com is (aiohttp keeps no cookies from an IP address anyway)
    client.base_url = client.base_url.replace("127.0.0.1", "localhost")
    for _ in range(3):
        await client.chat_postMessage(channel=CHANNEL, text="hello")
    calls = slack.calls("chat.postMessage")
    assert len(calls) == 3
    assert all("Cookie" not in c.headers and "cookie" not in c.headers for c in calls)


async def test_a_heartbeat_while_the_first_status_is_on_its_way_sends_it_once(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    """The turn sets the status and a heartbeat asks for the same one before Slack answered:
    one call (the second would spend the interval's call budget for nothing)."""
    thread = threads(KEY)
    await asyncio.gather(thread.set_busy("Working..."), thread.set_busy("Working..."))
    assert len(slack.calls("assistant.threads.setStatus")) == 1
    await thread.set_busy(None)
    assert [c.args["status"] for c in slack.calls("assistant.threads.setStatus")] == [
        "Working...",
        "",
    ]


async def test_without_the_scope_status_is_tried_once_per_process(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    slack.status_error = "missing_scope"
    await threads(KEY).set_busy("Working...")
    await threads(KEY).set_busy("Working...")
    other = ThreadKey("slack", TEAM, CHANNEL, "1700000999.000100")
    await threads(other).set_busy("Working...")
    await threads(other).set_busy(None)
    assert len(slack.calls("assistant.threads.setStatus")) == 1
    assert not threads.status_available


async def test_the_video_is_streamed_into_the_thread(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 64 * 1024):
            yield data[start : start + 64 * 1024]

    reply = Reply(ReplyKind.VIDEO, "ready", video_url="https://cdn.example.com/v.mp4")
    await threads(KEY).upload("jupiter-r1.mp4", len(data), chunks(), reply)
    (upload,) = slack.uploads
    assert upload.received == len(data) and upload.content_length_header == str(len(data))
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    (ticket,) = slack.calls("files.getUploadURLExternal")
    assert ticket.args["filename"] == "jupiter-r1.mp4" and ticket.args["length"] == str(len(data))
    (done,) = slack.calls("files.completeUploadExternal")
    assert done.args["channel_id"] == CHANNEL and done.args["thread_ts"] == KEY.thread
    assert upload.completed is not None


async def test_uploads_over_the_limit_are_refused_before_any_call(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"x"

    with pytest.raises(Exception, match="over the Slack upload limit"):
        await threads(KEY).upload("big.mp4", 11 * 1024 * 1024, chunks(), Reply(ReplyKind.VIDEO, ""))
    assert slack.calls() == []


async def test_private_files_are_streamed_with_the_token(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    data = b"\x00\x01" * 100_000
    url = slack.add_file("F0CLIP", "clip.mp4", data)
    got = await _read(threads(KEY).open_attachment(Attachment("clip.mp4", len(data), url)))
    assert got == data
    assert slack.file_requests[0].headers["Authorization"] == f"Bearer {BOT_TOKEN}"


async def test_a_redirect_on_the_same_slack_host_is_followed(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    url = slack.add_file("F0CLIP", "clip.mp4", b"movie")
    slack.file_mode = "redirect_slack"
    got = await _read(threads(KEY).open_attachment(Attachment("clip.mp4", 5, url)))
    assert got == b"movie" and len(slack.file_requests) == 2


async def test_a_redirect_that_would_leak_the_token_is_refused(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    url = slack.add_file("F0CLIP", "clip.mp4", b"movie")
    slack.file_mode = "redirect_other"
    with pytest.raises(AttachmentUnavailable, match="not hosted by Slack") as caught:
        await _read(threads(KEY).open_attachment(Attachment("clip.mp4", 5, url)))
    assert slack.other_requests == []
    assert BOT_TOKEN not in str(caught.value)


async def test_a_file_url_off_slack_is_never_fetched(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    attachment = Attachment("clip.mp4", 5, f"{slack.other_url}/files-pri/x/clip.mp4")
    with pytest.raises(AttachmentUnavailable):
        await _read(threads(KEY).open_attachment(attachment))
    assert slack.other_requests == []


async def test_a_login_page_means_the_app_lacks_files_read(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    url = slack.add_file("F0CLIP", "clip.mp4", b"movie")
    slack.file_mode = "html"
    with pytest.raises(AttachmentUnavailable) as caught:
        await _read(threads(KEY).open_attachment(Attachment("clip.mp4", 5, url)))
    assert caught.value.message == LACKS_FILES_READ


def test_token_hosts() -> None:
    hosts = slack_hosts("http://127.0.0.1:8123/api/")
    assert hosts.allows("https://files.slack.com/files-pri/T-F/x.mp4")
    assert hosts.allows("https://a.slack-edge.com/x")
    assert hosts.allows("http://127.0.0.1:8123/files-pri/x")
    assert not hosts.allows("http://files.slack.com/x")  # the token never travels in clear
    assert not hosts.allows("https://slack.com.evil.example/x")
    assert not hosts.allows("https://evilslack.com/x")
    assert not hosts.allows("http://127.0.0.1:9999/x")
    assert not hosts.allows("ftp://files.slack.com/x")


async def test_a_delivery_is_found_by_its_metadata_only_when_asked_for(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    thread = threads(KEY)
    assert not await thread.find_delivery("render_1")
    await thread.post(Reply(ReplyKind.TEXT, "words"))
    await thread.post(
        Reply(ReplyKind.VIDEO, "done", video_url="https://cdn.example/v.mp4", marker="render_1")
    )
    (posted,) = [c for c in slack.calls("chat.postMessage") if c.args.get("metadata")]
    assert posted.args["metadata"]["event_payload"] == {"render_id": "render_1"}
    assert await thread.find_delivery("render_1")
    assert not await thread.find_delivery("render_2")
    (replies, *_) = slack.calls("conversations.replies")
    assert replies.args["include_all_metadata"] in {"1", "true"}


async def test_the_fake_echoes_metadata_only_with_include_all_metadata(
    slack: FakeSlack, threads: SlackThreads
) -> None:
    await threads(KEY).post(Reply(ReplyKind.VIDEO, "done", marker="render_9"))
    plain = await threads.client.conversations_replies(channel=KEY.channel, ts=KEY.thread)
    assert all("metadata" not in m for m in plain["messages"])
    full = await threads.client.conversations_replies(
        channel=KEY.channel, ts=KEY.thread, include_all_metadata=True
    )
    assert [m["metadata"]["event_type"] for m in full["messages"]] == ["jupiter_delivery"]
