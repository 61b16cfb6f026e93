"""`POST /run_sse`: one agent turn streamed as server-sent events.

What must hold: one turn at a time per session (409 otherwise); credits are frozen while the
turn works and charged only when the tool result goes out; a turn that ends early (the client
hung up, or the `drop_stream_after` fault cut it) refunds them and leaves the draft untouched.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

from aiohttp import web
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from core.sim import agent, events
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


class StreamCut(Exception):
    """The `drop_stream_after` fault fired."""


class _Stream:
    """Writes frames, counts events for the cut fault, and sends heartbeats while work runs."""

    def __init__(self, response: web.StreamResponse, *, cut_after: int, beats: Iterator[bytes]):
        self._response = response
        self._cut_after = cut_after
        self._beats = beats
        self._sent = 0

    async def write(self, raw: bytes) -> None:
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
                await self.write(next(self._beats))


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
    try:
        return await _play(request, state, session, token.user, body.new_message.text)
    finally:
        session.busy = False


async def _play(
    request: web.Request, state: SimState, session: Session, user: User, text: str
) -> web.StreamResponse:
    faults = state.faults
    session.turns += 1
    rng = state.rng("turn", session.id, session.turns)
    turn = agent.plan_turn(
        text, session, rng, seconds=faults.turn_seconds, no_text_ratio=faults.no_text_ratio
    )
    make = events.EventMaker(state.next_shape(), rng)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    first_beat = rng.randrange(len(events.HEARTBEAT_FRAMES))
    beats = itertools.islice(itertools.cycle(events.HEARTBEAT_FRAMES), first_beat, None)
    stream = _Stream(response, cut_after=faults.drop_stream_after, beats=beats)
    frozen = 0
    try:
        if turn.cost and user.available < turn.cost:
            message = (
                f"Insufficient credits: this needs {turn.cost} credits and "
                f"{user.available} are available."
            )
            await stream.write(events.frame(events.error(2001, message, "insufficient credits")))
            return response
        user.available -= turn.cost
        user.frozen += turn.cost
        frozen = turn.cost
        for step in turn.steps:
            if isinstance(step, agent.Say):
                await stream.write(events.frame(make.text(step.text)))
            elif isinstance(step, agent.Call):
                await stream.write(events.frame(make.tool_call(step.name, step.args)))
            elif isinstance(step, agent.Work):
                await stream.work(step.seconds, faults.heartbeat_seconds)
            else:
                step.commit(session)
                user.frozen -= frozen
                frozen = 0
                await stream.write(events.frame(make.tool_result(step.name, step.result)))
    except StreamCut:
        if request.transport is not None:
            request.transport.abort()
    except ConnectionResetError:
        pass  # the client hung up: the turn is cancelled
    finally:
        user.frozen -= frozen
        user.available += frozen
    return response
