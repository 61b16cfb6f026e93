"""`POST /run_sse`: one agent turn streamed as server-sent events.

What must hold: one turn at a time per session (409 otherwise); credits are frozen while the
turn works and charged only when the tool result goes out; a turn that ends early (the client
hung up, or the `drop_stream_after` fault cut it) refunds them and leaves the draft untouched.

A *lost* stream (`lose_stream_after`) is the other case the real service shows: the connection
is reset mid-frame, without the chunked body's end, but the agent goes on working in the
background and commits its change (the session stays busy until then), so a client that reads
the state afterwards sees what the turn made. Knobs `question_ratio` (see `core.sim.questions`)
and `trailing_issue_ratio` (a stray "I encountered a temporary issue" after the turn's words)
rehearse the rest of what the real agent does.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

from aiohttp import web
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from core.sim import agent, events, questions
from core.sim.accounts import Session, User
from core.sim.state import STATE, TOKEN_ERROR, SimState, fail, read_model

routes = web.RouteTableDef()


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str | None = None


class _Message(BaseModel):
    role: str | None = None
    parts: list[_Part] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_text(self) -> _Message:
        if not self.text:
            raise ValueError("new_message needs a part with text")
        return self

    @property
    def text(self) -> str:
        return "\n".join(part.text for part in self.parts if part.text).strip()


class RunRequest(BaseModel):
    """ADK's RunAgentRequest: snake_case as documented, camelCase as ADK also accepts."""

    app_name: str = Field(validation_alias=AliasChoices("app_name", "appName"))
    user_id: str = Field(validation_alias=AliasChoices("user_id", "userId"))
    session_id: str = Field(validation_alias=AliasChoices("session_id", "sessionId"))
    new_message: _Message = Field(validation_alias=AliasChoices("new_message", "newMessage"))
    streaming: bool = False


TRAILING_ISSUE = "I encountered a temporary issue. Please try again in a moment."


class StreamCut(Exception):
    """The `drop_stream_after` fault fired."""


class StreamLost(Exception):
    """The `lose_stream_after` fault fired: the turn goes on without its client."""


class _Stream:
    """Writes frames, counts events for the cut faults, and sends heartbeats while work runs.
    Once lost, writes go nowhere (the agent works on unheard)."""

    def __init__(
        self,
        response: web.StreamResponse,
        *,
        cut_after: int,
        lose_after: int = 0,
        beats: Iterator[bytes],
    ):
        self._response = response
        self._cut_after = cut_after
        self._lose_after = lose_after
        self._beats = beats
        self._sent = 0
        self.lost = False
        self.unfinished = 0.0  # seconds of work left when the stream was lost mid-work

    async def write(self, raw: bytes) -> None:
        if self.lost:
            return
        if self._lose_after and self._sent >= self._lose_after and events.is_data_frame(raw):
            self.lost = True
            await self._response.write(raw[: max(1, len(raw) // 2)])  # half a frame, then reset
            raise StreamLost
        await self._response.write(raw)
        if events.is_data_frame(raw):
            self._sent += 1
            if self._cut_after and self._sent >= self._cut_after:
                raise StreamCut

    async def work(self, seconds: float, heartbeat: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(heartbeat, left))
            if deadline - loop.time() > 0:
                try:
                    await self.write(next(self._beats))
                except StreamLost:
                    self.unfinished = max(0.0, deadline - loop.time())
                    raise


@routes.post("/run_sse")
async def run_sse(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    token = state.token_for(request)
    if token is None:
        return fail(TOKEN_ERROR, status=401)
    body, problem = await read_model(request, RunRequest)
    if body is None:
        assert problem is not None
        return problem
    session = state.accounts.session(body.session_id, token.user)
    if (
        session is None
        or body.app_name != "nemo_agent"
        or body.user_id not in ("me", token.user.id)
    ):
        return fail({"detail": "Session not found", "code": 1002}, status=404)
    if session.busy:
        return fail(
            {"code": 409, "message": "a turn is already running in this session"}, status=409
        )
    session.busy = True
    lost = False
    try:
        response, lost = await _play(request, state, session, token.user, body.new_message.text)
        return response
    finally:
        if not lost:  # a lost turn's background work frees the session when it is done
            session.busy = False


async def _play(
    request: web.Request, state: SimState, session: Session, user: User, text: str
) -> tuple[web.StreamResponse, bool]:
    """The turn's stream, and whether it was lost (its work then goes on in the background)."""
    faults = state.faults
    session.turns += 1
    rng = state.rng("turn", session.id, session.turns)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    asked = questions.maybe_ask(text, session, state.rng("ask", session.id), faults.question_ratio)
    if asked is not None:
        make = events.EventMaker(state.next_shape(), rng)
        await response.write(events.frame(make.tool_call(questions.ASK_TOOL, asked)))
        return response, False
    turn = agent.plan_turn(
        questions.answered(session, text),
        session,
        rng,
        seconds=faults.turn_seconds,
        no_text_ratio=faults.no_text_ratio,
    )
    make = events.EventMaker(state.next_shape(), rng)  # after the plan: it draws from rng too
    first_beat = rng.randrange(len(events.HEARTBEAT_FRAMES))
    beats = itertools.islice(itertools.cycle(events.HEARTBEAT_FRAMES), first_beat, None)
    stream = _Stream(
        response,
        cut_after=faults.drop_stream_after,
        lose_after=faults.lose_stream_after,
        beats=beats,
    )
    trailing = state.rng("trailing", session.id, session.turns).random() < (
        faults.trailing_issue_ratio
    )
    await _Turn(state, session, user, stream, make).play(request, turn, trailing=trailing)
    return response, stream.lost


class _Turn:
    """One scripted turn played onto a stream, with the credits it holds frozen meanwhile."""

    def __init__(
        self,
        state: SimState,
        session: Session,
        user: User,
        stream: _Stream,
        make: events.EventMaker,
    ) -> None:
        self.state, self.session, self.user = state, session, user
        self.stream, self.make = stream, make
        self.frozen = 0
        self._left: list[agent.Step] = []

    async def play(self, request: web.Request, turn: agent.Turn, *, trailing: bool) -> None:
        user, stream = self.user, self.stream
        try:
            if turn.cost and user.available < turn.cost:
                message = (
                    f"Insufficient credits: this needs {turn.cost} credits and "
                    f"{user.available} are available."
                )
                await stream.write(
                    events.frame(events.error(2001, message, "insufficient credits"))
                )
                return
            user.available -= turn.cost
            user.frozen += turn.cost
            self.frozen = turn.cost
            await self.steps(turn.steps)
            if trailing and any(isinstance(step, agent.Say) for step in turn.steps):
                await stream.write(events.frame(self.make.text(TRAILING_ISSUE)))
        except StreamCut:
            if request.transport is not None:
                request.transport.abort()
        except StreamLost:
            if request.transport is not None:
                request.transport.abort()
            self._go_on_unheard(turn)
        except ConnectionResetError:
            pass  # the client hung up: the turn is cancelled
        finally:
            if not stream.lost:
                self.refund()

    def refund(self) -> None:
        self.user.frozen -= self.frozen
        self.user.available += self.frozen
        self.frozen = 0

    def _go_on_unheard(self, turn: agent.Turn) -> None:
        """The rest of a lost turn runs in the background; the session stays busy until then."""
        task = asyncio.create_task(self._finish(turn))
        self.state.background.add(task)
        task.add_done_callback(self.state.background.discard)

    async def _finish(self, turn: agent.Turn) -> None:
        try:
            await asyncio.sleep(self.stream.unfinished)
            await self.steps(turn.steps, only_left=True)
        finally:
            self.refund()
            self.session.busy = False

    async def steps(self, steps: tuple[agent.Step, ...], *, only_left: bool = False) -> None:
        if not only_left:
            self._left = list(steps)
        faults = self.state.faults
        while self._left:
            step = self._left.pop(0)
            if isinstance(step, agent.Say):
                for chunk in self.make.partials(step.text):
                    await self.stream.write(events.frame(chunk))
                await self.stream.write(events.frame(self.make.text(step.text)))
            elif isinstance(step, agent.Call):
                await self.stream.write(events.frame(self.make.tool_call(step.name, step.args)))
            elif isinstance(step, agent.Work):
                await self.stream.work(step.seconds, faults.heartbeat_seconds)
            else:
                step.commit(self.session)
                self.user.frozen -= self.frozen
                self.frozen = 0
                await self.stream.write(events.frame(self.make.tool_result(step.name, step.result)))
                for extra in self.make.extras():  # ADK's content-less events
                    await self.stream.write(events.frame(extra))


async def stop_background(app: web.Application) -> None:
    """On shutdown: lost turns still working in the background are cancelled."""
    tasks = list(app[STATE].background)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
