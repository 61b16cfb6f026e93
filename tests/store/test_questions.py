"""Open questions, retries and claim tokens, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio

from core.models import Choice
from core.port import ThreadKey
from core.store.base import Question
from tests.store.conftest import Backend

KEY = ThreadKey("slack", "T1", "C1", "1.0")


def question(qid: str, *labels: str) -> Question:
    return Question(qid, KEY, "m1", "Which style?", tuple(Choice(x) for x in labels), True)


async def test_an_answer_is_taken_once_and_a_new_question_closes_the_old(backend: Backend) -> None:
    store = await backend.open()
    await store.put_session(KEY, "s1", "en")
    await store.add_question(question("q1", "Cinematic", "Anime"))
    assert (open_one := await store.open_question(KEY)) is not None
    assert [c.label for c in open_one.options] == ["Cinematic", "Anime"]
    wins = await asyncio.gather(*(store.answer_question("q1", "Anime") for _ in range(5)))
    assert wins.count(True) == 1
    answered = await store.get_question("q1")
    assert answered is not None and answered.answer == "Anime" and answered.answered_at
    await store.add_question(question("q2", "Yes"))
    await store.add_question(question("q3", "No"))
    assert (await store.open_question(KEY)).id == "q3"  # type: ignore[union-attr]
    closed = await store.get_question("q2")
    assert closed is not None and closed.answered_at and closed.answer is None


async def test_a_retry_is_taken_once_and_a_claim_is_kept_with_its_task(backend: Backend) -> None:
    store = await backend.open(secret_key=None)
    await store.put_session(KEY, "s1", "en")
    await store.put_retry(KEY, "a koi pond", "u1")
    taken = await asyncio.gather(*(store.take_retry(KEY) for _ in range(4)))
    assert [t for t in taken if t is not None] == [("a koi pond", "u1")]
    await store.put_session(KEY, "s1", "en", "task_1")
    await store.put_claim(KEY, "clm_abc", 123.0)
    claim = await store.get_claim(KEY)
    assert (claim.session_id, claim.task_id, claim.token, claim.expires_at) == (
        "s1",
        "task_1",
        "clm_abc",
        123.0,
    )
    await store.put_session(KEY, "s2", "en", "task_2")  # a new session: its old claim goes
    claim = await store.get_claim(KEY)
    assert (claim.session_id, claim.task_id, claim.token) == ("s2", "task_2", None)
    await store.put_session(KEY, "s3", "en")  # a session without a task: the old task goes too
    assert (await store.get_claim(KEY)).task_id is None
