"""What a thread is waiting on: the agent's open question (kept so a click on its button still
works after a restart) and the message a lost turn would re-send when "Try again" is clicked.

What must hold: an answer is taken once (`answer_question` is a conditional update, so two
clicks, or a click racing a typed answer, send one next turn); a new question closes the
thread's older ones; a retry is taken once (`take_retry` clears what it returns).
"""

from __future__ import annotations

import json
import time

from core.models import Choice
from core.port import ThreadKey
from core.store.base import (
    KEY_WHERE,
    Claim,
    Question,
    Row,
    SQLTables,
    key_params,
    thread_key_from_row,
)


def question_from_row(row: Row) -> Question:
    try:
        raw = json.loads(row["options"])
    except ValueError:
        raw = []
    options = tuple(
        Choice(str(item.get("label", "")), item.get("id")) for item in raw if isinstance(item, dict)
    )
    return Question(
        id=row["id"],
        key=thread_key_from_row(row),
        message_id=row["message_id"],
        question=row["question"],
        options=options,
        allow_freeform=bool(row["allow_freeform"]),
        language=row["language"],
        answered_at=row["answered_at"],
        answer=row["answer"],
    )


class Questions(SQLTables):
    async def add_question(self, question: Question) -> None:
        """Store the thread's new open question; any older open one is closed unanswered."""
        options = json.dumps([{"label": o.label, "id": o.id} for o in question.options])
        now = time.time()
        async with self._db.transaction() as tx:
            await tx.execute(
                f"UPDATE questions SET answered_at = ? WHERE {KEY_WHERE} AND answered_at IS NULL",
                now,
                *key_params(question.key),
            )
            await tx.execute(
                """INSERT INTO questions (id, platform, tenant, channel, thread, message_id,
                      question, options, allow_freeform, language, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                question.id,
                *key_params(question.key),
                question.message_id,
                question.question,
                options,
                int(question.allow_freeform),
                question.language,
                now,
            )

    async def move_question(self, question_id: str, message_id: str) -> None:
        """The question ended up in another message (its edit was refused and it was posted)."""
        await self._db.execute(
            "UPDATE questions SET message_id = ? WHERE id = ?", message_id, question_id
        )

    async def get_question(self, question_id: str) -> Question | None:
        row = await self._db.fetchrow("SELECT * FROM questions WHERE id = ?", question_id)
        return question_from_row(row) if row is not None else None

    async def open_question(self, key: ThreadKey) -> Question | None:
        """The thread's question still waiting for an answer, if any."""
        row = await self._db.fetchrow(
            f"""SELECT * FROM questions WHERE {KEY_WHERE} AND answered_at IS NULL
                ORDER BY created_at DESC LIMIT 1""",
            *key_params(key),
        )
        return question_from_row(row) if row is not None else None

    async def answer_question(self, question_id: str, answer: str | None) -> bool:
        """Open -> answered, once: only the caller that gets True sends the answer on. `None`
        closes it unanswered (a new video began)."""
        written = await self._db.execute(
            "UPDATE questions SET answered_at = ?, answer = ? WHERE id = ? AND answered_at IS NULL",
            time.time(),
            answer,
            question_id,
        )
        return written == 1

    async def close_questions(self, key: ThreadKey) -> None:
        await self._db.execute(
            f"UPDATE questions SET answered_at = ? WHERE {KEY_WHERE} AND answered_at IS NULL",
            time.time(),
            *key_params(key),
        )

    async def put_retry(self, key: ThreadKey, text: str, user: str) -> None:
        """The message a lost turn would re-send if the user asks (only then: it charges)."""
        await self._db.execute(
            f"UPDATE threads SET retry_text = ?, retry_user = ? WHERE {KEY_WHERE}",
            text,
            user,
            *key_params(key),
        )

    async def take_retry(self, key: ThreadKey) -> tuple[str, str] | None:
        """The stored retry (text, user), cleared in the same statement: a second click finds
        nothing, so a lost message is re-sent at most once per failure."""
        async with self._db.transaction() as tx:
            row = await tx.fetchrow(
                f"SELECT retry_text, retry_user FROM threads WHERE {KEY_WHERE}", *key_params(key)
            )
            if row is None or row["retry_text"] is None:
                return None
            written = await tx.execute(
                f"""UPDATE threads SET retry_text = NULL, retry_user = NULL
                    WHERE {KEY_WHERE} AND retry_text IS NOT NULL""",
                *key_params(key),
            )
            if written != 1:
                return None
            return str(row["retry_text"]), str(row["retry_user"] or "")

    async def put_claim(self, key: ThreadKey, token: str, expires_at: float) -> None:
        """The thread's task detail (claim) token, encrypted like backend tokens."""
        await self._db.execute(
            f"UPDATE threads SET claim_token = ?, claim_expires_at = ? WHERE {KEY_WHERE}",
            self._cipher.encrypt(token),
            expires_at,
            *key_params(key),
        )

    async def get_claim(self, key: ThreadKey) -> Claim:
        """The thread's session, its task and claim token (Nones when unknown)."""
        row = await self._db.fetchrow(
            f"""SELECT session_id, task_id, claim_token, claim_expires_at FROM threads
                WHERE {KEY_WHERE}""",
            *key_params(key),
        )
        if row is None:
            return Claim(None, None, None, 0.0)
        token = self._cipher.decrypt(row["claim_token"]) if row["claim_token"] else None
        expires = float(row["claim_expires_at"] or 0.0)
        return Claim(row["session_id"], row["task_id"], token, expires)
