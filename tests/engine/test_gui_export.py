"""An export the agent's words asked for ("click the Export button") is said out loud, and the
user's own `export` right after it gets that one video, never a second render."""

from __future__ import annotations

from core.messages import Msg, say
from core.port import Incoming, ReplyKind, ThreadKey
from tests.conftest import RuntimeFactory
from tests.fakes.chat import Chat
from tests.fakes.thread import FakeThread

KEY = ThreadKey("console", "team", "chan", "gui-export")


def _videos(thread: FakeThread) -> list[str]:
    return [
        s.reply.video_url or ""
        for s in thread.log
        if s.op == "post" and s.reply is not None and s.reply.kind is ReplyKind.VIDEO
    ]


async def test_the_agents_export_is_announced_and_the_users_export_gets_the_same_video(
    runtime: RuntimeFactory,
) -> None:
    async with runtime(render_poll_seconds=0.05) as rt:
        thread = FakeThread(KEY)
        chat = Chat(rt.engine, thread)
        await chat.say("a 3-second sunset over mountains")
        seen = len(thread.log)
        # a question the agent answers with GUI talk only: "Click the Export button ..."
        await rt.engine.handle(
            thread, Incoming("where can I save the finished video afterwards?", user="u1")
        )
        await rt.engine.handle(thread, Incoming("export", user="u1"))  # while it renders
        await rt.engine.idle(20)
        texts = [s.text for s in thread.log[seen:]]
        assert any(text.startswith(say(Msg.GUI_EXPORT)) for text in texts), texts
        running = say(Msg.RENDER_RUNNING, progress=0).split("(")[0]
        assert any(text.startswith(running) for text in texts), texts
        assert len([s for s in thread.log if s.op == "upload"]) == 1

        await chat.say("export")  # after it: the same video, not a second render
        videos = _videos(thread)
        assert len(set(videos)) == 1 and len(videos) == 2
        assert thread.log[-1].text == say(Msg.RENDER_AGAIN, url=videos[0])


def test_an_export_after_the_agents_words_is_announced_on_its_own() -> None:
    from core.engine.reply import TurnOutcome, announces_export
    from core.gui import GuiAction

    gui = frozenset({GuiAction.EXPORT})
    assert announces_export(TurnOutcome("en", None, False, gui, "Timeline (1 track)"))
    # the agent also spoke: its words close the turn, the export needs its own notice
    assert not announces_export(TurnOutcome("en", "Done!", True, gui, "Timeline (1 track)"))
    assert not announces_export(TurnOutcome("en", None, True, gui, "Timeline (1 track)"))
