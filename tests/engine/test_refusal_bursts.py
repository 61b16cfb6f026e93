"""Refusals by the daily budget come in bursts like the queue cap's: the first refused turn of a
burst posts the full reply (what it would cost, what is left), later ones add no message but
are counted on that one (none unanswered); a budget with room again ends the burst, so the next
refusal is posted afresh."""

from __future__ import annotations

import time

from core.engine.limits import Spending
from core.port import Incoming, ThreadKey
from core.runtime import Runtime
from core.sim import LocalBackend
from tests.conftest import RuntimeFactory
from tests.engine.test_workflow import sent_turns
from tests.fakes.chat import Chat
from tests.fakes.thread import FakeThread, Said

LIMIT = "JUPITER_USER_DAILY_CREDITS"


def key(name: str = "t1") -> ThreadKey:
    return ThreadKey("console", "team", "chan", name)


def spending(rt: Runtime) -> Spending:
    return rt.engine.intake.agent.spending


def refusals(thread: FakeThread) -> list[Said]:
    return [s for s in thread.log if LIMIT in s.text]


def posted(thread: FakeThread) -> list[Said]:
    """The refusal messages the user sees (each post is one; updates edit one in place)."""
    return [s for s in refusals(thread) if s.op == "post"]


async def burst(rt: Runtime, thread: FakeThread, *texts: str) -> None:
    """Messages sent at once (queued behind each other), then everything they started done."""
    for text in texts:
        await rt.engine.handle(thread, Incoming(text, user="u1"))
    await rt.engine.idle(20)


async def test_a_burst_of_budget_refusals_is_one_message_that_counts_them(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000})
    async with runtime(user_daily_credits=120) as rt:
        thread = FakeThread(key())
        chat = Chat(rt.engine, thread)
        await chat.say("a 3-second waterfall")  # a new video: about 100 of 120
        seen = len(thread.log)

        await burst(rt, thread, "make it 5 seconds", "add rain sounds", "make the title red")

        (first,) = posted(thread)
        assert "about 50 credits and your daily budget has 20 left" in first.text
        assert "refused for this so far" not in first.text  # the first: the full reply alone
        edits = [s for s in refusals(thread) if s.op == "update"]
        assert edits and {s.message_id for s in edits} == {first.message_id}
        assert edits[-1].text.startswith(first.text)
        assert edits[-1].text.endswith(
            "3 messages refused for this so far; none was sent or charged."
        )
        later = [s for s in thread.log[seen:] if s.op == "post" and not s.text.startswith("📥")]
        assert later == [first]  # no "Connecting...", no second refusal (queued notices aside)
        assert await sent_turns(sim) == ["a 3-second waterfall"]
        assert await rt.store.queued_count(thread.key) == 0  # each refused turn is done with


async def test_chinese_refusals_count_in_chinese(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000})
    async with runtime(user_daily_credits=120) as rt:
        thread = FakeThread(key())
        await Chat(rt.engine, thread).say("a 3-second waterfall")
        await burst(rt, thread, "把标题改成红色", "把音乐调小")
        (first,) = posted(thread)
        assert first.text.startswith("⚠️ 这一步大约需要 50 积分，你今天的预算只剩 20")
        assert refusals(thread)[-1].text.endswith(
            "到目前为止已因此拒绝 2 条消息，都没有发送，也没有扣费。"
        )


async def test_a_raised_budget_ends_the_burst_and_the_next_refusal_speaks_again(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000})
    async with runtime(user_daily_credits=120) as rt:
        thread = FakeThread(key())
        chat = Chat(rt.engine, thread)
        await chat.say("a 3-second waterfall")  # 100 of 120
        await burst(rt, thread, "make it 5 seconds", "make it 6 seconds")
        assert len(posted(thread)) == 1

        spending(rt).daily_budget = 170  # raised: one more edit fits
        await chat.say("make it 7 seconds")  # 150 of 170: sent
        assert (await sent_turns(sim))[-1] == "make it 7 seconds"
        await chat.say("make it 8 seconds")  # past it again: a new burst, its own message

        first, second = posted(thread)
        assert second.message_id != first.message_id
        assert "your daily budget has 20 left (JUPITER_USER_DAILY_CREDITS: 170 a day)" in (
            second.text
        )
        assert "refused for this so far" not in second.text
        assert "2 messages refused for this so far" in refusals(thread)[-2].text  # the old one
        assert len(await sent_turns(sim)) == 2


async def test_a_new_day_ends_the_burst_and_the_next_refusal_speaks_again(
    runtime: RuntimeFactory, sim: LocalBackend
) -> None:
    sim.set_faults({"credits": 10_000})
    async with runtime(user_daily_credits=120) as rt:
        thread = FakeThread(key())
        chat = Chat(rt.engine, thread)
        await chat.say("a 3-second waterfall")  # 100 of 120 today
        await chat.say("make it 5 seconds")
        assert len(posted(thread)) == 1

        spending(rt).clock = lambda: time.time() + 86_400  # midnight UTC has passed
        await chat.say("credits")
        assert "Today you've spent about 0 of your 120 daily credits." in chat.last.text
        await chat.say("make it 6 seconds")  # 50 of 120 tomorrow: sent
        await chat.say("make it 7 seconds")  # 100 of 120
        await chat.say("make it 8 seconds")  # past it: a new burst, its own message

        assert len(posted(thread)) == 2
        assert "has 20 left" in posted(thread)[1].text
        assert await sent_turns(sim) == [
            "a 3-second waterfall",
            "make it 6 seconds",
            "make it 7 seconds",
        ]
