"""Conversations through the real engine against the local backend, read as transcripts."""

from __future__ import annotations

import asyncio
import io
import logging

import av
import httpx
import pytest

from core.port import Action, Attachment, Incoming, ReplyKind, ThreadKey
from core.sim import LocalBackend
from tests.conftest import RuntimeFactory
from tests.fakes.chat import Chat
from tests.fakes.thread import FakeThread


def key(name: str = "t1") -> ThreadKey:
    return ThreadKey("console", "team", "chan", name)


def said(text: str, **kw: object) -> Incoming:
    return Incoming(text, user="u1", **kw)  # type: ignore[arg-type]


async def test_prompt_edit_status_export_gives_a_real_mp4(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("a 3-second sunset over mountains")
        first = thread.log[0]
        assert first.op == "post" and first.text == "Connecting..."
        final = thread.log[-1]
        assert final.op == "update" and final.message_id == first.message_id
        assert final.reply is not None and final.reply.kind is ReplyKind.TEXT
        assert "Timeline (3 tracks)" in final.text and "sunset over mountains" in final.text
        assert set(final.reply.buttons) == {Action.EXPORT, Action.STATUS, Action.CREDITS}

        await Chat(rt.engine, thread).say("status")
        assert thread.log[-1].text.startswith(
            "Timeline (3 tracks): 1. Video: sunset over mountains (0-3s)"
        )

        await Chat(rt.engine, thread).say("export")
        videos = [
            s
            for s in thread.log
            if s.op == "post" and s.reply is not None and s.reply.kind is ReplyKind.VIDEO
        ]
        assert len(videos) == 1 and videos[0].reply is not None
        url = videos[0].reply.video_url
        assert url and url.startswith(sim.base_url)
        uploads = [s for s in thread.log if s.op == "upload"]
        assert len(uploads) == 1
        with av.open(io.BytesIO(uploads[0].data)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert container.duration is not None
            assert abs(container.duration / 1_000_000 - 3.0) < 0.3


async def test_heartbeats_edit_the_status_message_while_a_turn_runs(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"turn_seconds": 0.8})
    async with runtime(heartbeat_seconds=0.1) as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("a city timelapse")
        status_id = thread.log[0].message_id
        beats = [s for s in thread.log if s.op == "update" and "Still working" in s.text]
        assert len(beats) >= 3
        assert all(b.message_id == status_id for b in beats)
        assert thread.busy[0] and thread.busy[-1] is None


async def test_an_interval_in_which_the_thread_moved_has_no_heartbeat(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    """The agent's words posted, or a new stage shown, are the interval's sign of life: the
    heartbeat due at its end is skipped, so a turn costs one chat call per interval at most."""
    interval = 0.2
    sim.set_faults({"turn_seconds": 1.6, "no_text_ratio": 0.0})
    async with runtime(heartbeat_seconds=interval) as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("a city timelapse")
        beats = [s.at for s in thread.log if s.op == "update" and "Still working" in s.text]
        moves = [
            s.at
            for s in thread.log
            if (s.op == "post" and s.reply is not None and s.reply.kind is ReplyKind.TEXT)
            or (s.op == "update" and "adding music" in s.text)
        ]
        assert beats and moves, thread.transcript()
        for moved in moves:  # the next beat comes at least half an interval later
            assert not [b for b in beats if moved < b < moved + interval * 0.45], (moved, beats)
        # between the first post and the answer: at most one chat call per whole interval
        first, answer = thread.log[0].at, thread.log[-1].at
        between = [s for s in thread.log[1:-1] if s.op in ("post", "update")]
        assert len(between) <= int((answer - first) / interval), thread.transcript()


async def test_a_slow_edit_still_spends_its_intervals_call(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    """Edits that take most of an interval to be answered (a busy chat API): a stage on its
    way already counts, so a heartbeat due meanwhile does not add a second call to the
    interval. Between the first post and the answer: at most one call per whole interval."""
    interval = 0.2
    sim.set_faults({"turn_seconds": 2.4, "no_text_ratio": 0.0, "credits": 10_000})
    async with runtime(heartbeat_seconds=interval) as rt:
        for n in range(3):
            thread = FakeThread(key(f"slow{n}"), update_seconds=interval * 0.9)
            await Chat(rt.engine, thread).say("a city timelapse")
            assert any("adding music" in s.text for s in thread.log), thread.transcript()
            first, answer = thread.log[0].at, thread.log[-1].at
            between = [s for s in thread.log[1:-1] if s.op in ("post", "update")]
            assert len(between) <= int((answer - first) / interval), thread.transcript()


async def test_chinese_keywords_answer_in_chinese(runtime: RuntimeFactory) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("积分")
        assert "积分：可用 100，冻结 0，总计 100。" in thread.log[-1].text
        await Chat(rt.engine, thread).say("导出")
        assert "还没有可以导出的内容" in thread.log[-1].text
        await Chat(rt.engine, thread).say("状态")
        assert thread.log[-1].text.startswith("Timeline (0 tracks)")


async def test_no_text_turn_summarises_what_changed(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        sim.set_faults({"credits": 1000})
        await Chat(rt.engine, thread).say("a 10-second beach at dawn")
        sim.set_faults({"no_text_ratio": 1.0})
        await Chat(rt.engine, thread).say("add lo-fi music at 35%")
        final = thread.log[-1]
        assert final.reply is not None and final.reply.kind is ReplyKind.TIMELINE
        assert "what changed" in final.text
        assert "35%" in final.text
        assert "Timeline (3 tracks)" in final.text


async def test_messages_during_a_turn_are_queued_and_run_in_order(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"turn_seconds": 0.5, "credits": 1000})
    async with runtime() as rt:
        thread = FakeThread(key())
        await rt.engine.handle(thread, said("a forest in autumn"))
        await rt.engine.handle(thread, said("make it 5 seconds"))
        await Chat(rt.engine, thread).say("make it vertical", wait=30)
        transcript = thread.transcript()
        # One acknowledgement per burst, kept current, instead of one post per message
        assert transcript.count("I'll start on this as soon as the current step finishes") == 1
        notices = [s for s in thread.log if "📥" in s.text]
        assert [s.op for s in notices] == ["post", "update"]
        assert "2 messages are waiting" in notices[-1].text
        connecting = thread.count(lambda s: s.text == "Connecting...")
        assert connecting == 3
        runs = [entry for entry in await sim_log(sim) if entry["path"] == "/run_sse"]
        assert len(runs) == 3  # each message sent exactly once
        sent = [entry["json"]["new_message"]["parts"][0]["text"] for entry in runs]
        assert sent == ["a forest in autumn", "make it 5 seconds", "make it vertical"]
        assert "ERROR" not in transcript and "⚠️" not in transcript


async def sim_log(sim: LocalBackend) -> list[dict[str, object]]:
    async with httpx.AsyncClient() as http:
        response = await http.get(sim.base_url + "/_sim/log", timeout=5)
    data = response.json()
    return data if isinstance(data, list) else data.get("requests", [])  # type: ignore[no-any-return]


async def test_duplicate_delivery_is_handled_once(
    runtime: RuntimeFactory, sim: LocalBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every log line on these paths must be emittable
    async with runtime() as rt:
        thread = FakeThread(key())
        await rt.engine.handle(thread, said("a red balloon", event_id="Ev1"))
        await Chat(rt.engine, thread).say("a red balloon", event_id="Ev1")
        assert thread.count(lambda s: s.text == "Connecting...") == 1
        assert len([e for e in await sim_log(sim) if e["path"] == "/run_sse"]) == 1


async def test_expired_token_is_renewed_transparently(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("credits")
        sim.set_faults({"expire_tokens": True})
        await Chat(rt.engine, thread).say("a snowy cabin")
        assert "⚠️" not in thread.transcript()
        assert "Timeline (3 tracks)" in thread.log[-1].text
        tokens = [e for e in await sim_log(sim) if e["path"] == "/api/auth/anonymous-token"]
        assert len(tokens) == 2
        client_ids = {
            str(e["headers"].get("X-Client-Id") or e["headers"].get("x-client-id")) for e in tokens
        }  # type: ignore[union-attr]
        assert len(client_ids) == 1


async def test_lost_session_restarts_the_timeline_and_answers(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 1000})
    async with runtime() as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("a lighthouse at night")
        sim.set_faults({"drop_sessions": True})
        await Chat(rt.engine, thread).say("a desert road trip")
        transcript = thread.transcript()
        assert "started a fresh timeline" in transcript
        assert "Timeline (3 tracks)" in thread.log[-1].text


async def test_out_of_credits_links_registration_with_the_anonymous_user(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 0})
    async with runtime() as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("a waterfall in iceland")
        error = thread.log[-1]
        assert error.reply is not None and error.reply.kind is ReplyKind.ERROR
        assert "https://nemovideo.com/register?bind=anon_" in error.text
        sim.set_faults({"credits": 1000})
        await Chat(rt.engine, thread).say("a waterfall in iceland")
        assert "Timeline (3 tracks)" in thread.log[-1].text  # the thread stays usable


async def test_rate_limit_is_retried_once_then_explained(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        sim.set_faults({"rate_limit_next": 1})
        await Chat(rt.engine, thread).say("credits")
        assert "100 available" in thread.log[-1].text
        sim.set_faults({"rate_limit_next": 10})
        await Chat(rt.engine, thread).say("credits")
        assert "rate-limiting" in thread.log[-1].text


async def test_backend_down_gives_a_clear_message(tmp_path: object) -> None:
    from pathlib import Path

    from core.runtime import Runtime
    from tests.conftest import fast_settings

    async with Runtime.open(
        fast_settings(Path(str(tmp_path))), base_url="http://127.0.0.1:9"
    ) as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("a mountain lake")
        assert "can't reach the video service" in thread.log[-1].text


async def test_uploads_stream_and_report_kind_then_run_the_text(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 1000})
    clip = _tiny_mp4()
    async with runtime() as rt:
        thread = FakeThread(key(), files={"src-1": clip})
        files = (
            Attachment("clip.mp4", len(clip), "src-1", "video/mp4"),
            Attachment("notes.exe", 10, "src-2"),
            Attachment("huge.mov", 600 * 1024 * 1024, "src-3"),
        )
        await Chat(rt.engine, thread).say("use this as the intro", attachments=files)
        transcript = thread.transcript()
        assert "Accepted types: mp4" in transcript  # notes.exe refused before download
        assert "500 MB" in transcript  # huge.mov refused before download
        assert "clip.mp4: video" in transcript
        assert "Connecting..." in transcript  # the text ran as a turn after the upload
        uploads = [e for e in await sim_log(sim) if str(e["path"]).startswith("/api/upload-video/")]
        assert len(uploads) == 1


async def test_stop_cancels_the_running_turn(runtime: RuntimeFactory, sim: LocalBackend) -> None:
    sim.set_faults({"turn_seconds": 5})
    async with runtime() as rt:
        thread = FakeThread(key())
        await rt.engine.handle(thread, said("a long epic"))
        await thread.wait_text("Connecting...")
        await Chat(rt.engine, thread).say("stop", wait=10)
        assert "🛑 Stopped." in thread.transcript()
        assert not thread.busy or thread.busy[-1] is None


async def test_export_of_an_empty_timeline_is_refused_kindly(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        await rt.engine.handle(thread, Incoming("", action=Action.EXPORT))
        await rt.engine.idle(20)
        assert "nothing to export yet" in thread.log[-1].text
        assert not [e for e in await sim_log(sim) if str(e["path"]).startswith("/api/render")]


async def test_render_failure_is_reported(runtime: RuntimeFactory, sim: LocalBackend) -> None:
    async with runtime() as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("a tiny clip")
        sim.set_faults({"render_fail": True})
        await Chat(rt.engine, thread).say("export")
        assert "render failed" in thread.log[-1].text.lower()


def _tiny_mp4() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for _ in range(20):
            frame = av.VideoFrame(64, 64, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


async def test_gui_talk_becomes_actions_and_never_loops(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 1000})
    async with runtime() as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("a 2-second clip of a cat")
        await Chat(rt.engine, thread).say("preview it please, I want to watch")
        assert (
            "Here's your timeline:" in thread.transcript()
            or "Timeline (3 tracks)" in thread.log[-1].text
        )
        await Chat(rt.engine, thread).say("can the title come in later, move it")
        transcript = thread.transcript()
        assert "drag" not in transcript.lower() and "click" not in transcript.lower()
        assert "Applying for you" in transcript
        runs = [e for e in await sim_log(sim) if e["path"] == "/run_sse"]
        assert len(runs) <= 4  # prompt, preview, the request, at most one follow-up: no loop


async def test_export_of_an_unchanged_timeline_reposts_the_link(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 1000, "no_text_ratio": 0.0})
    async with runtime() as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("a 2-second clip of rain")
        await Chat(rt.engine, thread).say("export")
        await Chat(rt.engine, thread).say("export")
        assert "Nothing changed since the last export" in thread.log[-1].text
        starts = [
            e
            for e in await sim_log(sim)
            if e["method"] == "POST" and e["path"] == "/api/render/proxy/lambda"
        ]
        assert len(starts) == 1
        await Chat(rt.engine, thread).say("make it 3 seconds")
        await Chat(rt.engine, thread).say("export")
        starts = [
            e
            for e in await sim_log(sim)
            if e["method"] == "POST" and e["path"] == "/api/render/proxy/lambda"
        ]
        assert len(starts) == 2  # the timeline changed: a new render


async def test_the_agents_first_words_show_while_the_work_goes_on(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"turn_seconds": 2.0, "heartbeat_seconds": 0.05})
    async with runtime(heartbeat_seconds=0.2) as rt:
        thread = FakeThread(key())
        await rt.engine.handle(thread, said("a 3-second clip of a harbour"))
        first_words = await thread.wait_for(
            lambda s: s.op == "post" and s.reply is not None and s.reply.kind is ReplyKind.TEXT
        )
        assert not any(
            s.op == "update" and s.reply is not None and s.reply.buttons for s in thread.log
        )  # still working
        await rt.engine.idle(20)
        final = thread.log[-1]
        assert final.op == "update" and final.reply is not None and final.reply.buttons
        assert final.at - first_words.at > 1.0  # the words came well before the answer


async def test_turns_starting_together_share_one_balance_read(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    """Twelve new videos in one workspace at once: one balance read lets them all through (the
    backend is asked once, not twelve times), and each is answered."""
    sim.set_faults({"turn_seconds": 0.3, "credits": 10_000})
    async with runtime() as rt:
        await Chat(rt.engine, FakeThread(key("warm"))).say("credits")  # the token, fetched once
        threads = [FakeThread(key(f"t{i}")) for i in range(12)]
        await asyncio.gather(
            *(
                Chat(rt.engine, thread, user=f"u{i}").say(f"a {i}-second sunrise", wait=30)
                for i, thread in enumerate(threads)
            )
        )
        assert all("Timeline (3 tracks)" in thread.log[-1].text for thread in threads)
        log = await sim_log(sim)
        reads = [e for e in log if e["path"] == "/api/credits/balance/simple"]
        assert len(reads) == 2  # the `credits` command's own, and the turns' one
        assert len([e for e in log if e["path"] == "/run_sse"]) == 12


async def test_a_refusal_for_credits_reads_the_balance_again(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    """A refusal is never based on a shared read older than the turn: with credits added
    since one refused a video, the next new video (seconds later) reads the balance again
    and is made."""
    sim.set_faults({"credits": 40})
    async with runtime() as rt:
        first, second = FakeThread(key("first")), FakeThread(key("second"))
        await Chat(rt.engine, first).say("a 3-second sunrise")
        refusal = first.log[-1]
        assert refusal.reply is not None and refusal.reply.kind is ReplyKind.ERROR
        assert "40" in refusal.text
        sim.set_faults({"credits": 1000})  # within the shared read's few seconds
        await Chat(rt.engine, second).say("a 3-second sunset")
        assert "Timeline (3 tracks)" in second.log[-1].text
        reads = [e for e in await sim_log(sim) if e["path"] == "/api/credits/balance/simple"]
        assert len(reads) == 2  # the refusal's, and the second turn's own (not the shared one)
